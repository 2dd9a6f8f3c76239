-- The last access token obtained for a credential, sealed under the credential's data key,
-- and the lease that lets one replica at a time log in for a new one.
CREATE TABLE credential_tokens (
    credential_id       UUID PRIMARY KEY REFERENCES credentials (id) ON DELETE CASCADE,
    token_ct            BYTEA NULL,
    nonce               BYTEA NULL,
    token_type          TEXT NULL,
    expires_at          TIMESTAMPTZ NULL,
    obtained_at         TIMESTAMPTZ NULL,
    credential_version  BIGINT NOT NULL,
    lease_owner         TEXT NULL,
    lease_until         TIMESTAMPTZ NULL
);

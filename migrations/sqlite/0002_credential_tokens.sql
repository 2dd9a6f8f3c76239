-- The last access token obtained for a credential, sealed under the credential's data key,
-- and the lease that lets one replica at a time log in for a new one.
CREATE TABLE credential_tokens (
    credential_id       BLOB PRIMARY KEY NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    token_ct            BLOB NULL,
    nonce               BLOB NULL,
    token_type          TEXT NULL,
    expires_at          TEXT NULL,
    obtained_at         TEXT NULL,
    credential_version  INTEGER NOT NULL,
    lease_owner         TEXT NULL,
    lease_until         TEXT NULL
);

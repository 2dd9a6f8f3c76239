-- OAuth credentials: how each credential was made, the refresh token beside the access token
-- it came with (written by the same statement, under the same lease), and connect sessions:
-- a person's pending trip through an upstream's consent screen.
ALTER TABLE credentials ADD COLUMN auth_method TEXT NOT NULL DEFAULT 'client_credentials';

ALTER TABLE credential_tokens ADD COLUMN refresh_ct BYTEA NULL;
ALTER TABLE credential_tokens ADD COLUMN refresh_nonce BYTEA NULL;

CREATE TABLE connect_sessions (
    id              UUID PRIMARY KEY,
    org_id          UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    connector       TEXT NOT NULL,
    auth_method     TEXT NOT NULL,
    name            TEXT NOT NULL,
    description     TEXT NULL,
    config          JSONB NOT NULL,
    return_to       TEXT NULL,
    -- SHA-256 of the `state` sent to the browser: the state itself is never stored.
    state_hash      BYTEA NOT NULL UNIQUE,
    -- The PKCE code verifier, sealed under the session's own data key.
    verifier_ct     BYTEA NOT NULL,
    verifier_nonce  BYTEA NOT NULL,
    wrapped_dek     BYTEA NOT NULL,
    kek_id          TEXT NOT NULL,
    -- A reconnect's credential; for a new credential, the one saved on completion.
    credential_id   UUID NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'completed', 'failed')),
    error           TEXT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ NULL
);
CREATE INDEX connect_sessions_by_org ON connect_sessions (org_id, id);

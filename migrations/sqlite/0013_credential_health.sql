-- no-transaction
-- Credential health. Transient trouble (an upstream that cannot be reached or errs) is one
-- status, `degraded`, reached after several failures in a row and left by the next success;
-- the stored `unreachable` and `error` become it. A status change from a check or a token
-- request is not an edit: it is kept in the new columns and in the history below, and leaves
-- `version` alone. SQLite cannot change a CHECK constraint in place, so `credentials` is
-- rebuilt by SQLite's documented procedure, as in 0007 (foreign keys off, so that dropping the
-- old table neither cascades to nor is refused by the tables that refer to it by name).
PRAGMA foreign_keys = OFF;

BEGIN;

CREATE TABLE credentials_rebuilt (
    id             BLOB PRIMARY KEY NOT NULL,
    org_id         BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    connector      TEXT NOT NULL,
    name           TEXT NOT NULL,
    description    TEXT NULL,
    config         TEXT NOT NULL,
    secret_ct      BLOB NOT NULL,
    secret_nonce   BLOB NOT NULL,
    wrapped_dek    BLOB NOT NULL,
    kek_id         TEXT NOT NULL,
    status         TEXT NOT NULL
        CHECK (status IN ('unverified', 'valid', 'invalid', 'degraded',
                          'reauthorization_required')),
    status_detail  TEXT NULL,
    identity       TEXT NULL,
    validated_at   TEXT NULL,
    version        INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    auth_method    TEXT NOT NULL DEFAULT 'client_credentials',
    oauth_app_id   BLOB NULL REFERENCES oauth_apps (id) ON DELETE RESTRICT,
    name_key       TEXT NULL,
    -- Since when the credential has had its status (for rows from before: their last test
    -- login, else their last edit).
    status_since   TEXT NOT NULL,
    -- Checks and token logins that failed since the last success, and why the last one did.
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_failure   TEXT NULL,
    -- When an upstream last handed out a token for it.
    last_token_at  TEXT NULL,
    CONSTRAINT credentials_org_name_unique UNIQUE (org_id, name)
);

INSERT INTO credentials_rebuilt
    (id, org_id, connector, name, description, config, secret_ct, secret_nonce, wrapped_dek,
     kek_id, status, status_detail, identity, validated_at, version, created_at, updated_at,
     auth_method, oauth_app_id, name_key, status_since)
SELECT id, org_id, connector, name, description, config, secret_ct, secret_nonce, wrapped_dek,
       kek_id,
       CASE WHEN status IN ('unreachable', 'error') THEN 'degraded' ELSE status END,
       status_detail, identity, validated_at, version, created_at, updated_at,
       auth_method, oauth_app_id, name_key, COALESCE(validated_at, updated_at)
FROM credentials;

DROP TABLE credentials;
ALTER TABLE credentials_rebuilt RENAME TO credentials;
CREATE INDEX credentials_by_org ON credentials (org_id, id);
CREATE INDEX credentials_by_kek ON credentials (kek_id, id);
CREATE INDEX credentials_by_oauth_app ON credentials (oauth_app_id);
CREATE INDEX credentials_by_name_key ON credentials (org_id, name_key);

-- Every status change: from what (NULL when the credential was made), to what, why, and what
-- measured it (`created`, `edited`, `reconnected`, `validated`, `checked`, `token`).
CREATE TABLE credential_health_changes (
    id             BLOB PRIMARY KEY NOT NULL,
    org_id         BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    credential_id  BLOB NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    from_status    TEXT NULL,
    to_status      TEXT NOT NULL,
    detail         TEXT NULL,
    cause          TEXT NOT NULL,
    at             TEXT NOT NULL
);
CREATE INDEX credential_health_changes_by_credential
    ON credential_health_changes (credential_id, id);

COMMIT;

PRAGMA foreign_keys = ON;

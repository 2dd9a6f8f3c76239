-- no-transaction
-- A credential whose OAuth grant the upstream no longer accepts waits for a person to connect
-- it again: status `reauthorization_required`. SQLite cannot change a CHECK constraint in
-- place, so the table is rebuilt by SQLite's documented procedure, with foreign keys off so
-- that dropping the old table neither cascades to nor is refused by the tables that refer to
-- it (they refer to it by name, and find the rebuilt table under that name).
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
        CHECK (status IN ('unverified', 'valid', 'invalid', 'unreachable', 'error',
                          'reauthorization_required')),
    status_detail  TEXT NULL,
    identity       TEXT NULL,
    validated_at   TEXT NULL,
    version        INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    auth_method    TEXT NOT NULL DEFAULT 'client_credentials',
    CONSTRAINT credentials_org_name_unique UNIQUE (org_id, name)
);

INSERT INTO credentials_rebuilt
    (id, org_id, connector, name, description, config, secret_ct, secret_nonce, wrapped_dek,
     kek_id, status, status_detail, identity, validated_at, version, created_at, updated_at,
     auth_method)
SELECT id, org_id, connector, name, description, config, secret_ct, secret_nonce, wrapped_dek,
       kek_id, status, status_detail, identity, validated_at, version, created_at, updated_at,
       auth_method
FROM credentials;

DROP TABLE credentials;
ALTER TABLE credentials_rebuilt RENAME TO credentials;
CREATE INDEX credentials_by_org ON credentials (org_id, id);
CREATE INDEX credentials_by_kek ON credentials (kek_id, id);

COMMIT;

PRAGMA foreign_keys = ON;

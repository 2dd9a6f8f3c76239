-- Data sources and destinations, each using one saved credential. A credential in use
-- cannot be deleted (RESTRICT); re-pointing a source is how a credential is replaced.
CREATE TABLE data_sources (
    id             BLOB PRIMARY KEY NOT NULL,
    org_id         BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind           TEXT NOT NULL CHECK (kind IN ('source', 'destination')),
    name           TEXT NOT NULL,
    description    TEXT NULL,
    connector      TEXT NOT NULL,
    credential_id  BLOB NOT NULL REFERENCES credentials (id) ON DELETE RESTRICT,
    config         TEXT NOT NULL,
    version        INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    CONSTRAINT data_sources_org_kind_name_unique UNIQUE (org_id, kind, name)
);
CREATE INDEX data_sources_by_org ON data_sources (org_id, kind, id);
CREATE INDEX data_sources_by_credential ON data_sources (credential_id);
CREATE INDEX api_keys_by_data_source ON api_keys (data_source_id);

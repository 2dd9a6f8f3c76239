-- Data sources and destinations, each using one saved credential. A credential in use
-- cannot be deleted (RESTRICT); re-pointing a source is how a credential is replaced.
CREATE TABLE data_sources (
    id             UUID PRIMARY KEY,
    org_id         UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind           TEXT NOT NULL CHECK (kind IN ('source', 'destination')),
    name           TEXT NOT NULL,
    description    TEXT NULL,
    connector      TEXT NOT NULL,
    credential_id  UUID NOT NULL REFERENCES credentials (id) ON DELETE RESTRICT,
    config         JSONB NOT NULL,
    version        BIGINT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    CONSTRAINT data_sources_org_kind_name_unique UNIQUE (org_id, kind, name)
);
CREATE INDEX data_sources_by_org ON data_sources (org_id, kind, id);
CREATE INDEX data_sources_by_credential ON data_sources (credential_id);
CREATE INDEX api_keys_by_data_source ON api_keys (data_source_id);

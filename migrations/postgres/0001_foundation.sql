-- Organizations, API keys, credentials, audit events and the keyring.
-- Identifiers are UUIDv7, so ordering by id is ordering by creation.

CREATE TABLE organizations (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE api_keys (
    id              UUID PRIMARY KEY,
    org_id          UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    prefix          TEXT NOT NULL,
    hash            BYTEA NOT NULL,
    scopes          TEXT NOT NULL,
    data_source_id  UUID NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    last_used_at    TIMESTAMPTZ NULL,
    revoked_at      TIMESTAMPTZ NULL
);
CREATE INDEX api_keys_by_prefix ON api_keys (prefix);
CREATE INDEX api_keys_by_org ON api_keys (org_id, id);

CREATE TABLE credentials (
    id             UUID PRIMARY KEY,
    org_id         UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    connector      TEXT NOT NULL,
    name           TEXT NOT NULL,
    description    TEXT NULL,
    config         JSONB NOT NULL,
    secret_ct      BYTEA NOT NULL,
    secret_nonce   BYTEA NOT NULL,
    wrapped_dek    BYTEA NOT NULL,
    kek_id         TEXT NOT NULL,
    status         TEXT NOT NULL
        CHECK (status IN ('unverified', 'valid', 'invalid', 'unreachable', 'error')),
    status_detail  TEXT NULL,
    identity       JSONB NULL,
    validated_at   TIMESTAMPTZ NULL,
    version        BIGINT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    CONSTRAINT credentials_org_name_unique UNIQUE (org_id, name)
);
CREATE INDEX credentials_by_org ON credentials (org_id, id);

CREATE TABLE audit_events (
    id            UUID PRIMARY KEY,
    org_id        UUID NULL REFERENCES organizations (id) ON DELETE CASCADE,
    at            TIMESTAMPTZ NOT NULL,
    actor_key_id  UUID NULL,
    action        TEXT NOT NULL,
    target_type   TEXT NOT NULL,
    target_id     TEXT NULL,
    outcome       TEXT NOT NULL,
    detail        JSONB NOT NULL
);
CREATE INDEX audit_events_by_org ON audit_events (org_id, id);

CREATE TABLE keyring (
    kek_id       TEXT PRIMARY KEY,
    created_at   TIMESTAMPTZ NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('active', 'retired')),
    check_value  BYTEA NOT NULL,
    kdf_salt     BYTEA NULL
);

-- Organizations, API keys, credentials, audit events and the keyring.
-- Identifiers are UUIDv7 (16-byte blobs), so ordering by id is ordering by creation.
-- Timestamps are RFC 3339 text in UTC, which sorts in time order.

CREATE TABLE organizations (
    id          BLOB PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

CREATE TABLE api_keys (
    id              BLOB PRIMARY KEY NOT NULL,
    org_id          BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    prefix          TEXT NOT NULL,
    hash            BLOB NOT NULL,
    scopes          TEXT NOT NULL,
    data_source_id  BLOB NULL,
    created_at      TEXT NOT NULL,
    last_used_at    TEXT NULL,
    revoked_at      TEXT NULL
);
CREATE INDEX api_keys_by_prefix ON api_keys (prefix);
CREATE INDEX api_keys_by_org ON api_keys (org_id, id);

CREATE TABLE credentials (
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
        CHECK (status IN ('unverified', 'valid', 'invalid', 'unreachable', 'error')),
    status_detail  TEXT NULL,
    identity       TEXT NULL,
    validated_at   TEXT NULL,
    version        INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    CONSTRAINT credentials_org_name_unique UNIQUE (org_id, name)
);
CREATE INDEX credentials_by_org ON credentials (org_id, id);

CREATE TABLE audit_events (
    id            BLOB PRIMARY KEY NOT NULL,
    org_id        BLOB NULL REFERENCES organizations (id) ON DELETE CASCADE,
    at            TEXT NOT NULL,
    actor_key_id  BLOB NULL,
    action        TEXT NOT NULL,
    target_type   TEXT NOT NULL,
    target_id     TEXT NULL,
    outcome       TEXT NOT NULL,
    detail        TEXT NOT NULL
);
CREATE INDEX audit_events_by_org ON audit_events (org_id, id);

CREATE TABLE keyring (
    kek_id       TEXT PRIMARY KEY NOT NULL,
    created_at   TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('active', 'retired')),
    check_value  BLOB NOT NULL,
    kdf_salt     BLOB NULL
);

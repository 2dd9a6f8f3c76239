-- Webhooks: endpoints of an organization that hear of credential health and consents, signed
-- as the Standard Webhooks specification says. The signing secrets (the current one and, for a
-- day after a rotation, the one before) are sealed together under the endpoint's own data key.
CREATE TABLE webhooks (
    id                     UUID PRIMARY KEY,
    org_id                 UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url                    TEXT NOT NULL,
    description            TEXT NULL,
    -- A JSON array of event types; NULL: every event.
    events                 TEXT NULL,
    enabled                BOOLEAN NOT NULL,
    -- Why the endpoint was turned off, when Latch turned it off (failing past the horizon).
    disabled_reason        TEXT NULL,
    -- The first failed attempt since the last delivered one.
    failing_since          TIMESTAMPTZ NULL,
    -- Until when the secret before the last rotation still signs beside the new one.
    previous_secret_until  TIMESTAMPTZ NULL,
    kek_id                 TEXT NOT NULL,
    wrapped_dek            BYTEA NOT NULL,
    secret_nonce           BYTEA NOT NULL,
    secret_ct              BYTEA NOT NULL,
    version                BIGINT NOT NULL,
    created_at             TIMESTAMPTZ NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhooks_by_org ON webhooks (org_id, id);

-- The outbox: one row per event and endpoint, written in the transaction of the change that
-- caused the event, and worked by the delivery loop of any replica under a lease of its own.
CREATE TABLE webhook_deliveries (
    id               UUID PRIMARY KEY,
    org_id           UUID NOT NULL,
    webhook_id       UUID NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    -- The event's id: the same for every endpoint and every attempt (`webhook-id`).
    event_id         UUID NOT NULL,
    event_type       TEXT NOT NULL,
    -- The body as sent, byte for byte: what the signature covers.
    payload          TEXT NOT NULL,
    -- pending | delivered | failed
    state            TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NULL,
    -- Retries stop once this is longer ago than the horizon (made, or retried by hand).
    retry_since      TIMESTAMPTZ NOT NULL,
    lease_owner      TEXT NULL,
    lease_until      TIMESTAMPTZ NULL,
    last_status      INTEGER NULL,
    last_error       TEXT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    finished_at      TIMESTAMPTZ NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);

-- Each attempt at a delivery: what the endpoint answered, how long it took, and the next try.
CREATE TABLE webhook_attempts (
    id               UUID PRIMARY KEY,
    delivery_id      UUID NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    at               TIMESTAMPTZ NOT NULL,
    status_code      INTEGER NULL,
    latency_ms       BIGINT NOT NULL,
    error            TEXT NULL,
    next_attempt_at  TIMESTAMPTZ NULL
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, id);

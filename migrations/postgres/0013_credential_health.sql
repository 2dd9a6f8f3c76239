-- Credential health. Transient trouble (an upstream that cannot be reached or errs) is one
-- status, `degraded`, reached after several failures in a row and left by the next success;
-- the stored `unreachable` and `error` become it. A status change from a check or a token
-- request is not an edit: it is kept in these columns and in the history below, and leaves
-- `version` alone.
ALTER TABLE credentials DROP CONSTRAINT credentials_status_check;
UPDATE credentials SET status = 'degraded' WHERE status IN ('unreachable', 'error');
ALTER TABLE credentials ADD CONSTRAINT credentials_status_check
    CHECK (status IN ('unverified', 'valid', 'invalid', 'degraded', 'reauthorization_required'));

-- Since when the credential has had its status (the last change, or the best guess for rows
-- from before: their last test login, else their last edit).
ALTER TABLE credentials ADD COLUMN status_since TIMESTAMPTZ NULL;
UPDATE credentials SET status_since = COALESCE(validated_at, updated_at);
ALTER TABLE credentials ALTER COLUMN status_since SET NOT NULL;
-- Checks and token logins that failed since the last success, and why the last one did.
ALTER TABLE credentials ADD COLUMN consecutive_failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE credentials ADD COLUMN last_failure TEXT NULL;
-- When an upstream last handed out a token for it.
ALTER TABLE credentials ADD COLUMN last_token_at TIMESTAMPTZ NULL;

-- Every status change: from what (NULL when the credential was made), to what, why, and what
-- measured it (`created`, `edited`, `reconnected`, `validated`, `checked`, `token`).
CREATE TABLE credential_health_changes (
    id             UUID PRIMARY KEY,
    org_id         UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    credential_id  UUID NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    from_status    TEXT NULL,
    to_status      TEXT NOT NULL,
    detail         TEXT NULL,
    cause          TEXT NOT NULL,
    at             TIMESTAMPTZ NOT NULL
);
CREATE INDEX credential_health_changes_by_credential
    ON credential_health_changes (credential_id, id);

-- The background worker's tasks (scheduled checks, housekeeping): one row per task, taken under
-- a lease so that one replica works a task at a time, and another takes over when the lease
-- lapses. `last_run_at` is when a run last finished, so replicas do not run it again early.
CREATE TABLE worker_leases (
    task         TEXT PRIMARY KEY NOT NULL,
    owner        TEXT NULL,
    lease_until  TEXT NULL,
    last_run_at  TEXT NULL
);

-- When a scheduled check last ran for a credential, whatever it found: a check that could not
-- reach the upstream proves nothing (`validated_at` stays) but is not repeated before the
-- next interval.
ALTER TABLE credentials ADD COLUMN checked_at TEXT NULL;
-- Scheduled checks pick the credentials checked (or, never checked, made) longest ago.
CREATE INDEX credentials_by_check ON credentials ((COALESCE(checked_at, created_at)));

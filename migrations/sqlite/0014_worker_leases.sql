-- The background worker's tasks (scheduled checks, housekeeping): one row per task, taken under
-- a lease so that one replica works a task at a time, and another takes over when the lease
-- lapses. `last_run_at` is when a run last finished, so replicas do not run it again early.
CREATE TABLE worker_leases (
    task         TEXT PRIMARY KEY NOT NULL,
    owner        TEXT NULL,
    lease_until  TEXT NULL,
    last_run_at  TEXT NULL
);

-- Scheduled checks pick the credentials tested (or, never tested, made) longest ago.
CREATE INDEX credentials_by_check ON credentials ((COALESCE(validated_at, created_at)));

-- The background worker's tasks (scheduled checks, housekeeping): one row per task, taken under
-- a lease so that one replica works a task at a time, and another takes over when the lease
-- lapses. `last_run_at` is when a run last finished, so replicas do not run it again early.
CREATE TABLE worker_leases (
    task         TEXT PRIMARY KEY,
    owner        TEXT NULL,
    lease_until  TIMESTAMPTZ NULL,
    last_run_at  TIMESTAMPTZ NULL
);

-- Scheduled checks pick the credentials tested (or, never tested, made) longest ago.
CREATE INDEX credentials_by_check ON credentials ((COALESCE(validated_at, created_at)));

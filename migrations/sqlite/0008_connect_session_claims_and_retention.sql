-- A callback claims its session before trading the code, so that of several identical
-- callbacks exactly one makes the exchange. A claim older than the exchange's time-out
-- belongs to a callback that died: the session then counts as failed.
ALTER TABLE connect_sessions ADD COLUMN claimed_at TEXT NULL;

-- Sessions are deleted some time after they expire (every session ends by its expiry).
CREATE INDEX connect_sessions_by_expiry ON connect_sessions (expires_at);

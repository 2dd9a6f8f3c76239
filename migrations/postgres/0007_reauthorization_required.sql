-- A credential whose OAuth grant the upstream no longer accepts waits for a person to connect
-- it again: status `reauthorization_required`.
ALTER TABLE credentials DROP CONSTRAINT credentials_status_check;
ALTER TABLE credentials ADD CONSTRAINT credentials_status_check
    CHECK (status IN ('unverified', 'valid', 'invalid', 'unreachable', 'error',
                      'reauthorization_required'));

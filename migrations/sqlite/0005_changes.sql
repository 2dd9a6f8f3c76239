-- What changed, in commit order, so that every replica drops what it caches of a changed
-- credential, API key or data source with one query a second. The one-row counter is
-- incremented by the changing transaction itself: writers take its row lock in turn, so a
-- change with a higher sequence number never commits before one with a lower number, and a
-- rolled-back change leaves no gap.
CREATE TABLE change_sequence (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO change_sequence (id, seq) VALUES (1, 0);

CREATE TABLE changes (
    seq     INTEGER PRIMARY KEY,
    at      TEXT NOT NULL,
    -- `credential`, `api_key` or `data_source`.
    subject TEXT NOT NULL,
    -- The credential's or data source's id, the API key's prefix.
    key     TEXT NOT NULL
);
CREATE INDEX changes_by_time ON changes (at);

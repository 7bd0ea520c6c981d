-- On a local node, how far it has gone through a catalogue feed: the national node's it pulls
-- ('pulled') and its own it publishes upward ('published').
CREATE TABLE federation_cursors (
    name        TEXT PRIMARY KEY,
    seq         BIGINT NOT NULL,
    updated_at  TEXT NOT NULL
);

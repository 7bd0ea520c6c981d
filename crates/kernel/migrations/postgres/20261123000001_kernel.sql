-- Working-day calendar: shipped rows and administrators' edits (edited_by not null).
CREATE TABLE calendar_days (
    day        DATE PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('holiday', 'day_off', 'working_day', 'normal')),
    name_vi    TEXT NOT NULL,
    name_en    TEXT NOT NULL,
    source     TEXT NOT NULL,
    edited_by  TEXT,
    edited_at  TIMESTAMPTZ
);

-- Tamper-evident audit chain: each entry's hash covers the previous one's.
CREATE TABLE audit_log (
    seq        BIGINT PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    data       TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);

-- One row: the head of the chain. Updating it first serialises writers.
CREATE TABLE audit_head (
    id    BIGINT PRIMARY KEY CHECK (id = 1),
    seq   BIGINT NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- The federation of one-stop systems: the node's own key (every role), the local nodes known
-- to a national node, the nonces of signed calls seen lately, and the dossier events the
-- national node holds from each local node, with each dossier's status as applied.

CREATE TABLE federation_key (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    secret      TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE federation_nodes (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    url              TEXT NOT NULL,
    public_key       TEXT NOT NULL,
    agencies         TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'active', 'suspended')),
    registered_at    TEXT NOT NULL,
    decided_at       TEXT,
    decided_by       TEXT,
    last_seen_at     TEXT,
    last_batch_at    TEXT,
    last_lag_ms      INTEGER,
    events_received  INTEGER NOT NULL DEFAULT 0,
    events_applied   INTEGER NOT NULL DEFAULT 0,
    events_refused   INTEGER NOT NULL DEFAULT 0,
    sso_client_id    TEXT
);

CREATE TABLE federation_nonces (
    node_id  TEXT NOT NULL,
    nonce    TEXT NOT NULL,
    seen_at  TEXT NOT NULL,
    PRIMARY KEY (node_id, nonce)
);
CREATE INDEX federation_nonces_seen ON federation_nonces (seen_at);

-- Every event received, applied or waiting for the ones before it.
CREATE TABLE federation_events (
    node_id      TEXT NOT NULL,
    dossier_id   TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    event_id     TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    body         TEXT NOT NULL,
    PRIMARY KEY (node_id, dossier_id, seq)
);

-- Each dossier as its events applied in order leave it.
CREATE TABLE federation_dossiers (
    node_id           TEXT NOT NULL,
    dossier_id        TEXT NOT NULL,
    applied_seq       INTEGER NOT NULL,
    code              TEXT,
    agency_code       TEXT NOT NULL,
    procedure_code    TEXT NOT NULL,
    applicant_cccd    TEXT,
    applicant_name    TEXT NOT NULL,
    status            TEXT NOT NULL,
    submitted_at      TEXT,
    appointment_date  TEXT,
    last_event_at     TEXT NOT NULL,
    synced_at         TEXT NOT NULL,
    PRIMARY KEY (node_id, dossier_id)
);
CREATE INDEX federation_dossiers_applicant ON federation_dossiers (applicant_cccd);

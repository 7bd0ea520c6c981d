-- Dossiers (hồ sơ): what an applicant files, its documents, its history, and the per-agency,
-- per-day counters its code is drawn from.

-- The last number given out for an agency on a day (YYMMDD). Taken in the same transaction as
-- the dossier, so a rolled-back submission gives its number back: codes have no gaps.
CREATE TABLE dossier_counters (
    agency_code  TEXT NOT NULL,
    day          TEXT NOT NULL,
    last         BIGINT NOT NULL,
    PRIMARY KEY (agency_code, day)
);

CREATE TABLE dossiers (
    id                 TEXT PRIMARY KEY,
    code               TEXT UNIQUE,
    procedure_code     TEXT NOT NULL,
    procedure_version  BIGINT NOT NULL,
    agency_code        TEXT NOT NULL,
    applicant_id       TEXT REFERENCES accounts (id),
    applicant_name     TEXT NOT NULL,
    applicant_cccd     TEXT,
    applicant_phone    TEXT,
    applicant_email    TEXT,
    on_behalf_of       TEXT,
    channel            TEXT NOT NULL CHECK (channel IN ('online', 'desk')),
    status             TEXT NOT NULL,
    form               JSONB NOT NULL,
    time_limit_days    BIGINT NOT NULL,
    supplement_count   BIGINT NOT NULL DEFAULT 0,
    reasons            JSONB NOT NULL,
    submitted_at       TIMESTAMPTZ,
    received_at        TIMESTAMPTZ,
    appointment_date   DATE,
    created_by         TEXT NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    revision           BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX dossiers_applicant ON dossiers (applicant_id, created_at);
CREATE INDEX dossiers_agency ON dossiers (agency_code, status, created_at);

-- Uploaded and scanned documents; the bytes are in the blob store under their SHA-256.
CREATE TABLE dossier_documents (
    id           TEXT PRIMARY KEY,
    dossier_id   TEXT NOT NULL REFERENCES dossiers (id),
    name         TEXT NOT NULL,
    filename     TEXT NOT NULL,
    media_type   TEXT NOT NULL,
    size         BIGINT NOT NULL,
    sha256       TEXT NOT NULL,
    uploaded_by  TEXT NOT NULL,
    uploaded_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX dossier_documents_dossier ON dossier_documents (dossier_id);

-- Every change of state, with who, when and why (the process control slip is read from here).
CREATE TABLE dossier_events (
    id           TEXT PRIMARY KEY,
    dossier_id   TEXT NOT NULL REFERENCES dossiers (id),
    at           TIMESTAMPTZ NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    from_status  TEXT NOT NULL,
    to_status    TEXT NOT NULL,
    comment      TEXT NOT NULL,
    data         JSONB NOT NULL
);
CREATE INDEX dossier_events_dossier ON dossier_events (dossier_id, at);

-- Submissions already answered, by the caller's Idempotency-Key.
CREATE TABLE dossier_idempotency (
    account_id  TEXT NOT NULL,
    key         TEXT NOT NULL,
    dossier_id  TEXT NOT NULL REFERENCES dossiers (id),
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_id, key)
);

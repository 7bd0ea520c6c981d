-- Feedback: petitions about regulations, procedures and agencies' handling (phản ánh, kiến
-- nghị) and field reports with a place and photos (phản ánh hiện trường). The kinds of report
-- a citizen may file (the Open311 services), the areas each commune serves and the agencies
-- that handle each kind there, the reports with their public updates, photos and followers,
-- and the API keys of the systems that file reports over Open311.
CREATE TABLE feedback_services (
    code            TEXT PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('field', 'petition')),
    name_vi         TEXT NOT NULL,
    name_en         TEXT NOT NULL,
    description     TEXT NOT NULL,
    group_name      TEXT NOT NULL,
    keywords        TEXT NOT NULL,
    attributes      TEXT NOT NULL,
    expected_days   BIGINT NOT NULL,
    active          INTEGER NOT NULL DEFAULT 1,
    sort            BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE feedback_areas (
    unit_code       TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    province_code   TEXT NOT NULL,
    agency_code     TEXT NOT NULL,
    min_lat         REAL NOT NULL,
    max_lat         REAL NOT NULL,
    min_lon         REAL NOT NULL,
    max_lon         REAL NOT NULL,
    polygons        TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX feedback_areas_box ON feedback_areas (min_lat, max_lat);
CREATE TABLE feedback_routes (
    service_code    TEXT NOT NULL REFERENCES feedback_services (code),
    unit_code       TEXT NOT NULL,
    agency_code     TEXT NOT NULL,
    PRIMARY KEY (service_code, unit_code)
);
CREATE TABLE feedback_counters (
    year            BIGINT PRIMARY KEY,
    last            BIGINT NOT NULL
);
CREATE TABLE feedback_reports (
    id                  TEXT PRIMARY KEY,
    kind                TEXT NOT NULL,
    service_code        TEXT NOT NULL REFERENCES feedback_services (code),
    agency_code         TEXT NOT NULL,
    unit_code           TEXT,
    province_code       TEXT,
    status              TEXT NOT NULL,
    held                INTEGER NOT NULL DEFAULT 0,
    held_reason         TEXT,
    subject             TEXT NOT NULL DEFAULT '',
    procedure_code      TEXT,
    title               TEXT NOT NULL,
    description         TEXT NOT NULL,
    description_public  TEXT NOT NULL,
    attributes          TEXT NOT NULL DEFAULT '[]',
    lat                 REAL,
    lon                 REAL,
    address             TEXT NOT NULL DEFAULT '',
    reporter_account    TEXT,
    reporter_name       TEXT NOT NULL DEFAULT '',
    reporter_email      TEXT,
    reporter_phone      TEXT,
    device_id           TEXT,
    channel             TEXT NOT NULL,
    api_key_id          TEXT,
    token               TEXT NOT NULL UNIQUE,
    duplicate_of        TEXT REFERENCES feedback_reports (id),
    supporters          BIGINT NOT NULL DEFAULT 0,
    answer              TEXT,
    answer_public       INTEGER NOT NULL DEFAULT 1,
    answered_by         TEXT,
    answered_at         TEXT,
    search_fold         TEXT NOT NULL DEFAULT '',
    requested_at        TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    due_at              TEXT NOT NULL,
    closed_at           TEXT,
    reopens             BIGINT NOT NULL DEFAULT 0,
    media_url           TEXT
);
CREATE INDEX feedback_reports_agency ON feedback_reports (agency_code, status, due_at);
CREATE INDEX feedback_reports_requested ON feedback_reports (requested_at);
CREATE INDEX feedback_reports_updated ON feedback_reports (updated_at);
CREATE INDEX feedback_reports_near ON feedback_reports (service_code, lat);
CREATE INDEX feedback_reports_unit ON feedback_reports (unit_code, requested_at);
CREATE INDEX feedback_reports_reporter ON feedback_reports (reporter_account, requested_at);
CREATE TABLE feedback_photos (
    report_id       TEXT NOT NULL REFERENCES feedback_reports (id),
    n               BIGINT NOT NULL,
    sha256          TEXT NOT NULL,
    thumb_sha256    TEXT NOT NULL,
    media_type      TEXT NOT NULL,
    width           BIGINT NOT NULL,
    height          BIGINT NOT NULL,
    had_location    INTEGER NOT NULL,
    public          INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (report_id, n)
);
CREATE TABLE feedback_updates (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    report_id       TEXT NOT NULL REFERENCES feedback_reports (id),
    at              TEXT NOT NULL,
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL,
    status          TEXT NOT NULL,
    note            TEXT NOT NULL,
    public          INTEGER NOT NULL
);
CREATE INDEX feedback_updates_report ON feedback_updates (report_id, id);
CREATE INDEX feedback_updates_at ON feedback_updates (at);
CREATE TABLE feedback_followers (
    report_id       TEXT NOT NULL REFERENCES feedback_reports (id),
    email           TEXT NOT NULL,
    account_id      TEXT,
    since           TEXT NOT NULL,
    PRIMARY KEY (report_id, email)
);
CREATE TABLE feedback_api_keys (
    id              TEXT PRIMARY KEY,
    key_hash        TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    contact         TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    revoked_at      TEXT,
    last_used_at    TEXT
);

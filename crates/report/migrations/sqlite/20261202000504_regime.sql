-- The periodic reporting regime (Decree 09/2019/NĐ-CP): templates in versions (their
-- indicators as JSON), the agencies assigned each, the reports submitted (one row a version),
-- and the reminders sent, so that each goes once.
CREATE TABLE report_templates (
    code        TEXT NOT NULL,
    version     BIGINT NOT NULL,
    spec        TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (code, version)
) WITHOUT ROWID;
CREATE TABLE report_assignments (
    template_code  TEXT NOT NULL,
    agency         TEXT NOT NULL,
    assigned_by    TEXT NOT NULL,
    assigned_at    TEXT NOT NULL,
    PRIMARY KEY (template_code, agency)
) WITHOUT ROWID;
CREATE TABLE report_submissions (
    id                TEXT PRIMARY KEY,
    template_code     TEXT NOT NULL,
    template_version  BIGINT NOT NULL,
    agency            TEXT NOT NULL,
    period            TEXT NOT NULL,
    version           BIGINT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('submitted', 'approved', 'returned', 'superseded')),
    report_values     TEXT NOT NULL,
    submitted_by      TEXT NOT NULL,
    submitted_at      TEXT NOT NULL,
    late              INTEGER NOT NULL DEFAULT 0,
    decided_by        TEXT,
    decided_at        TEXT,
    comment           TEXT,
    UNIQUE (template_code, agency, period, version)
);
CREATE INDEX report_submissions_period ON report_submissions (template_code, period);
CREATE TABLE report_reminders (
    template_code  TEXT NOT NULL,
    agency         TEXT NOT NULL,
    period         TEXT NOT NULL,
    kind           TEXT NOT NULL,
    sent_at        TEXT NOT NULL,
    PRIMARY KEY (template_code, agency, period, kind)
) WITHOUT ROWID;

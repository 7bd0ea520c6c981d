-- The citizen-service index (Decision 766/QĐ-TTg): versions of its definition (groups,
-- indicators, points, as JSON), each in force from a day; and the shares an agency enters
-- for a month for the indicators the one-stop system does not measure.
CREATE TABLE report_index_versions (
    version         BIGINT PRIMARY KEY,
    effective_from  TEXT NOT NULL,
    note            TEXT NOT NULL DEFAULT '',
    created_by      TEXT NOT NULL,
    definition      TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE TABLE report_index_inputs (
    agency      TEXT NOT NULL,
    month       TEXT NOT NULL,
    indicator   TEXT NOT NULL,
    rate        REAL NOT NULL CHECK (rate >= 0 AND rate <= 1),
    entered_by  TEXT NOT NULL,
    entered_at  TEXT NOT NULL,
    PRIMARY KEY (agency, month, indicator)
) WITHOUT ROWID;
CREATE INDEX report_index_inputs_month ON report_index_inputs (month);

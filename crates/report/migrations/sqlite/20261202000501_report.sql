-- Roll-ups of the one-stop figures, kept in the transaction of every change of a dossier.
-- Flows are counted on the local (UTC+7) day they happened: received (by channel), resolved
-- (by outcome), sent back (refused or stopped), supplement requests, online payments and
-- ratings. `report_daily` is the base, per agency, procedure and day; the agency-level tables
-- are the same figures summed over procedures, by day and by month (keyed by its first day),
-- so a national or provincial picture reads thousands of rows, not millions.
CREATE TABLE report_daily (
    agency                TEXT NOT NULL,
    procedure             TEXT NOT NULL,
    day                   TEXT NOT NULL,
    received_online       INTEGER NOT NULL DEFAULT 0,
    received_desk         INTEGER NOT NULL DEFAULT 0,
    resolved_early        INTEGER NOT NULL DEFAULT 0,
    resolved_on_time      INTEGER NOT NULL DEFAULT 0,
    resolved_late         INTEGER NOT NULL DEFAULT 0,
    sent_back             INTEGER NOT NULL DEFAULT 0,
    supplements           INTEGER NOT NULL DEFAULT 0,
    paid_online           INTEGER NOT NULL DEFAULT 0,
    paid_amount           INTEGER NOT NULL DEFAULT 0,
    rated_very_satisfied  INTEGER NOT NULL DEFAULT 0,
    rated_satisfied       INTEGER NOT NULL DEFAULT 0,
    rated_not_satisfied   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (agency, day, procedure)
) WITHOUT ROWID;

CREATE TABLE report_agency_daily (
    agency                TEXT NOT NULL,
    day                   TEXT NOT NULL,
    received_online       INTEGER NOT NULL DEFAULT 0,
    received_desk         INTEGER NOT NULL DEFAULT 0,
    resolved_early        INTEGER NOT NULL DEFAULT 0,
    resolved_on_time      INTEGER NOT NULL DEFAULT 0,
    resolved_late         INTEGER NOT NULL DEFAULT 0,
    sent_back             INTEGER NOT NULL DEFAULT 0,
    supplements           INTEGER NOT NULL DEFAULT 0,
    paid_online           INTEGER NOT NULL DEFAULT 0,
    paid_amount           INTEGER NOT NULL DEFAULT 0,
    rated_very_satisfied  INTEGER NOT NULL DEFAULT 0,
    rated_satisfied       INTEGER NOT NULL DEFAULT 0,
    rated_not_satisfied   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, agency)
) WITHOUT ROWID;

CREATE TABLE report_agency_monthly (
    agency                TEXT NOT NULL,
    month                 TEXT NOT NULL,
    received_online       INTEGER NOT NULL DEFAULT 0,
    received_desk         INTEGER NOT NULL DEFAULT 0,
    resolved_early        INTEGER NOT NULL DEFAULT 0,
    resolved_on_time      INTEGER NOT NULL DEFAULT 0,
    resolved_late         INTEGER NOT NULL DEFAULT 0,
    sent_back             INTEGER NOT NULL DEFAULT 0,
    supplements           INTEGER NOT NULL DEFAULT 0,
    paid_online           INTEGER NOT NULL DEFAULT 0,
    paid_amount           INTEGER NOT NULL DEFAULT 0,
    rated_very_satisfied  INTEGER NOT NULL DEFAULT 0,
    rated_satisfied       INTEGER NOT NULL DEFAULT 0,
    rated_not_satisfied   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (month, agency)
) WITHOUT ROWID;

-- Dossiers in progress (received, not yet returned or closed), by the day their result is
-- promised for: those due before today are overdue. `paused` ones wait for the applicant's
-- supplement, with the clock stopped. Rows that fall to zero are removed.
CREATE TABLE report_open (
    agency     TEXT NOT NULL,
    procedure  TEXT NOT NULL,
    due        TEXT NOT NULL,
    active     INTEGER NOT NULL DEFAULT 0,
    paused     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (agency, procedure, due)
) WITHOUT ROWID;

CREATE TABLE report_agency_open (
    agency  TEXT NOT NULL,
    due     TEXT NOT NULL,
    active  INTEGER NOT NULL DEFAULT 0,
    paused  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (agency, due)
) WITHOUT ROWID;

-- When the roll-ups were last rebuilt from the dossiers (none yet: the node rebuilds them at
-- start, which is how an upgraded node fills them from the dossiers it already has).
CREATE TABLE report_state (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    built_at  TEXT NOT NULL
);

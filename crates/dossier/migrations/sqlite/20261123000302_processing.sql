-- Processing: the workflow a dossier follows (copied at receipt), where it is, when that step
-- is due, pauses for supplements, the decision and the return.
ALTER TABLE dossiers ADD COLUMN workflow TEXT;
ALTER TABLE dossiers ADD COLUMN step TEXT;
ALTER TABLE dossiers ADD COLUMN step_started_at TEXT;
ALTER TABLE dossiers ADD COLUMN step_due_at TEXT;
ALTER TABLE dossiers ADD COLUMN paused_at TEXT;
ALTER TABLE dossiers ADD COLUMN decided_at TEXT;
ALTER TABLE dossiers ADD COLUMN returned_at TEXT;
ALTER TABLE dossiers ADD COLUMN return_method TEXT;
ALTER TABLE dossiers ADD COLUMN outcome TEXT;

-- Each agency's workflow for a procedure, edited by its administrator; absent means the
-- standard one.
CREATE TABLE dossier_workflows (
    agency_code     TEXT NOT NULL,
    procedure_code  TEXT NOT NULL,
    definition      TEXT NOT NULL,
    updated_by      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (agency_code, procedure_code)
);

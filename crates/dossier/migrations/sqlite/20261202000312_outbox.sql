-- The sync outbox of a local node: every event of a dossier is also written here, in the same
-- transaction (by the trigger below), numbered per dossier from 1, and stays until it has been
-- pushed to the national node (and after, for a replay). Off until the node turns it on
-- (a row in dossier_outbox_on); events written while it is off are not numbered.
ALTER TABLE dossiers ADD COLUMN sync_seq INTEGER NOT NULL DEFAULT 0;

CREATE TABLE dossier_outbox_on (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    since  TEXT NOT NULL
);

CREATE TABLE dossier_outbox (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    dossier_id        TEXT NOT NULL,
    seq               INTEGER NOT NULL,
    event_id          TEXT NOT NULL,
    code              TEXT,
    agency_code       TEXT NOT NULL,
    procedure_code    TEXT NOT NULL,
    applicant_cccd    TEXT,
    applicant_name    TEXT NOT NULL,
    submitted_at      TEXT,
    appointment_date  TEXT,
    written_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    pushed_at         TEXT,
    refused           TEXT,
    UNIQUE (dossier_id, seq)
);
CREATE INDEX dossier_outbox_pending ON dossier_outbox (id) WHERE pushed_at IS NULL;
CREATE INDEX dossier_outbox_written ON dossier_outbox (written_at);

CREATE TRIGGER dossier_events_outbox AFTER INSERT ON dossier_events
WHEN EXISTS (SELECT 1 FROM dossier_outbox_on)
BEGIN
    UPDATE dossiers SET sync_seq = sync_seq + 1 WHERE id = NEW.dossier_id;
    INSERT INTO dossier_outbox (dossier_id, seq, event_id, code, agency_code, procedure_code,
                                applicant_cccd, applicant_name, submitted_at, appointment_date)
    SELECT id, sync_seq, NEW.id, code, agency_code, procedure_code, applicant_cccd,
           applicant_name, submitted_at, appointment_date
    FROM dossiers WHERE id = NEW.dossier_id;
END;

-- The sync outbox of a local node: every event of a dossier is also written here, in the same
-- transaction (by the trigger below), numbered per dossier from 1, and stays until it has been
-- pushed to the national node (and after, for a replay). Off until the node turns it on
-- (a row in dossier_outbox_on); events written while it is off are not numbered.
ALTER TABLE dossiers ADD COLUMN sync_seq BIGINT NOT NULL DEFAULT 0;

CREATE TABLE dossier_outbox_on (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    since  TIMESTAMPTZ NOT NULL
);

CREATE TABLE dossier_outbox (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dossier_id        TEXT NOT NULL,
    seq               BIGINT NOT NULL,
    event_id          TEXT NOT NULL,
    code              TEXT,
    agency_code       TEXT NOT NULL,
    procedure_code    TEXT NOT NULL,
    applicant_cccd    TEXT,
    applicant_name    TEXT NOT NULL,
    submitted_at      TIMESTAMPTZ,
    appointment_date  DATE,
    written_at        TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    pushed_at         TIMESTAMPTZ,
    refused           TEXT,
    UNIQUE (dossier_id, seq)
);
CREATE INDEX dossier_outbox_pending ON dossier_outbox (id) WHERE pushed_at IS NULL;
CREATE INDEX dossier_outbox_written ON dossier_outbox (written_at);

CREATE FUNCTION dossier_events_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM dossier_outbox_on) THEN
        UPDATE dossiers SET sync_seq = sync_seq + 1 WHERE id = NEW.dossier_id;
        INSERT INTO dossier_outbox (dossier_id, seq, event_id, code, agency_code, procedure_code,
                                    applicant_cccd, applicant_name, submitted_at, appointment_date)
        SELECT id, sync_seq, NEW.id, code, agency_code, procedure_code, applicant_cccd,
               applicant_name, submitted_at, appointment_date
        FROM dossiers WHERE id = NEW.dossier_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER dossier_events_outbox AFTER INSERT ON dossier_events
FOR EACH ROW EXECUTE FUNCTION dossier_events_outbox();

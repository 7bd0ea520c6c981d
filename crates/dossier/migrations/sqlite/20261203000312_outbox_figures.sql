-- The outbox also carries what the dossier adds to the report figures when the event happens
-- (its channel, when it was received, returned, closed, paid and rated, and how), so that the
-- national node's reports count the dossiers of every local node.
ALTER TABLE dossier_outbox ADD COLUMN channel TEXT;
ALTER TABLE dossier_outbox ADD COLUMN status TEXT;
ALTER TABLE dossier_outbox ADD COLUMN received_at TEXT;
ALTER TABLE dossier_outbox ADD COLUMN returned_at TEXT;
ALTER TABLE dossier_outbox ADD COLUMN outcome TEXT;
ALTER TABLE dossier_outbox ADD COLUMN closed_at TEXT;
ALTER TABLE dossier_outbox ADD COLUMN fee_settled_at TEXT;
ALTER TABLE dossier_outbox ADD COLUMN fee_online INTEGER;
ALTER TABLE dossier_outbox ADD COLUMN fee_desk INTEGER;
ALTER TABLE dossier_outbox ADD COLUMN rating TEXT;
ALTER TABLE dossier_outbox ADD COLUMN rated_at TEXT;

DROP TRIGGER dossier_events_outbox;
CREATE TRIGGER dossier_events_outbox AFTER INSERT ON dossier_events
WHEN EXISTS (SELECT 1 FROM dossier_outbox_on)
BEGIN
    UPDATE dossiers SET sync_seq = sync_seq + 1 WHERE id = NEW.dossier_id;
    INSERT INTO dossier_outbox (dossier_id, seq, event_id, code, agency_code, procedure_code,
                                applicant_cccd, applicant_name, submitted_at, appointment_date,
                                channel, status, received_at, returned_at, outcome, closed_at,
                                fee_settled_at, fee_online, fee_desk, rating, rated_at)
    SELECT id, sync_seq, NEW.id, code, agency_code, procedure_code, applicant_cccd,
           applicant_name, submitted_at, appointment_date,
           channel, status, received_at, returned_at, outcome, closed_at,
           fee_settled_at, fee_online, fee_desk, rating, rated_at
    FROM dossiers WHERE id = NEW.dossier_id;
END;

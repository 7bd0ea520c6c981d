-- The outbox also carries what the dossier adds to the report figures when the event happens
-- (its channel, when it was received, returned, closed, paid and rated, and how), so that the
-- national node's reports count the dossiers of every local node.
ALTER TABLE dossier_outbox
    ADD COLUMN channel TEXT,
    ADD COLUMN status TEXT,
    ADD COLUMN received_at TIMESTAMPTZ,
    ADD COLUMN returned_at TIMESTAMPTZ,
    ADD COLUMN outcome TEXT,
    ADD COLUMN closed_at TIMESTAMPTZ,
    ADD COLUMN fee_settled_at TIMESTAMPTZ,
    ADD COLUMN fee_online BIGINT,
    ADD COLUMN fee_desk BIGINT,
    ADD COLUMN rating TEXT,
    ADD COLUMN rated_at TIMESTAMPTZ;

CREATE OR REPLACE FUNCTION dossier_events_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM dossier_outbox_on) THEN
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
    END IF;
    RETURN NULL;
END
$$;

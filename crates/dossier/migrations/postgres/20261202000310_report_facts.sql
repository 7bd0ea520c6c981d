-- What the report roll-ups count that a dossier's row did not say: when it was sent back
-- without a result (refused at the desk or stopped), and the amount its fees were paid with
-- through an online gateway.
ALTER TABLE dossiers ADD COLUMN closed_at TIMESTAMPTZ;
ALTER TABLE dossiers ADD COLUMN fee_online BIGINT;
UPDATE dossiers SET closed_at = updated_at WHERE status IN ('refused', 'stopped');
-- The overdue list: dossiers in progress by their appointment date.
CREATE INDEX dossiers_open_due ON dossiers (appointment_date)
    WHERE status IN ('received', 'processing', 'approved', 'rejected', 'supplement_requested');

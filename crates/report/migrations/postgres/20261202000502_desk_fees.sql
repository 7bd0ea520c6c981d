-- Fees paid at the desk, counted beside those paid online; the roll-ups are built again from
-- the dossiers at the next start.
ALTER TABLE report_daily ADD COLUMN paid_desk BIGINT NOT NULL DEFAULT 0;
ALTER TABLE report_agency_daily ADD COLUMN paid_desk BIGINT NOT NULL DEFAULT 0;
ALTER TABLE report_agency_monthly ADD COLUMN paid_desk BIGINT NOT NULL DEFAULT 0;
DELETE FROM report_state;

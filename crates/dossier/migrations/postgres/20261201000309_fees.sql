-- When a dossier's fees, paid through the system, were settled (paid, or waived for a
-- beneficiary). When they are due comes from its procedure version.
ALTER TABLE dossiers ADD COLUMN fee_settled_at TIMESTAMPTZ;

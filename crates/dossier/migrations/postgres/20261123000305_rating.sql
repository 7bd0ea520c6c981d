-- The applicant's rating after the result is returned (very_satisfied, satisfied, not_satisfied
-- with a reason).
ALTER TABLE dossiers ADD COLUMN rating TEXT;
ALTER TABLE dossiers ADD COLUMN rating_reason TEXT;
ALTER TABLE dossiers ADD COLUMN rated_at TIMESTAMPTZ;

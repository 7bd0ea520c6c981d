-- Transfer between agencies (liên thông): the agency handling a dossier now, when it is not the
-- one that received it. The receiving agency keeps the dossier's code and returns the result.
ALTER TABLE dossiers ADD COLUMN handler_agency TEXT;
-- Only transferred dossiers are in it, so filing a dossier does not touch it.
CREATE INDEX dossiers_handler ON dossiers (handler_agency, status, created_at) WHERE handler_agency IS NOT NULL;

-- An apology moved the appointment date from this one (once; the dossier counts as late).
ALTER TABLE dossiers ADD COLUMN extended_from DATE;

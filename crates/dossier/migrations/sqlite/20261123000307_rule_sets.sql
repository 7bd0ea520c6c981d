-- The version of the one-stop rules a dossier was received under (see data/rules.json).
ALTER TABLE dossiers ADD COLUMN rule_set TEXT;

-- The applicant's name folded (no diacritics, lower case, i/y unified) for the officials' search.
ALTER TABLE dossiers ADD COLUMN applicant_fold TEXT NOT NULL DEFAULT '';

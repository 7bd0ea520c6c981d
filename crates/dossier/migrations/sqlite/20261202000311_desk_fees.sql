-- The amount a dossier's fees were paid with at the desk: the figures count fees paid at the
-- desk apart from those waived, for the share paid online.
ALTER TABLE dossiers ADD COLUMN fee_desk INTEGER;

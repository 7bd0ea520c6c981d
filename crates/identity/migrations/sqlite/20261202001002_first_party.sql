-- A first-party client: another node of the same federation (a ministry's or province's
-- one-stop system). Its users are not asked to agree to share their profile with it.
ALTER TABLE oidc_clients ADD COLUMN first_party BOOLEAN NOT NULL DEFAULT FALSE;

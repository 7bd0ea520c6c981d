-- Citizens who act for a business (its legal representative and those it authorises).
CREATE TABLE business_representatives (
    business_id  TEXT NOT NULL REFERENCES accounts (id),
    citizen_id   TEXT NOT NULL REFERENCES accounts (id),
    granted_by   TEXT NOT NULL,
    granted_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (business_id, citizen_id)
);
CREATE INDEX business_representatives_citizen ON business_representatives (citizen_id);

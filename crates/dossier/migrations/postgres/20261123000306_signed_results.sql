-- Each agency's signing key (RSA-2048, PKCS #8 PEM) and its self-signed certificate, made the
-- first time the agency signs a result.
CREATE TABLE agency_signing_keys (
    agency_code      TEXT PRIMARY KEY,
    private_key_pem  TEXT NOT NULL,
    certificate_pem  TEXT NOT NULL,
    serial           TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL
);

-- A dossier's signed result: the PDF and its detached CMS signature, in the blob store under
-- their SHA-256, written in the transaction of the approval that signed them.
CREATE TABLE dossier_results (
    dossier_id          TEXT PRIMARY KEY REFERENCES dossiers (id),
    agency_code         TEXT NOT NULL,
    pdf_sha256          TEXT NOT NULL,
    signature_sha256    TEXT NOT NULL,
    certificate_serial  TEXT NOT NULL,
    signed_by           TEXT NOT NULL,
    signer_name         TEXT NOT NULL,
    signed_at           TIMESTAMPTZ NOT NULL
);

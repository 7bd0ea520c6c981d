-- The document exchange hub: the node's certificate authority and hub key, the agencies on
-- the hub with their certificates, the documents accepted (the package and its signature are
-- blobs), one delivery per recipient with the statuses it answered, the signed receipts of
-- every hand-over, the registers of documents sent and received, and the pushes to agencies'
-- endpoints waiting or retried.
CREATE TABLE exchange_keys (
    name             TEXT PRIMARY KEY,
    key_pem          TEXT NOT NULL,
    certificate_pem  TEXT NOT NULL,
    serial           TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL
);
CREATE TABLE exchange_crl (
    id           BIGINT PRIMARY KEY CHECK (id = 1),
    number       BIGINT NOT NULL,
    issued_at    TIMESTAMPTZ NOT NULL,
    der          BYTEA NOT NULL
);
CREATE TABLE exchange_agencies (
    organ_id        TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    endpoint        TEXT,
    push_secret     TEXT,
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE TABLE exchange_certificates (
    serial              TEXT PRIMARY KEY,
    organ_id            TEXT NOT NULL REFERENCES exchange_agencies (organ_id),
    certificate_pem     TEXT NOT NULL,
    key_pem             TEXT,
    source              TEXT NOT NULL CHECK (source IN ('issued', 'imported')),
    subject             TEXT NOT NULL,
    issuer              TEXT NOT NULL,
    fingerprint         TEXT NOT NULL UNIQUE,
    not_before          TIMESTAMPTZ NOT NULL,
    not_after           TIMESTAMPTZ NOT NULL,
    revoked_at          TIMESTAMPTZ,
    revocation_reason   BIGINT,
    created_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX exchange_certificates_organ ON exchange_certificates (organ_id);
CREATE TABLE exchange_documents (
    id                  TEXT PRIMARY KEY,
    document_id         TEXT NOT NULL,
    sender              TEXT NOT NULL,
    business            BIGINT NOT NULL,
    refers_to           TEXT REFERENCES exchange_documents (id),
    subject             TEXT NOT NULL,
    code_number         TEXT NOT NULL,
    code_notation       TEXT NOT NULL,
    document_type       TEXT NOT NULL,
    promulgation_date   DATE NOT NULL,
    priority            BIGINT NOT NULL,
    signer_name         TEXT NOT NULL,
    package_sha256      TEXT NOT NULL UNIQUE,
    signature_sha256    TEXT NOT NULL,
    certificate_serial  TEXT NOT NULL,
    size                BIGINT NOT NULL,
    attachments         BIGINT NOT NULL,
    received_at         TIMESTAMPTZ NOT NULL,
    sent_by             TEXT NOT NULL,
    search              TEXT NOT NULL
);
CREATE UNIQUE INDEX exchange_documents_new ON exchange_documents (sender, document_id) WHERE business = 0;
CREATE INDEX exchange_documents_sender ON exchange_documents (sender, received_at);
CREATE TABLE exchange_deliveries (
    id             TEXT PRIMARY KEY,
    document       TEXT NOT NULL REFERENCES exchange_documents (id),
    recipient      TEXT NOT NULL,
    status         TEXT NOT NULL,
    status_at      TIMESTAMPTZ NOT NULL,
    fetched_at     TIMESTAMPTZ,
    UNIQUE (document, recipient)
);
CREATE INDEX exchange_deliveries_recipient ON exchange_deliveries (recipient, fetched_at);
CREATE TABLE exchange_statuses (
    id                  TEXT PRIMARY KEY,
    delivery            TEXT NOT NULL REFERENCES exchange_deliveries (id),
    code                TEXT NOT NULL,
    description         TEXT NOT NULL,
    staff               TEXT NOT NULL,
    stated_at           TIMESTAMPTZ NOT NULL,
    recorded_at         TIMESTAMPTZ NOT NULL,
    package_sha256      TEXT UNIQUE,
    signature_sha256    TEXT,
    certificate_serial  TEXT,
    recorded_by         TEXT NOT NULL
);
CREATE INDEX exchange_statuses_delivery ON exchange_statuses (delivery, recorded_at);
CREATE TABLE exchange_receipts (
    id              TEXT PRIMARY KEY,
    document        TEXT NOT NULL REFERENCES exchange_documents (id),
    kind            TEXT NOT NULL CHECK (kind IN ('accepted', 'delivered', 'status')),
    agency          TEXT NOT NULL,
    body_sha256     TEXT NOT NULL,
    signature_sha256 TEXT NOT NULL,
    issued_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX exchange_receipts_document ON exchange_receipts (document);
CREATE TABLE exchange_register (
    agency         TEXT NOT NULL,
    direction      TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    year           BIGINT NOT NULL,
    number         BIGINT NOT NULL,
    document       TEXT NOT NULL REFERENCES exchange_documents (id),
    registered_by  TEXT NOT NULL,
    registered_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (agency, direction, year, number),
    UNIQUE (agency, direction, document)
);
CREATE TABLE exchange_register_counters (
    agency     TEXT NOT NULL,
    direction  TEXT NOT NULL,
    year       BIGINT NOT NULL,
    last       BIGINT NOT NULL,
    PRIMARY KEY (agency, direction, year)
);
CREATE TABLE exchange_pushes (
    id           TEXT PRIMARY KEY,
    agency       TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('document', 'status')),
    ref          TEXT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    next_at      TIMESTAMPTZ NOT NULL,
    last_error   TEXT,
    done_at      TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX exchange_pushes_due ON exchange_pushes (done_at, next_at);

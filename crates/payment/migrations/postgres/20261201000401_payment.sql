-- Payments of a dossier's fees: one row per attempt. `txn_ref` is what the gateway knows it by.
-- At most one payment of a dossier settles its fees: the partial unique index below refuses a
-- second, so a late or repeated success can never count twice.
CREATE TABLE payments (
    id            TEXT PRIMARY KEY,
    txn_ref       TEXT NOT NULL UNIQUE,
    dossier_id    TEXT NOT NULL,
    dossier_code  TEXT NOT NULL,
    agency_code   TEXT NOT NULL,
    provider      TEXT NOT NULL,
    amount        BIGINT NOT NULL CHECK (amount >= 0),
    currency      TEXT NOT NULL DEFAULT 'VND',
    quote         JSONB NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'failed', 'cancelled', 'expired', 'duplicate', 'exempt')),
    settles       BOOLEAN NOT NULL DEFAULT FALSE,
    payer_name    TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    gateway_txn   TEXT,
    bank_code     TEXT,
    paid_at       TIMESTAMPTZ,
    late          BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX payments_dossier ON payments (dossier_id, created_at);
CREATE INDEX payments_agency_paid ON payments (agency_code, provider, paid_at);
CREATE UNIQUE INDEX payments_one_settling ON payments (dossier_id) WHERE settles;

-- Electronic receipts (biên lai điện tử), numbered per agency and year without gaps: the
-- number is drawn from the counter in the transaction that records the payment.
CREATE TABLE receipt_counters (
    agency_code  TEXT NOT NULL,
    year         INTEGER NOT NULL,
    last         BIGINT NOT NULL,
    PRIMARY KEY (agency_code, year)
);
CREATE TABLE receipts (
    id           TEXT PRIMARY KEY,
    payment_id   TEXT NOT NULL UNIQUE REFERENCES payments (id),
    agency_code  TEXT NOT NULL,
    year         INTEGER NOT NULL,
    number       BIGINT NOT NULL,
    issued_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (agency_code, year, number)
);

-- Money given back, each with its own record.
CREATE TABLE refunds (
    id          TEXT PRIMARY KEY,
    payment_id  TEXT NOT NULL REFERENCES payments (id),
    amount      BIGINT NOT NULL CHECK (amount > 0),
    reason      TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('requested', 'done')),
    created_by  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    done_at     TIMESTAMPTZ
);
CREATE INDEX refunds_payment ON refunds (payment_id);

-- Every message a gateway sent, with what was answered: the trail of refusals and replays.
CREATE TABLE payment_messages (
    id           TEXT PRIMARY KEY,
    provider     TEXT NOT NULL,
    txn_ref      TEXT,
    received_at  TIMESTAMPTZ NOT NULL,
    params       JSONB NOT NULL,
    verdict      TEXT NOT NULL,
    answer       TEXT NOT NULL
);
CREATE INDEX payment_messages_ref ON payment_messages (txn_ref, received_at);

-- A gateway's daily statement, as imported by an agency's accountant.
CREATE TABLE payment_statements (
    id           TEXT PRIMARY KEY,
    agency_code  TEXT NOT NULL,
    provider     TEXT NOT NULL,
    day          DATE NOT NULL,
    imported_by  TEXT NOT NULL,
    imported_at  TIMESTAMPTZ NOT NULL,
    lines        JSONB NOT NULL
);
CREATE INDEX payment_statements_agency ON payment_statements (agency_code, day);

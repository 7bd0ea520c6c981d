-- Accounts of citizens, businesses and officials.
CREATE TABLE accounts (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('citizen', 'business', 'official')),
    login          TEXT NOT NULL UNIQUE,
    full_name      TEXT NOT NULL,
    cccd           TEXT UNIQUE,
    tax_code       TEXT UNIQUE,
    birth_date     DATE,
    sex            TEXT,
    phone          TEXT,
    email          TEXT,
    password_hash  TEXT NOT NULL,
    assurance      BIGINT NOT NULL DEFAULT 1,
    failed_logins  BIGINT NOT NULL DEFAULT 0,
    locked_until   TIMESTAMPTZ,
    disabled       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);

-- Roles, each within one agency ('' for national roles).
CREATE TABLE account_roles (
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    agency_code  TEXT NOT NULL,
    role         TEXT NOT NULL,
    granted_by   TEXT NOT NULL,
    granted_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_id, agency_code, role)
);

-- Browser sessions; the token itself is never stored, only its SHA-256.
CREATE TABLE sessions (
    token_hash    TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    csrf          TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    ip            TEXT NOT NULL,
    user_agent    TEXT NOT NULL,
    revoked_at    TIMESTAMPTZ
);
CREATE INDEX sessions_account ON sessions (account_id);

-- Bearer tokens for scripts and integrators; stored as SHA-256.
CREATE TABLE api_tokens (
    token_hash  TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    label       TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX api_tokens_account ON api_tokens (account_id);

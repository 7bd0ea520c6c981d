-- Accounts of citizens, businesses and officials.
CREATE TABLE accounts (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('citizen', 'business', 'official')),
    login          TEXT NOT NULL UNIQUE,
    full_name      TEXT NOT NULL,
    cccd           TEXT UNIQUE,
    tax_code       TEXT UNIQUE,
    birth_date     TEXT,
    sex            TEXT,
    phone          TEXT,
    email          TEXT,
    password_hash  TEXT NOT NULL,
    assurance      INTEGER NOT NULL DEFAULT 1,
    failed_logins  INTEGER NOT NULL DEFAULT 0,
    locked_until   TEXT,
    disabled       INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

-- Roles, each within one agency ('' for national roles).
CREATE TABLE account_roles (
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    agency_code  TEXT NOT NULL,
    role         TEXT NOT NULL,
    granted_by   TEXT NOT NULL,
    granted_at   TEXT NOT NULL,
    PRIMARY KEY (account_id, agency_code, role)
);

-- Browser sessions; the token itself is never stored, only its SHA-256.
CREATE TABLE sessions (
    token_hash    TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    csrf          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    ip            TEXT NOT NULL,
    user_agent    TEXT NOT NULL,
    revoked_at    TEXT
);
CREATE INDEX sessions_account ON sessions (account_id);

-- Bearer tokens for scripts and integrators; stored as SHA-256.
CREATE TABLE api_tokens (
    token_hash  TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    label       TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE INDEX api_tokens_account ON api_tokens (account_id);

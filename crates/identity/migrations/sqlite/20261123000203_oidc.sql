-- OpenID Connect provider: signing keys, registered clients, codes, token families, consents.

-- Signing keys. The newest key not retired signs; retired keys stay published for a while so
-- that tokens they signed still verify.
CREATE TABLE oidc_keys (
    kid          TEXT PRIMARY KEY,
    alg          TEXT NOT NULL,
    private_pem  TEXT NOT NULL,
    n            TEXT NOT NULL,
    e            TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    retired_at   TEXT
);

-- Relying parties and machine clients. No secret hash: a public client (PKCE only).
CREATE TABLE oidc_clients (
    client_id         TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    secret_hash       TEXT,
    redirect_uris     TEXT NOT NULL,
    post_logout_uris  TEXT NOT NULL,
    scopes            TEXT NOT NULL,
    grants            TEXT NOT NULL,
    agency_code       TEXT NOT NULL DEFAULT '',
    created_by        TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    disabled          INTEGER NOT NULL DEFAULT 0
);

-- Authorization codes, stored as SHA-256; single use.
CREATE TABLE oidc_codes (
    code_hash     TEXT PRIMARY KEY,
    client_id     TEXT NOT NULL REFERENCES oidc_clients (client_id),
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    redirect_uri  TEXT NOT NULL,
    scopes        TEXT NOT NULL,
    nonce         TEXT,
    challenge     TEXT NOT NULL,
    sid           TEXT NOT NULL,
    auth_time     TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    used_at       TEXT,
    family        TEXT
);

-- A family: every token descended from one code (or one client-credentials grant).
-- Revoking the family revokes them all.
CREATE TABLE oidc_families (
    family          TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL REFERENCES oidc_clients (client_id),
    account_id      TEXT REFERENCES accounts (id),
    scopes          TEXT NOT NULL,
    sid             TEXT NOT NULL,
    auth_time       TEXT,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    revoked_at      TEXT,
    revoked_reason  TEXT
);
CREATE INDEX oidc_families_sid ON oidc_families (sid);
CREATE INDEX oidc_families_account ON oidc_families (account_id);

-- Access and refresh tokens, stored as SHA-256. A refresh token is used once (rotation).
CREATE TABLE oidc_tokens (
    token_hash  TEXT PRIMARY KEY,
    family      TEXT NOT NULL REFERENCES oidc_families (family),
    kind        TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
);
CREATE INDEX oidc_tokens_family ON oidc_tokens (family);

-- What each account has agreed to share with each client.
CREATE TABLE oidc_consents (
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    client_id   TEXT NOT NULL REFERENCES oidc_clients (client_id),
    scopes      TEXT NOT NULL,
    granted_at  TEXT NOT NULL,
    PRIMARY KEY (account_id, client_id)
);

-- Accounts, sessions and API tokens. An account is its e-mail address
-- (lower case); staff accounts belong to a department. Secrets are stored
-- only as hashes: argon2 for passwords, SHA-256 for random tokens.
CREATE TABLE accounts (
    email          TEXT    PRIMARY KEY,
    name           TEXT    NOT NULL,
    role           TEXT    NOT NULL,
    department     TEXT,
    password_hash  TEXT    NOT NULL,
    created_at     TEXT    NOT NULL,
    created_by     TEXT    NOT NULL
);

-- A signed-in browser: the cookie's token, hashed; expires absolutely.
CREATE TABLE sessions (
    token_hash   TEXT    PRIMARY KEY,
    account      TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    expires_at   TEXT    NOT NULL
);
CREATE INDEX sessions_by_account ON sessions (account);

-- Bearer tokens of the JSON API, one or more per account.
CREATE TABLE api_tokens (
    token_hash   TEXT    PRIMARY KEY,
    account      TEXT    NOT NULL,
    label        TEXT    NOT NULL,
    created_at   TEXT    NOT NULL
);

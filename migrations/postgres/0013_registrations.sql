-- Registrations waiting for their address to be confirmed. Registering
-- answers the same whether or not the address has an account; the mail
-- sent to it tells which (a link that opens the account, or a note that it
-- has one). Only the link's hash is kept; a row is taken once, until it
-- expires.
CREATE TABLE registrations (
    token_hash     TEXT    PRIMARY KEY,
    email          TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    password_hash  TEXT    NOT NULL,
    created_at     TEXT    NOT NULL,
    expires_at     TEXT    NOT NULL
);
CREATE INDEX registrations_expiry ON registrations (expires_at);

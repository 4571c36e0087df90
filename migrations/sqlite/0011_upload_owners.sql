-- Who sent each upload. Files are stored by content, so the same bytes sent
-- by two accounts are one file with two owners; a filing may name only an
-- upload its own account sent (another's hash is "not found", as a wrong
-- one is). Uploads from before this table have no owner and can no longer
-- be named by hash: the filings that use them keep them.
CREATE TABLE upload_owners (
    sha256      TEXT    NOT NULL,
    account     TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    PRIMARY KEY (sha256, account)
);

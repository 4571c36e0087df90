-- onewindow's store on SQLite. Times are China local civil times as text
-- (YYYY-MM-DDTHH:MM:SS), dates YYYY-MM-DD: both sort as they read.

-- Every workflow version a filing was filed under, as checked.
CREATE TABLE workflow_versions (
    id          TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    digest      TEXT    NOT NULL,
    definition  TEXT    NOT NULL,
    PRIMARY KEY (id, version)
);

CREATE TABLE filings (
    id          TEXT    PRIMARY KEY,
    workflow    TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    revision    INTEGER NOT NULL,
    state       TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);

-- Append-only and hash-chained: each entry's hash covers the previous one.
CREATE TABLE audit (
    seq         INTEGER PRIMARY KEY,
    filing_id   TEXT    NOT NULL,
    revision    INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    at          TEXT    NOT NULL,
    event       TEXT    NOT NULL,
    comment     TEXT    NOT NULL,
    state_hash  TEXT    NOT NULL,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL,
    UNIQUE (filing_id, revision)
);

-- The chain's head: the last entry's number and hash.
CREATE TABLE audit_head (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    seq         INTEGER NOT NULL,
    hash        TEXT    NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, 'genesis');

CREATE TABLE idempotency (
    key         TEXT    PRIMARY KEY,
    filing_id   TEXT    NOT NULL,
    revision    INTEGER NOT NULL,
    created_at  TEXT    NOT NULL
);

-- Side effects to carry out after commit: mail, rendering.
CREATE TABLE outbox (
    id            INTEGER PRIMARY KEY,
    filing_id     TEXT    NOT NULL,
    audit_seq     INTEGER NOT NULL,
    kind          TEXT    NOT NULL,
    payload       TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    available_at  TEXT    NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    leased_until  TEXT,
    leased_by     TEXT,
    done_at       TEXT,
    failed_at     TEXT,
    last_error    TEXT
);
CREATE INDEX outbox_pending ON outbox (available_at) WHERE done_at IS NULL AND failed_at IS NULL;

CREATE TABLE timers (
    id            INTEGER PRIMARY KEY,
    filing_id     TEXT    NOT NULL,
    fire_on       TEXT    NOT NULL,
    timer         TEXT    NOT NULL,
    leased_until  TEXT,
    leased_by     TEXT,
    fired_at      TEXT
);
CREATE INDEX timers_due ON timers (fire_on) WHERE fired_at IS NULL;

-- Issued documents, numbered in the transaction that issues them.
CREATE TABLE documents (
    id           INTEGER PRIMARY KEY,
    filing_id    TEXT    NOT NULL,
    audit_seq    INTEGER NOT NULL,
    event        TEXT    NOT NULL,
    outcome      INTEGER NOT NULL,
    title        TEXT    NOT NULL,
    template     TEXT    NOT NULL,
    issued_by    TEXT    NOT NULL,
    issued_on    TEXT    NOT NULL,
    number       TEXT    UNIQUE,
    verify_code  TEXT    NOT NULL UNIQUE,
    sha256       TEXT
);

-- Gapless numbering per pattern, department and year.
CREATE TABLE number_sequences (
    scope       TEXT    NOT NULL,
    year        INTEGER NOT NULL,
    last        INTEGER NOT NULL,
    PRIMARY KEY (scope, year)
);

-- What approvals create, feeding eligibility facts.
CREATE TABLE institutions (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    filing_id   TEXT    NOT NULL,
    workflow    TEXT    NOT NULL,
    approved_on TEXT    NOT NULL,
    opened_on   TEXT
);

CREATE TABLE agreements (
    id          TEXT    PRIMARY KEY,
    party_a     TEXT    NOT NULL,
    party_b     TEXT    NOT NULL,
    filing_id   TEXT    NOT NULL,
    term_start  TEXT    NOT NULL,
    term_end    TEXT    NOT NULL
);

-- Uploaded materials, stored by content outside anything served.
CREATE TABLE uploads (
    sha256      TEXT    PRIMARY KEY,
    size        INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    created_at  TEXT    NOT NULL
);

-- The read side: what lists and queues ask, written in the same transaction
-- as each transition, so a queue never disagrees with the filings.

-- Per filing: who filed it, its dates, and the format of its `state` column.
ALTER TABLE filings ADD COLUMN applicant TEXT NOT NULL DEFAULT '';
ALTER TABLE filings ADD COLUMN applicant_email TEXT;
ALTER TABLE filings ADD COLUMN received_on TEXT;
ALTER TABLE filings ADD COLUMN accepted_on TEXT;
ALTER TABLE filings ADD COLUMN decided_on TEXT;
ALTER TABLE filings ADD COLUMN state_format INTEGER NOT NULL DEFAULT 1;
-- Only columns that do not change with each transition are indexed, so an
-- update writes no index.
CREATE INDEX filings_by_applicant ON filings (applicant_email);

-- One row per piece of open work: the window's intake (step -1) or an
-- active step, with its department and due date. The warning level is
-- derived when read: red after `due_on`, yellow from `yellow_from`, paused
-- without a due date. `due_key` sorts paused work last.
CREATE TABLE active_steps (
    filing_id    TEXT    NOT NULL,
    step         INTEGER NOT NULL,
    department   TEXT    NOT NULL,
    workflow     TEXT    NOT NULL,
    since        TEXT    NOT NULL,
    due_on       TEXT,
    yellow_from  TEXT,
    due_key      TEXT    NOT NULL,
    PRIMARY KEY (filing_id, step)
) WITHOUT ROWID;
CREATE INDEX active_steps_queue ON active_steps (department, due_key, filing_id, step);

-- Who in a department took a piece of work.
CREATE TABLE step_claims (
    filing_id   TEXT    NOT NULL,
    step        INTEGER NOT NULL,
    account     TEXT    NOT NULL,
    claimed_at  TEXT    NOT NULL,
    PRIMARY KEY (filing_id, step)
);

-- Set once the read side holds every filing stored before it existed: the
-- store rebuilds it from the filings' states on first open (in Rust, which
-- knows the calendar).
CREATE TABLE read_side_built (
    id          INTEGER PRIMARY KEY CHECK (id = 1)
);

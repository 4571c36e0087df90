-- The fingerprint of the calendar files the open filings were last
-- scheduled on: a year's file added or corrected by hand while the
-- product was stopped is noticed at the next start, and the open filings
-- are scheduled again on it.
CREATE TABLE calendar_applied (
    id           INTEGER PRIMARY KEY,
    fingerprint  TEXT    NOT NULL
);

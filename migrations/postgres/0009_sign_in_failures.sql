-- Failed sign-ins, counted per account and per address over the last
-- fifteen minutes by every process that shares the database (limits kept
-- in one process's memory would be multiplied by the processes).
CREATE TABLE sign_in_failures (
    key  TEXT NOT NULL,
    at   TEXT NOT NULL
);

CREATE INDEX sign_in_failures_by_key ON sign_in_failures (key, at);

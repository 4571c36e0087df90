-- A filing's query code (查询码): with the filing's number it lets anyone
-- the applicant tells see the filing's progress, and nothing personal.
CREATE TABLE query_codes (
    filing_id   TEXT    PRIMARY KEY,
    code        TEXT    NOT NULL,
    created_at  TEXT    NOT NULL
);

-- The registry knows an institution by its unified social credit code
-- (统一社会信用代码): an institution this product registers keeps the code
-- its filing gave; institutions that came before it, or facts other
-- systems report (a licence's 诊疗科目, insurance assessments), are
-- recorded by code in registry_records. Eligibility facts are read from
-- both when an applicant files.
ALTER TABLE institutions ADD COLUMN credit_code TEXT;
CREATE INDEX institutions_by_credit_code ON institutions (credit_code);

CREATE TABLE registry_records (
    credit_code  TEXT    PRIMARY KEY,
    name         TEXT    NOT NULL,
    opened_on    TEXT,
    facts        TEXT    NOT NULL,
    source       TEXT    NOT NULL,
    recorded_at  TEXT    NOT NULL
);

-- A timer scheduled again replaces the filing's unfired one of its kind.
CREATE INDEX timers_unfired_by_filing ON timers (filing_id) WHERE fired_at IS NULL;

-- Evaluation results (评估), one per evaluating department of a filing:
-- recorded against the evaluated subject, with what follows a failure.
CREATE TABLE evaluations (
    filing_id   TEXT    NOT NULL,
    department  TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    year        INTEGER NOT NULL,
    passed      INTEGER NOT NULL,
    decided_on  TEXT    NOT NULL,
    consequence TEXT    NOT NULL,
    PRIMARY KEY (filing_id, department)
);

CREATE INDEX evaluations_by_subject ON evaluations (subject, year);

-- 好差评: the applicant's rating of a closed filing (five levels and a
-- comment), once; a poor one is answered by a department head.
CREATE TABLE ratings (
    filing_id    TEXT    PRIMARY KEY,
    stars        BIGINT  NOT NULL,
    comment      TEXT    NOT NULL,
    rated_at     TEXT    NOT NULL,
    rated_by     TEXT    NOT NULL,
    answer       TEXT,
    answered_by  TEXT,
    answered_at  TEXT
);

-- The policy staff's work on definitions.

-- A person's draft of a workflow's definition: one per person and
-- workflow, so two people never overwrite each other's text. The version
-- in service when the draft was begun tells whether someone published
-- since (then publishing it is refused until it is based on the new one).
CREATE TABLE drafts (
    workflow      TEXT    NOT NULL,
    account       TEXT    NOT NULL,
    base_version  BIGINT  NOT NULL,
    text          TEXT    NOT NULL,
    saved_at      TEXT    NOT NULL,
    PRIMARY KEY (workflow, account)
);

-- Versions published in the browser: who, when, why (变更说明), and the
-- definition's text. The checked definition is in workflow_versions; the
-- publication is also an entry of the audit chain.
CREATE TABLE publications (
    workflow      TEXT    NOT NULL,
    version       BIGINT  NOT NULL,
    published_by  TEXT    NOT NULL,
    published_at  TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    text          TEXT    NOT NULL,
    PRIMARY KEY (workflow, version)
);

-- Caller memory (Sticky Calls): customers of a project, the identifiers that
-- recognise them (ANI, external ids), their variables (with an expiry) and
-- intents, the calls made through /v1/calls/start and /v1/calls/end (with
-- their first responses, replayed on duplicates), and the per-org monthly
-- memory quota with its usage. Every lookup goes through a primary key or an
-- index, so it stays O(log n) in the number of customers.

CREATE TABLE memory_customers (
    customer_ref   TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL,
    project_id     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    last_call_at   BIGINT NOT NULL
);

-- kind: 'ani' (name '') or 'external_id' (name = the id's key). One
-- identifier belongs to one customer.
CREATE TABLE memory_identities (
    project_id     TEXT NOT NULL,
    kind           TEXT NOT NULL,
    name           TEXT NOT NULL,
    value          TEXT NOT NULL,
    customer_ref   TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (project_id, kind, name, value)
);
CREATE INDEX memory_identities_customer ON memory_identities(customer_ref);

CREATE TABLE memory_variables (
    customer_ref   TEXT NOT NULL,
    name           TEXT NOT NULL,
    project_id     TEXT NOT NULL,
    value          TEXT NOT NULL,
    source         TEXT,
    ttl_seconds    BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    PRIMARY KEY (customer_ref, name)
);

CREATE TABLE memory_intents (
    customer_ref   TEXT NOT NULL,
    intent         TEXT NOT NULL,
    project_id     TEXT NOT NULL,
    status         TEXT NOT NULL,
    attempt_count  BIGINT NOT NULL,
    resolution     TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (customer_ref, intent)
);

CREATE TABLE memory_calls (
    project_id         TEXT NOT NULL,
    call_id            TEXT NOT NULL,
    org_id             TEXT NOT NULL,
    customer_ref       TEXT NOT NULL,
    ani                TEXT,
    dnis               TEXT,
    call_start         BIGINT NOT NULL,
    call_end           BIGINT,
    start_fingerprint  TEXT,
    start_response     TEXT,
    end_fingerprint    TEXT,
    end_response       TEXT,
    PRIMARY KEY (project_id, call_id)
);
CREATE INDEX memory_calls_customer ON memory_calls(customer_ref, call_start);

CREATE TABLE memory_quotas (
    org_id           TEXT PRIMARY KEY,
    calls_per_month  BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

-- Uses per org and month (YYYY-MM), spread over a few rows (`shard`) so that
-- concurrent calls of an unlimited org do not all wait for one row lock. An
-- org with a quota counts on shard 0 only, which then holds its whole month.
CREATE TABLE memory_usage (
    org_id   TEXT NOT NULL,
    month    TEXT NOT NULL,
    shard    BIGINT NOT NULL,
    calls    BIGINT NOT NULL,
    PRIMARY KEY (org_id, month, shard)
);

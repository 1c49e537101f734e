-- Webhooks: the event outbox, org endpoints, project and agent endpoint state,
-- delivery jobs (one per event and endpoint) and the log of every attempt.

-- The outbox. A row is written in the same transaction as the state change it
-- reports; `payload` is the serialised envelope, the exact bytes every
-- delivery sends. `dispatched` flips once delivery jobs exist for it.
CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    project_id  TEXT,
    agent_id    TEXT,
    call_id     TEXT,
    event       TEXT NOT NULL,
    payload     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    dispatched  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX events_undispatched ON events (dispatched, created_at);
CREATE INDEX events_org ON events (org_id, id);

-- Org-level endpoints (`POST /v1/webhooks`).
CREATE TABLE webhooks (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES orgs(id),
    url              TEXT NOT NULL,
    events           TEXT NOT NULL,
    description      TEXT,
    enabled          BIGINT NOT NULL,
    secret           TEXT NOT NULL,
    disabled_reason  TEXT,
    failing_since    BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX webhooks_org ON webhooks (org_id, id);

-- The project-level endpoint (`PATCH /v1/project/webhook`).
ALTER TABLE projects ADD COLUMN webhook_url TEXT;
ALTER TABLE projects ADD COLUMN webhook_events TEXT;
ALTER TABLE projects ADD COLUMN webhook_secret TEXT;
ALTER TABLE projects ADD COLUMN webhook_enabled BIGINT NOT NULL DEFAULT 0;
ALTER TABLE projects ADD COLUMN webhook_disabled_reason TEXT;
ALTER TABLE projects ADD COLUMN webhook_failing_since BIGINT;

-- The agent-level endpoint's health (its url and secret are on the agent).
ALTER TABLE agents ADD COLUMN webhook_disabled_reason TEXT;
ALTER TABLE agents ADD COLUMN webhook_failing_since BIGINT;

-- One job per event and endpoint. `endpoint_kind` is org, project or agent;
-- `endpoint_id` the wh_/proj_/agent_ id. `locked_until` is the lease of the
-- worker sending it, so a crashed worker's jobs are picked up again.
CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    event_id         TEXT NOT NULL REFERENCES events(id),
    org_id           TEXT NOT NULL,
    endpoint_kind    TEXT NOT NULL,
    endpoint_id      TEXT NOT NULL,
    url              TEXT NOT NULL,
    state            TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    locked_until     BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

-- Every attempt, as the delivery logs show it.
CREATE TABLE webhook_attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id  TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    event        TEXT NOT NULL,
    org_id       TEXT NOT NULL,
    project_id   TEXT,
    call_id      TEXT,
    endpoint_id  TEXT NOT NULL,
    url          TEXT NOT NULL,
    attempt      BIGINT NOT NULL,
    status_code  BIGINT,
    success      BIGINT NOT NULL,
    error        TEXT,
    duration_ms  BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_call ON webhook_attempts (call_id, created_at, attempt);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);

-- The language a call was held in (after server_url overrides), for call.ended.
ALTER TABLE calls ADD COLUMN language TEXT;

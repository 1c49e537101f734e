-- Foundation: orgs, projects, API keys, agents and their audit log, idempotency.
-- Portable shapes: TEXT ids, BIGINT epoch-ms times, TEXT JSON, BIGINT 0/1 flags.

CREATE TABLE orgs (
    id                      TEXT PRIMARY KEY,
    name                    TEXT NOT NULL,
    tier                    TEXT NOT NULL,
    balance_micros          BIGINT NOT NULL,
    rate_per_minute_micros  BIGINT,
    credits_expire_at       BIGINT,
    balance_updated_at      BIGINT NOT NULL,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL
);

CREATE TABLE projects (
    internal_id   BIGSERIAL PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    org_id        TEXT NOT NULL REFERENCES orgs(id),
    name          TEXT NOT NULL,
    description   TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    deleted_at    BIGINT
);
CREATE INDEX projects_org ON projects(org_id, id);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES orgs(id),
    project_id    TEXT REFERENCES projects(id),
    kind          TEXT NOT NULL,
    name          TEXT NOT NULL,
    scope         TEXT NOT NULL,
    key_hash      TEXT NOT NULL UNIQUE,
    key_hint      TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX api_keys_project ON api_keys(project_id, id);
CREATE INDEX api_keys_org ON api_keys(org_id, id);

CREATE TABLE agents (
    id                        TEXT PRIMARY KEY,
    org_id                    TEXT NOT NULL REFERENCES orgs(id),
    project_id                TEXT NOT NULL REFERENCES projects(id),
    name                      TEXT NOT NULL,
    language                  TEXT NOT NULL,
    voice                     TEXT NOT NULL,
    max_duration              BIGINT NOT NULL,
    recording                 BIGINT NOT NULL,
    end_call_enabled          BIGINT NOT NULL,
    server_url                TEXT,
    webhook_url               TEXT,
    webhook_secret            TEXT NOT NULL,
    system_prompt             TEXT,
    first_message             TEXT,
    llm                       TEXT,
    silence_timeout_seconds   BIGINT NOT NULL,
    voicemail                 TEXT NOT NULL,
    knowledge_base_ids        TEXT NOT NULL,
    is_active                 BIGINT NOT NULL,
    archived_at               BIGINT,
    created_at                BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL
);
CREATE INDEX agents_project ON agents(project_id, id);

CREATE TABLE agent_audit (
    id          TEXT PRIMARY KEY,
    agent_id    TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    key_id      TEXT,
    action      TEXT NOT NULL,
    changes     TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX agent_audit_agent ON agent_audit(project_id, agent_id, id);

CREATE TABLE idempotency_keys (
    key_id        TEXT NOT NULL,
    method        TEXT NOT NULL,
    path          TEXT NOT NULL,
    idem_key      TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    state         TEXT NOT NULL,
    status        BIGINT,
    body          TEXT,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    PRIMARY KEY (key_id, method, path, idem_key)
);
CREATE INDEX idempotency_expiry ON idempotency_keys(expires_at);

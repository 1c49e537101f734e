-- Messaging: SMS sent through /v1/sms (and the sms channel of /v1/messages),
-- contacts with their one conversation across channels, and the messages of
-- those conversations. Calls join a conversation at read time by phone number,
-- so calls get indexes on the numbers; usage aggregates calls per org by day.

CREATE TABLE sms_messages (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL,
    project_id    TEXT NOT NULL,
    agent_id      TEXT,
    to_number     TEXT NOT NULL,
    from_number   TEXT,
    sender_name   TEXT,
    sender_type   TEXT NOT NULL,
    country       TEXT NOT NULL,
    body          TEXT NOT NULL,
    cost_micros   BIGINT NOT NULL,
    -- 'sent', or 'failed' when the channel refused it (the debit is refunded).
    status        TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX sms_messages_project_created ON sms_messages (project_id, created_at);
CREATE INDEX sms_messages_org_created ON sms_messages (org_id, created_at);

-- `email` is stored lowercased; a project has one contact per phone and per email.
CREATE TABLE contacts (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL,
    project_id    TEXT NOT NULL,
    name          TEXT,
    phone         TEXT,
    email         TEXT,
    external_ids  TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX contacts_project ON contacts (project_id, id);
CREATE UNIQUE INDEX contacts_phone ON contacts (project_id, phone);
CREATE UNIQUE INDEX contacts_email ON contacts (project_id, email);

-- One row per message of a conversation (not calls: those are read from calls).
-- sender_type: agent | contact; channel: sms | email | whatsapp | facebook | instagram.
CREATE TABLE messages (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL,
    project_id    TEXT NOT NULL,
    contact_id    TEXT NOT NULL,
    channel       TEXT NOT NULL,
    sender_type   TEXT NOT NULL,
    content       TEXT NOT NULL,
    subject       TEXT,
    ai            BIGINT NOT NULL,
    agent_id      TEXT,
    sms_id        TEXT,
    reply_to      TEXT,
    delivered     BIGINT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX messages_contact ON messages (project_id, contact_id, created_at);

CREATE INDEX calls_project_from ON calls (project_id, from_number);
CREATE INDEX calls_project_to ON calls (project_id, to_number);
CREATE INDEX calls_org_started ON calls (org_id, started_at);

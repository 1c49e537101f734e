-- Appointments: one calendar per project. Two active (scheduled or confirmed)
-- appointments of a project never overlap: an exclusion constraint (GiST over
-- the project and the time range, from btree_gist) refuses the second one
-- whatever the timing of the two transactions. Times are epoch ms (UTC),
-- ranges half-open [start_at, end_at).
CREATE TABLE appointments (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL,
    project_id     TEXT NOT NULL,
    agent_id       TEXT,
    call_id        TEXT,
    contact_id     TEXT,
    contact_name   TEXT,
    contact_phone  TEXT,
    contact_email  TEXT,
    title          TEXT NOT NULL,
    notes          TEXT,
    start_at       BIGINT NOT NULL,
    end_at         BIGINT NOT NULL,
    time_zone      TEXT NOT NULL,
    status         TEXT NOT NULL,
    cancel_reason  TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    CHECK (start_at < end_at)
);
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE appointments ADD CONSTRAINT appointments_no_overlap EXCLUDE USING gist
    (project_id WITH =, int8range(start_at, end_at) WITH &&)
    WHERE (status IN ('scheduled', 'confirmed'));
CREATE INDEX appointments_project ON appointments (project_id, id);
CREATE INDEX appointments_project_start ON appointments (project_id, start_at);

-- When appointments can be booked (domain::appointments::availability), as
-- JSON: one row for the project (agent_id '') and one per agent that has its own.
CREATE TABLE appointment_availability (
    project_id  TEXT NOT NULL,
    agent_id    TEXT NOT NULL,
    org_id      TEXT NOT NULL,
    settings    TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (project_id, agent_id)
);

-- The secret address of a project's iCalendar feed: only its SHA-256 is kept.
CREATE TABLE appointment_feeds (
    project_id  TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

-- Whether an agent's model is offered the appointment tools in its calls.
ALTER TABLE agents ADD COLUMN appointments_enabled BIGINT NOT NULL DEFAULT 0;

-- SMS reminders sent (or being sent) before an appointment, one row per
-- offset: the primary key is the claim, so no reminder goes out twice, even
-- from several workers.
CREATE TABLE appointment_reminders (
    appointment_id  TEXT NOT NULL,
    offset_minutes  BIGINT NOT NULL,
    org_id          TEXT NOT NULL,
    project_id      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (appointment_id, offset_minutes)
);
CREATE INDEX appointments_start ON appointments (start_at);

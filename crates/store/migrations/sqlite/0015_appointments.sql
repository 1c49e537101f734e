-- Appointments: one calendar per project. Two active (scheduled or confirmed)
-- appointments of a project never overlap. The triggers below refuse an
-- overlapping row whoever writes it; SQLite has one writer at a time, so the
-- check and the write cannot interleave with another booking. Times are epoch ms (UTC),
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
CREATE INDEX appointments_project ON appointments (project_id, id);
CREATE INDEX appointments_project_start ON appointments (project_id, start_at);
CREATE TRIGGER appointments_no_overlap_insert BEFORE INSERT ON appointments
WHEN NEW.status IN ('scheduled', 'confirmed')
BEGIN
    SELECT RAISE(ABORT, 'appointments_no_overlap') WHERE EXISTS (
        SELECT 1 FROM appointments WHERE project_id = NEW.project_id AND status IN ('scheduled', 'confirmed')
        AND start_at < NEW.end_at AND end_at > NEW.start_at);
END;
CREATE TRIGGER appointments_no_overlap_update BEFORE UPDATE ON appointments
WHEN NEW.status IN ('scheduled', 'confirmed')
BEGIN
    SELECT RAISE(ABORT, 'appointments_no_overlap') WHERE EXISTS (
        SELECT 1 FROM appointments WHERE project_id = NEW.project_id AND status IN ('scheduled', 'confirmed')
        AND start_at < NEW.end_at AND end_at > NEW.start_at AND id <> NEW.id);
END;

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

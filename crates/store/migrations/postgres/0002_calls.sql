-- Calls: one row per call, written when it starts ringing, updated when it is
-- answered and when it ends (with its cost debited in the same transaction).

CREATE TABLE calls (
    id                          TEXT PRIMARY KEY,
    org_id                      TEXT NOT NULL,
    project_id                  TEXT NOT NULL,
    agent_id                    TEXT NOT NULL,
    direction                   TEXT NOT NULL,
    from_number                 TEXT NOT NULL,
    to_number                   TEXT NOT NULL,
    status                      TEXT NOT NULL,
    disposition                 TEXT,
    ended_reason                TEXT,
    started_at                  BIGINT NOT NULL,
    answered_at                 BIGINT,
    ended_at                    BIGINT,
    duration_seconds            BIGINT NOT NULL,
    centi_minutes               BIGINT NOT NULL,
    rate_per_minute_micros      BIGINT NOT NULL,
    call_cost_micros            BIGINT NOT NULL,
    recording_cost_micros       BIGINT NOT NULL,
    transfer_cost_micros        BIGINT NOT NULL,
    llm_discount_micros         BIGINT NOT NULL,
    total_cost_micros           BIGINT NOT NULL,
    transfer_duration_seconds   BIGINT NOT NULL,
    transferred_to              TEXT,
    recording_enabled           BIGINT NOT NULL,
    has_recording               BIGINT NOT NULL,
    turn_count                  BIGINT NOT NULL,
    tool_call_count             BIGINT NOT NULL,
    tools_called                TEXT NOT NULL,
    metadata                    TEXT NOT NULL,
    extracted_data              TEXT,
    transcript                  TEXT NOT NULL,
    latency                     TEXT NOT NULL,
    ws_unavailable              BIGINT NOT NULL,
    config_source               TEXT NOT NULL,
    brain                       TEXT NOT NULL,
    created_at                  BIGINT NOT NULL,
    updated_at                  BIGINT NOT NULL
);
CREATE INDEX calls_project ON calls(project_id, id);
CREATE INDEX calls_project_started ON calls(project_id, started_at);
CREATE INDEX calls_agent ON calls(project_id, agent_id, id);
CREATE INDEX calls_open ON calls(status);

-- Numbers a customer owns at a carrier (Twilio today; Telnyx and SIP trunks
-- later) and imports. `provider` says whose number it is: `simulated` for
-- numbers bought here, which alone are billed every cycle. The carrier's
-- credentials for an imported number are kept sealed (AES-256-GCM under the
-- server's carrier secret, bound to the number's id) and never returned.
ALTER TABLE phone_numbers ADD COLUMN provider TEXT NOT NULL DEFAULT 'simulated';

CREATE TABLE carrier_credentials (
    phone_number_id  TEXT PRIMARY KEY REFERENCES phone_numbers(id),
    org_id           TEXT NOT NULL,
    project_id       TEXT NOT NULL,
    provider         TEXT NOT NULL,
    account_id       TEXT NOT NULL,
    secret_sealed    TEXT NOT NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX carrier_credentials_project ON carrier_credentials (project_id);

-- Phone numbers a project owns on a carrier. A released number keeps its row
-- (`released_at` set) so history and usage still resolve it; only one live row
-- may hold a given E.164 number. Each 28-day cycle is charged once: the charge
-- row's key (number, cycle) and the conditional advance of `next_billing_at`
-- make a second charge of the same cycle impossible.

CREATE TABLE phone_numbers (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES orgs(id),
    project_id       TEXT NOT NULL,
    phone_number     TEXT NOT NULL,
    country_code     TEXT NOT NULL,
    number_type      TEXT NOT NULL,
    agent_id         TEXT,
    address_id       TEXT,
    city_code        TEXT,
    next_billing_at  BIGINT NOT NULL,
    release_reason   TEXT,
    created_at       BIGINT NOT NULL,
    released_at      BIGINT
);
CREATE INDEX phone_numbers_project ON phone_numbers (project_id, id);
CREATE UNIQUE INDEX phone_numbers_live ON phone_numbers (phone_number) WHERE released_at IS NULL;
CREATE INDEX phone_numbers_billing ON phone_numbers (next_billing_at) WHERE released_at IS NULL;
CREATE INDEX phone_numbers_address ON phone_numbers (address_id) WHERE released_at IS NULL;

CREATE TABLE phone_number_charges (
    phone_number_id  TEXT NOT NULL,
    cycle            BIGINT NOT NULL,
    org_id           TEXT NOT NULL,
    project_id       TEXT NOT NULL,
    amount_micros    BIGINT NOT NULL,
    period_start     BIGINT NOT NULL,
    period_end       BIGINT NOT NULL,
    charged_at       BIGINT NOT NULL,
    PRIMARY KEY (phone_number_id, cycle)
);
CREATE INDEX phone_number_charges_org ON phone_number_charges (org_id, charged_at);

-- Addresses for regulatory verification, owned by the org. The simulated
-- carrier decides at submit; the decision (review_outcome) is revealed as the
-- status once review_due_at has passed.
CREATE TABLE addresses (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES orgs(id),
    street_address    TEXT NOT NULL,
    city              TEXT NOT NULL,
    postal_code       TEXT NOT NULL,
    country_code      TEXT NOT NULL,
    contact_name      TEXT NOT NULL,
    contact_email     TEXT NOT NULL,
    contact_phone     TEXT NOT NULL,
    company_name      TEXT,
    city_code         TEXT,
    status            TEXT NOT NULL,
    rejection_reason  TEXT,
    review_outcome    TEXT,
    review_reason     TEXT,
    review_due_at     BIGINT,
    submitted_at      BIGINT,
    reviewed_at       BIGINT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX addresses_org ON addresses (org_id, id);
CREATE INDEX addresses_review ON addresses (review_due_at) WHERE status = 'pending';

CREATE TABLE address_documents (
    id             TEXT PRIMARY KEY,
    address_id     TEXT NOT NULL REFERENCES addresses(id) ON DELETE CASCADE,
    org_id         TEXT NOT NULL,
    document_type  TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    file_name      TEXT NOT NULL,
    size_bytes     BIGINT NOT NULL,
    content        BLOB NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX address_documents_address ON address_documents (address_id, id);

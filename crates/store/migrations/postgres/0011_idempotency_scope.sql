-- An Idempotency-Key is scoped to the project a request acts on, not only to
-- the API key: an org key replaying a key with another X-Project-Id is a new
-- request. Slots are short-lived; the ones from before keep an empty project.
CREATE TABLE idempotency_keys_scoped (
    key_id        TEXT NOT NULL,
    project_id    TEXT NOT NULL,
    method        TEXT NOT NULL,
    path          TEXT NOT NULL,
    idem_key      TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    state         TEXT NOT NULL,
    status        BIGINT,
    body          TEXT,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    PRIMARY KEY (key_id, project_id, method, path, idem_key)
);
INSERT INTO idempotency_keys_scoped
    SELECT key_id, '', method, path, idem_key, request_hash, state, status, body, created_at, expires_at
    FROM idempotency_keys;
DROP TABLE idempotency_keys;
ALTER TABLE idempotency_keys_scoped RENAME TO idempotency_keys;
CREATE INDEX idempotency_expiry ON idempotency_keys(expires_at);

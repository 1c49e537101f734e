-- Live calls belong to the node whose runtime holds them: a node that restarts
-- closes only its own calls, never another node's in a shared database.
ALTER TABLE calls ADD COLUMN node_id TEXT;
CREATE INDEX calls_node_open ON calls(node_id, status);

-- The nodes sharing this database, and when each last said it was alive.
CREATE TABLE nodes (
    id            TEXT PRIMARY KEY,
    role          TEXT NOT NULL,
    started_at    BIGINT NOT NULL,
    heartbeat_at  BIGINT NOT NULL
);

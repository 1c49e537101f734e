-- Knowledge bases (org-wide), their entries, and full-text search (FTS5).
-- A knowledge base row is also its refresh job: `last_refresh_status =
-- 'crawling'` with no live lease is a crawl waiting for a worker.

CREATE TABLE knowledge_bases (
    id                    TEXT PRIMARY KEY,
    org_id                TEXT NOT NULL REFERENCES orgs(id),
    name                  TEXT NOT NULL,
    description           TEXT,
    status                TEXT NOT NULL,
    source_url            TEXT,
    crawl_frequency       TEXT NOT NULL,
    auto_refresh_enabled  BIGINT NOT NULL,
    max_depth             BIGINT NOT NULL,
    max_pages             BIGINT NOT NULL,
    last_crawled_at       BIGINT,
    last_refresh_status   TEXT NOT NULL,
    last_refresh_error    TEXT,
    -- What the running refresh does (`crawl` or `upload`) and its number: a
    -- crawl's result is only written while the number is unchanged.
    refresh_kind          TEXT,
    refresh_generation    BIGINT NOT NULL,
    refresh_lease_until   BIGINT,
    consecutive_failures  BIGINT NOT NULL,
    next_crawl_at         BIGINT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
CREATE INDEX knowledge_bases_org ON knowledge_bases (org_id, id);
CREATE INDEX knowledge_bases_refresh ON knowledge_bases (last_refresh_status, next_crawl_at);

-- `search_question` / `search_answer` hold the text as the domain normalises
-- it (case, contractions, number words), the same way queries are.
CREATE TABLE knowledge_entries (
    id                 TEXT PRIMARY KEY,
    org_id             TEXT NOT NULL,
    knowledge_base_id  TEXT NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
    question           TEXT NOT NULL,
    answer             TEXT NOT NULL,
    source             TEXT,
    origin             TEXT NOT NULL,
    search_question    TEXT NOT NULL,
    search_answer      TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX knowledge_entries_kb ON knowledge_entries (knowledge_base_id, id);
CREATE INDEX knowledge_entries_origin ON knowledge_entries (knowledge_base_id, origin);

CREATE VIRTUAL TABLE knowledge_entries_fts USING fts5(
    search_question, search_answer,
    content = 'knowledge_entries', content_rowid = 'rowid',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER knowledge_entries_fts_insert AFTER INSERT ON knowledge_entries BEGIN
    INSERT INTO knowledge_entries_fts (rowid, search_question, search_answer)
    VALUES (new.rowid, new.search_question, new.search_answer);
END;

CREATE TRIGGER knowledge_entries_fts_delete AFTER DELETE ON knowledge_entries BEGIN
    INSERT INTO knowledge_entries_fts (knowledge_entries_fts, rowid, search_question, search_answer)
    VALUES ('delete', old.rowid, old.search_question, old.search_answer);
END;

CREATE TRIGGER knowledge_entries_fts_update AFTER UPDATE OF search_question, search_answer ON knowledge_entries BEGIN
    INSERT INTO knowledge_entries_fts (knowledge_entries_fts, rowid, search_question, search_answer)
    VALUES ('delete', old.rowid, old.search_question, old.search_answer);
    INSERT INTO knowledge_entries_fts (rowid, search_question, search_answer)
    VALUES (new.rowid, new.search_question, new.search_answer);
END;

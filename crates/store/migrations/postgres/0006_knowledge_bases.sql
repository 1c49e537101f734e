-- Knowledge bases (org-wide), their entries, and full-text search (tsvector).
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
-- it (case, contractions, number words), the same way queries are; the
-- question weighs more (A) than the answer (B).
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
    search_vector      tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', search_question), 'A') ||
        setweight(to_tsvector('english', search_answer), 'B')
    ) STORED,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX knowledge_entries_kb ON knowledge_entries (knowledge_base_id, id);
CREATE INDEX knowledge_entries_origin ON knowledge_entries (knowledge_base_id, origin);
CREATE INDEX knowledge_entries_search ON knowledge_entries USING GIN (search_vector);

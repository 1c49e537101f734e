-- The post-call analysis of an answered call (summary, sentiment, outcome,
-- success), as one JSON document; NULL until written and for unanswered calls.
ALTER TABLE calls ADD COLUMN analysis TEXT;
-- What a successful call of the agent achieves, judged by post-call analysis.
ALTER TABLE agents ADD COLUMN success_criteria TEXT;

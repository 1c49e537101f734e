-- A webhook made with a project key (or an org key with X-Project-Id) belongs
-- to that project and receives only its events; one made with an org key
-- alone stays org-wide (project_id NULL).
ALTER TABLE webhooks ADD COLUMN project_id TEXT;
CREATE INDEX webhooks_scope ON webhooks(org_id, project_id);

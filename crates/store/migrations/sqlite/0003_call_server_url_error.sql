-- Why a call ran on the agent's stored configuration although it has a server_url.
ALTER TABLE calls ADD COLUMN server_url_error TEXT;

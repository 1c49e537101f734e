#!/usr/bin/env bash
# Runs schemathesis against a live server on a fresh database (SQLite, or a new
# database on the PostgreSQL server given as the second argument): project
# routes with a project key (project webhooks included), then the org-key routes (`/v1/org/…` and the org
# webhooks) with an org key (separately, since the org run may legitimately
# delete projects). Fails on any 5xx, any response
# that violates the document, and any schema-invalid request that is accepted.
# `positive_data_acceptance` is left out: voice names and BCP-47 validity are
# rules JSON Schema cannot state, so some schema-valid bodies are rightly 400.
set -euo pipefail
bin=$(realpath "$1")
postgres=${2:-}
seconds=${SCHEMATHESIS_SECONDS:-60}
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if [ -n "$postgres" ]; then
  name="sb_schemathesis_$(date +%s)_$$"
  psql -q "$postgres" -c "CREATE DATABASE $name"
  export SWITCHBOARD_DATABASE_URL="${postgres%/*}/$name"
else
  export SWITCHBOARD_DATABASE_URL="sqlite://$work/switchboard.db"
fi
export SWITCHBOARD_LOG=warn
# Schemathesis probes with invalid keys on purpose; keep the IP lock-out out of its way.
export SWITCHBOARD_AUTH__FAILURE_LIMIT=100000000

creds=$("$bin" admin bootstrap --org-name Schemathesis --json)
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$creds" "$1"; }
"$bin" admin set-tier --org "$(field org_id)" --tier enterprise >/dev/null

"$bin" serve --dev --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server=$!
cleanup() {
  kill $server 2>/dev/null || true
  wait $server 2>/dev/null || true
  rm -rf "$work"
  if [ -n "$postgres" ]; then psql -q "$postgres" -c "DROP DATABASE IF EXISTS $name" || true; fi
}
trap cleanup EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/v1/health" >/dev/null && break; sleep 0.1; done

run() {
  python3 "$(dirname "$0")/run_schemathesis.py" run "http://127.0.0.1:$port/v1/openapi.json" --max-time "$seconds" --workers 2 \
    --exclude-checks positive_data_acceptance --suppress-health-check too_slow --generation-allow-x00 true "$@"
}
echo "-- project routes, project key"
run -H "Authorization: Bearer $(field project_key)" --exclude-path-regex '^/v1/org/'
echo "-- org routes and org webhooks, org key"
run -H "Authorization: Bearer $(field org_key)" --include-path-regex '^/v1/(org/|webhooks)'

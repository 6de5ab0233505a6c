#!/usr/bin/env bash
# End-to-end check of the zero-setup path, as a person would use it: `evalium serve --demo` creates its
# own PostgreSQL in a fresh data folder, signs the demo administrator in with the command it printed,
# mails a sign-in link into the data folder, stops that PostgreSQL on SIGTERM, and says in one line how
# to install PostgreSQL when it is missing.
# Usage: scripts/smoke_serve.sh WORKDIR   (WORKDIR must be traversable by the postgres OS user)
set -euo pipefail
cd "$(dirname "$0")/.."
workdir="$1"
data="$workdir/serve-data"
evalium=.build/debug/evalium
passed=0
failed=0
check() {  # check DESCRIPTION COMMAND...
    if "${@:2}" >/dev/null 2>&1; then passed=$((passed + 1)); echo "  ok   $1"; else failed=$((failed + 1)); echo "  FAIL $1"; fi
}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$evalium" serve --demo --data-dir "$data" --port "$port" > "$workdir/serve.log" 2>&1 &
server=$!
# Whatever happens below, leave no server and no PostgreSQL behind.
stop_everything() {
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    "$evalium" db stop --data-dir "$data" >/dev/null 2>&1 || true
}
trap stop_everything EXIT
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.2
done
token=$(cat "$data/platform-token" 2>/dev/null || true)
tenant=$(cat "$data/demo-tenant" 2>/dev/null || true)
check "serve is ready on its own PostgreSQL" curl -sf "http://127.0.0.1:$port/readyz"
check "serve printed how to sign in" grep -q "/v1/auth/magic-links/consume" "$workdir/serve.log"
# Run the printed sign-in command as printed (its two lines joined), keep the access token.
sign_in=$(grep -A1 "magic-links/consume" "$workdir/serve.log" | sed 's/^evalium: *//; s/\\$//' | tr -d '\n')
access=$(eval "$sign_in" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["accessToken"])' 2>/dev/null || true)
check "the printed command signs the demo administrator in" test -n "$access"
check "the administrator's token lists the tenant's people" \
    curl -sf -H "Authorization: Bearer $access" "http://127.0.0.1:$port/v1/users"
check "the platform operator's token reads the demo tenant's ledger" \
    curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port/v1/tenants/$tenant/ledger/events"
# The README's authoring walk-through: a question, a quiz pinning it, publish, preview in French.
api() { curl -sf -H "Authorization: Bearer $access" -H 'Content-Type: application/json' "$@"; }
json_field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }
question=$(api -X POST "http://127.0.0.1:$port/v1/questions" -d '{"kind":"true_false","content":{"prompt":{"defaultLocale":"en","locales":{"en":"Extinguishers are checked monthly","fr-CA":"Les extincteurs sont vérifiés chaque mois"}},"answerKey":{"correctValue":true}}}' 2>/dev/null | json_field '["question"]["id"]' 2>/dev/null || true)
quiz=$(api -X POST "http://127.0.0.1:$port/v1/evaluations" -d "{\"kind\":\"knowledge\",\"definition\":{\"title\":\"Fire safety basics\",\"grading\":{\"passThreshold\":0.8},\"sections\":[{\"items\":[{\"questionId\":\"$question\"}]}]}}" 2>/dev/null | json_field '["evaluation"]["id"]' 2>/dev/null || true)
check "an author publishes a quiz built from a new question" api -X POST "http://127.0.0.1:$port/v1/evaluations/$quiz/versions/1/publish"
check "its preview reads in French" sh -c "curl -sf -H 'Authorization: Bearer $access' 'http://127.0.0.1:$port/v1/evaluations/$quiz/preview?lang=fr-CA' | grep -q 'Les extincteurs'"
curl -sf -X POST "http://127.0.0.1:$port/v1/auth/magic-links" -H 'Content-Type: application/json' \
    -d "{\"tenantId\":\"$tenant\",\"email\":\"admin@demo.evalium.test\"}" >/dev/null 2>&1 || true
for _ in $(seq 1 25); do grep -qs "Sign-in token" "$data"/mail/*.eml && break; sleep 0.2; done
check "a requested sign-in link arrives in the mail folder" grep -qs "Sign-in token" "$data"/mail/*.eml
check "access log lines are JSON with route and request id" \
    python3 -c "import json,sys; lines=[json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]; assert any(l.get('route')=='/readyz' and l.get('request_id','').startswith('req_') for l in lines)" "$workdir/serve.log"
kill -TERM "$server"
wait "$server" || true
check "SIGTERM stopped the private PostgreSQL" test ! -e "$data/postgres/postmaster.pid"

missing=$(EVALIUM_POSTGRES_BINDIR=/nonexistent "$evalium" serve --data-dir "$workdir/none" 2>&1 || true)
check "without PostgreSQL, one clear line says how to install it" \
    test "$(printf '%s\n' "$missing" | grep -c .)" -eq 1 -a -n "$(printf '%s' "$missing" | grep 'apt-get install -y postgresql')"

echo "serve smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

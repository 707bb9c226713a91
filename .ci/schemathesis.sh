#!/usr/bin/env bash
# The server against its own API document: schemathesis generates requests from
# /openapi.json (valid and invalid ones) and checks every answer: no 5xx, only
# documented status codes and content types, every body matching its schema. It runs
# three times: anonymously, with a user's token (a complete profile, so search and the
# rest get past their checks) and with an administrator's token.
#
# Usage: .ci/schemathesis.sh [SERVER_BINARY]   (or DUET_BIN; default target/debug/duet)
# Environment: SCHEMATHESIS_EXAMPLES (test cases per operation and phase, default 30),
# SCHEMATHESIS_WORKERS (default 1: with two, hypothesis' lambda-source parsing raced on
# Python 3.11 and stopped the coverage phase with "AST constructor recursion depth
# mismatch"; one worker takes about 90 s for the three runs on two shared cores).
# Exits non-zero on any failure.
#
# The server runs on a free port with a temporary data folder (SQLite) and the rate
# limits raised, so schemathesis meets 429 only where a limit is part of the logic (the
# failed-login budget of one account). Its log is printed when a run fails.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${1:-${DUET_BIN:-target/debug/duet}}
EXAMPLES=${SCHEMATHESIS_EXAMPLES:-30}
WORKERS=${SCHEMATHESIS_WORKERS:-1}
# A version checked with Python 3.11 against this server.
SCHEMATHESIS_VERSION=4.32.5

if [ ! -x "$BIN" ]; then
  echo "no server binary at $BIN (build it with: cargo build -p duet)" >&2
  exit 1
fi
if ! command -v schemathesis >/dev/null 2>&1 \
  || [ "$(schemathesis --version 2>/dev/null | awk '{print $NF}')" != "$SCHEMATHESIS_VERSION" ]; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION"
  python3 -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
started=$SECONDS

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
export DUET_DATA_DIR="$WORK/data"
mkdir -p "$DUET_DATA_DIR"

# The administrator, made the supported way (`duet admin create`, the password on
# standard input): the public API has no route that makes administrators.
ADMIN_PASSWORD="schemathesis-admin-$RANDOM$RANDOM"
printf '%s\n' "$ADMIN_PASSWORD" | "$BIN" admin create --username st_admin >/dev/null

"$BIN" serve --bind "127.0.0.1:$PORT" --access-ttl 1h \
  --rate-login 100000/min --rate-signup 100000/min --rate-signup-address 100000/min --rate-search 100000/min \
  --rate-avatar 100000/min --rate-default 1000000/min \
  --log warn >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "$BASE/health" 2>/dev/null && break
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    cat "$WORK/server.log" >&2
    echo "the server did not start" >&2
    exit 1
  fi
  sleep 0.1
done
curl -fsS -o /dev/null "$BASE/health"

json_field() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }
profile() { # gender, preferred gender
  printf '{"nickname": "Linh", "dob": "1998-05-17", "gender": "%s", "preferred_gender": ["%s"],
           "needs": ["friends"], "interests": ["coffee", "travel"]}' "$1" "$2"
}
# Signs up USERNAME with a complete profile of GENDER seeking PREFERRED; prints the
# sign-up answer.
member() {
  local answer token
  answer=$(curl -fsS -X POST "$BASE/auth/signup" -H 'content-type: application/json' \
    -d "{\"username\": \"$1\", \"password\": \"schemathesis user password\"}")
  token=$(json_field '["access_token"]' <<<"$answer")
  curl -fsS -o /dev/null -X PUT "$BASE/user/profile" -H "authorization: Bearer $token" \
    -H 'content-type: application/json' -d "$(profile "$2" "$3")"
  printf '%s' "$answer"
}
search() {
  curl -fsS -X POST "$BASE/chat/search" -H "authorization: Bearer $1" \
    -H 'content-type: application/json' -d '{"type": "chat"}'
}

# The user, matched with a partner, so the room routes meet a real room of theirs.
USER=$(member st_user female male)
USER_TOKEN=$(json_field '["access_token"]' <<<"$USER")
PARTNER=$(member st_partner male female)
search "$USER_TOKEN" >/dev/null
ROOM_ID=$(search "$(json_field '["access_token"]' <<<"$PARTNER")" | json_field '["room_id"]')
ADMIN_TOKEN=$(curl -fsS -X POST "$BASE/auth/login" -H 'content-type: application/json' \
  -d "{\"username\": \"st_admin\", \"password\": \"$ADMIN_PASSWORD\"}" | json_field '["access_token"]')
IDS="$(json_field '["user"]["id"]' <<<"$USER"), $(json_field '["user"]["id"]' <<<"$PARTNER"), $ROOM_ID"

# Excluded: POST /auth/logout, which revokes every access token of the caller issued
# until then, so the rest of the run would only meet 401. Nothing else needs leaving
# out: the administrator cannot ban itself or change its own role (400), and a ban or
# edit of the user (the administrator's run comes last) no longer matters by then;
# deleting an account needs its password, which generated data does not find.
# The stateful phase is left out: the document declares no links between operations.
# Schemathesis signs up and logs in by itself when it sees a sign-up route; the runs
# use the identities given here instead (none for the anonymous run).
# Half the path ids are drawn from the ones that exist (the two users, their room and,
# once the user's run has filed it, the report about it, whose id is 1), so the
# handlers behind the 404 answer too; the rest are generated.
cat >"$WORK/schemathesis.toml" <<TOML
[auth]
auto-signup = false

[dictionaries.ids]
values = [1, $IDS]

[parameters]
"path.room_id" = { dictionary = "ids", probability = 0.5 }
"path.user_id" = { dictionary = "ids", probability = 0.5 }
"path.id" = { dictionary = "ids", probability = 0.5 }
TOML

run() {
  local who=$1
  shift
  echo "==> schemathesis as $who"
  local rc=0
  # From the temporary folder: schemathesis keeps a cache of past failures in the
  # working directory (.schemathesis/), which would leak from one run into the next.
  (cd "$WORK" && schemathesis --config-file "$WORK/schemathesis.toml" run "$BASE/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --exclude-path /auth/logout \
    --phases examples,coverage,fuzzing \
    --max-examples "$EXAMPLES" \
    --workers "$WORKERS" \
    --request-timeout 10 \
    --generation-database none \
    --suppress-health-check too_slow,filter_too_much \
    --seed 1 \
    --no-color \
    --report-dir "$WORK/report-$who" \
    "$@") || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "schemathesis as $who failed (exit $rc); the server's log:" >&2
    tail -n 40 "$WORK/server.log" >&2
    exit "$rc"
  fi
}

run anonymous
run user -H "Authorization: Bearer $USER_TOKEN"
run admin -H "Authorization: Bearer $ADMIN_TOKEN"
echo "schemathesis: three runs passed in $((SECONDS - started)) s"

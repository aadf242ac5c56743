#!/usr/bin/env bash
# Fuzzes the real collector against its own OpenAPI document with schemathesis (all checks, a
# bounded number of examples), run by `pnpm test` after the unit suites. Sets up its virtualenv
# under packages/collector/.venv from scratch when missing or when the pin changed; starts the
# built collector on a free port with a temporary database and an API key, runs schemathesis,
# stops the collector. Needs the package built (pnpm test builds first).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP="$VENV/.pins"
PINS=$(sha256sum scripts/schemathesis-requirements.txt | cut -d' ' -f1)
if [ ! -x "$VENV/bin/schemathesis" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$PINS" ]; then
  echo "collector API fuzz: creating $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r scripts/schemathesis-requirements.txt
  echo "$PINS" > "$STAMP"
fi

WORK=$(mktemp -d)
KEY="fuzz-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
node dist/cli.js serve --port 0 --storage "sqlite:$WORK/fuzz.db" --api-key "$KEY" \
  --analysis-delay 50 >"$WORK/collector.log" 2>&1 &
COLLECTOR=$!
stop() {
  kill "$COLLECTOR" 2>/dev/null || true
  wait "$COLLECTOR" 2>/dev/null || true
  rm -rf "$WORK"
}
trap stop EXIT

URL=""
for _ in $(seq 1 100); do
  URL=$(grep -o 'listening on http://[^ ]*' "$WORK/collector.log" | head -1 | cut -d' ' -f3 || true)
  [ -n "$URL" ] && break
  kill -0 "$COLLECTOR" 2>/dev/null || { cat "$WORK/collector.log"; exit 1; }
  sleep 0.1
done
[ -n "$URL" ] || { echo "collector did not start"; cat "$WORK/collector.log"; exit 1; }

URL="$URL" KEY="$KEY" node -e '
  fetch(`${process.env.URL}/api/openapi.json`, { headers: { authorization: `Bearer ${process.env.KEY}` } })
    .then((r) => { if (!r.ok) throw new Error(`openapi.json: ${r.status}`); return r.text(); })
    .then((t) => process.stdout.write(t));
' >"$WORK/openapi.json"
echo "collector API fuzz: schemathesis against $URL"
# Run from the temporary directory: schemathesis keeps its cache (.schemathesis/) in the
# working directory.
HERE=$(pwd)
cd "$WORK"
"$HERE/$VENV/bin/schemathesis" --no-color --config-file "$HERE/scripts/schemathesis.toml" run "$WORK/openapi.json" \
  --url "$URL" \
  --header "Authorization: Bearer $KEY" \
  --checks all \
  --max-examples "${RACEWAY_FUZZ_EXAMPLES:-25}" \
  --seed 1 \
  --workers 1 \
  --request-timeout 10

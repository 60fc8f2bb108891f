#!/usr/bin/env bash
# sdk_typescript.sh - the TypeScript SDK (sdk/typescript) against the real
# daemon: builds a scratch copy of the package exactly as a user does
# (`npm ci`, `npm run build`: dist/index.js + dist/index.d.ts, no runtime
# dependencies), type-checks a consumer against the bundled declarations,
# starts fmugwd on port 0 with a 3 s token lifetime, runs the `node --test`
# suite (sdk/typescript/test), runs the commands of
# docs/tutorials/typescript.md, and validates every exchange the SDK recorded
# (FMUGW_CONTRACT_LOG format of tests/integration/harness.h) against
# api/openapi.yaml with tools/check-responses.mjs.
source "$(dirname "$0")/lib.bash"

: "${FMUGWD:?FMUGWD must point to the fmugwd binary}"
: "${FMUGW:?FMUGW must point to the fmugw binary}"
: "${FMUGW_SOURCE_DIR:?}"
: "${FMUGW_FMU_DIR:?}"
SRC=$FMUGW_SOURCE_DIR

# ---- Node.js >= 20 and npm ---------------------------------------------------
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    fail "node and npm are required (scripts/deps.sh installs them)"
    finish
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -ge 20 ]; then pass "node $(node --version)"; else
    fail "node $(node --version): the SDK needs Node.js 20 or newer (scripts/deps.sh)"; finish; fi

# npm keeps using the real cache (the lock file's packages), HOME is private.
export npm_config_cache=${npm_config_cache:-${HOME:-/root}/.npm}
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
export HOME="$WORK/home"
mkdir -p "$HOME"
unset FMUGW_BASE_URL FMUGW_API_KEY FMUGW_PROFILE

# ---- build a scratch copy ------------------------------------------------------
REPO="$WORK/repo"
mkdir -p "$REPO"
tar -C "$SRC" --exclude=node_modules --exclude=dist --exclude='*.tgz' -cf - sdk/typescript examples/typescript \
    docs/tutorials/typescript.md | tar -C "$REPO" -xf -
PKG="$REPO/sdk/typescript"
[ -f "$PKG/package-lock.json" ] && pass "package-lock.json committed" || fail "no sdk/typescript/package-lock.json"
expect_exit 0 "npm ci" -- npm ci --prefix "$PKG" --prefer-offline
expect_exit 0 "npm run build (tsc)" -- npm run --prefix "$PKG" build
for f in dist/index.js dist/index.d.ts; do
    [ -s "$PKG/$f" ] && pass "$f built" || fail "$f missing"
done
if node -e 'const p=require(process.argv[1]); process.exit(p.dependencies && Object.keys(p.dependencies).length ? 1 : 0)' \
    "$PKG/package.json"; then pass "no runtime dependencies"; else fail "package.json has runtime dependencies"; fi
if command -v git >/dev/null && git -C "$SRC" rev-parse >/dev/null 2>&1; then
    if git -C "$SRC" check-ignore -q sdk/typescript/node_modules/x &&
        git -C "$SRC" check-ignore -q sdk/typescript/dist/index.js; then
        pass "node_modules and dist are git-ignored"; else fail "node_modules or dist not git-ignored"; fi
    if git -C "$SRC" check-ignore -q sdk/typescript/package-lock.json; then fail "the lock file is ignored"; fi
fi

# The bundled declarations serve a strict TypeScript consumer.
mkdir -p "$WORK/consumer/node_modules"
ln -s "$PKG" "$WORK/consumer/node_modules/fmugw"
cat >"$WORK/consumer/main.ts" <<'EOF'
import { Client, JobFailedError, NotFoundError, type SimulationResult } from "fmugw";
async function main(): Promise<number> {
  const c = new Client({ maxRetries: 2 });
  try {
    const r: SimulationResult = await c.simulate("model.fmu", { stopTime: 3, startValues: { h: 1 } });
    const t: number | string | undefined = r.rows[0]?.["time"];
    return r.rows.length + (typeof t === "number" ? t : 0);
  } catch (e) {
    if (e instanceof JobFailedError) return e.job["status"] === "failed" ? 1 : 2;
    if (e instanceof NotFoundError) return e.status;
    throw e;
  }
}
void main;
EOF
cat >"$WORK/consumer/bad.ts" <<'EOF'
import { Client } from "fmugw";
void new Client().simulate("model.fmu", { stopTme: 3 });
EOF
tsc() { node "$PKG/node_modules/typescript/bin/tsc" --strict --noEmit --module nodenext --moduleResolution nodenext \
    --target es2022 --types node --typeRoots "$PKG/node_modules/@types" "$@"; }
expect_exit 0 "a strict TypeScript consumer type-checks" -- tsc "$WORK/consumer/main.ts"
expect_exit 2 "a misspelt option is a type error" -- tsc "$WORK/consumer/bad.ts"
expect_in "$WORK/out" "stopTme" "the type error names the option"

# ---- the daemon ----------------------------------------------------------------
DATA="$WORK/data"
TTL=3
FMUGW_TOKEN_TTL_S=$TTL "$FMUGWD" --listen 127.0.0.1:0 --data-dir "$DATA" \
    --openapi "$SRC/api/openapi.yaml" >"$WORK/daemon.out" 2>"$WORK/daemon.log" &
pid=$!
port=""
for _ in $(seq 1 100); do
    port=$(grep '"msg":"listening"' "$WORK/daemon.log" 2>/dev/null | sed -n 's/.*"port":\([0-9]*\).*/\1/p' | head -1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$port" ]; then
    fail "the daemon did not start"
    tail -5 "$WORK/daemon.log" >&2
    kill "$pid" 2>/dev/null
    finish
fi
base="http://127.0.0.1:$port"
admin_key=$(sed -n 's/.*"admin_api_key":"\([^"]*\)".*/\1/p' "$WORK/daemon.out" | head -1)
[ -n "$admin_key" ] && pass "daemon on port $port, admin key read" || fail "no admin key on the first start"

# The test accounts, created before any traffic (see helpers.mjs).
accounts="{"
for name in upload malformed errors ratelimit jobs credits tutorial; do
    email="ts-$name@example.com"
    json=$("$FMUGWD" admin --data-dir "$DATA" account create --email "$email" --tier free --json) ||
        fail "admin account create $name"
    accounts="$accounts\"$name\":${json%\}},\"email\":\"$email\"},"
done
accounts="${accounts%,}}"
for name in jobs tutorial; do
    "$FMUGWD" admin --data-dir "$DATA" credits grant --email "ts-$name@example.com" --amount 100000 \
        --reason "sdk_typescript.sh" >/dev/null 2>&1 || true
done
"$FMUGWD" admin --data-dir "$DATA" credits set --email ts-credits@example.com --amount 0 >/dev/null 2>&1 || true

# Every exchange of the SDK, for the contract check below (and the shared log).
LOG="$WORK/contract.jsonl"
: >"$LOG"

# ---- node --test ---------------------------------------------------------------
(
    cd "$PKG" &&
    FMUGW_CONTRACT_LOG="$LOG" FMUGW_TEST_BASE_URL="$base" FMUGW_TEST_API_KEY="$admin_key" \
    FMUGW_TEST_DATA_DIR="$DATA" FMUGW_TEST_TOKEN_TTL_S=$TTL FMUGW_TEST_ACCOUNTS="$accounts" \
    node --test --test-reporter=spec test/*.test.mjs
) >"$WORK/node-test.out" 2>&1
rc=$?
cat "$WORK/node-test.out"
[ "$rc" -eq 0 ] && pass "node --test" || fail "node --test exited $rc"

# ---- the tutorial's commands -----------------------------------------------------
# Fenced blocks opened with ```sh test run in order in one shell; ```sh test jobs
# blocks need the job routes and are skipped until api/openapi.yaml has them.
jobs_routes=0
grep -q '^  /fmu/execute:' "$SRC/api/openapi.yaml" && jobs_routes=1
awk -v jobs="$jobs_routes" '
    /^```sh test/ { inblock = 1; want = ($0 ~ /jobs/) ? jobs : 1; if (!want) skipped++; next }
    /^```/ && inblock { inblock = 0; next }
    inblock && want { print }
    END { if (skipped) printf "echo \"tutorial: %d block(s) skipped: no job routes yet\"\n", skipped }
' "$REPO/docs/tutorials/typescript.md" >"$WORK/tutorial.sh"
[ "$(grep -c . "$WORK/tutorial.sh")" -ge 5 ] && pass "tutorial commands extracted" || fail "no tutorial commands"
tut_key=$(node -e 'console.log(JSON.parse(process.argv[1]).tutorial.api_key)' "$accounts")
mkdir -p "$WORK/tutorial"
(
    cd "$WORK/tutorial" &&
    FMUGW_REPO="$REPO" MODEL="$FMUGW_FMU_DIR/3.0/BouncingBall.fmu" FMUGW_CONTRACT_LOG="$LOG" \
    FMUGW_BASE_URL="$base" FMUGW_API_KEY="$tut_key" bash -e -x "$WORK/tutorial.sh"
) >"$WORK/tutorial.out" 2>&1
rc=$?
[ "$rc" -eq 0 ] && pass "tutorial commands run" || { fail "tutorial commands exited $rc"; tail -20 "$WORK/tutorial.out" >&2; }
[ -f "$HOME/my-sims/node_modules/fmugw/dist/index.d.ts" ] && pass "the packed package installs with its declarations" ||
    fail "the packed package has no dist/index.d.ts"
if [ "$jobs_routes" = 1 ]; then
    "$FMUGW" sim "$FMUGW_FMU_DIR/3.0/BouncingBall.fmu" --stop-time 3 --quiet >"$WORK/offline.csv"
    if cmp -s "$WORK/offline.csv" "$HOME/my-sims/results.csv"; then pass "tutorial results = fmugw sim offline"; else
        fail "tutorial results.csv differs from fmugw sim"; fi
    expect_in "$WORK/tutorial.out" "301 rows" "the example prints the row count"
fi

# ---- the contract ------------------------------------------------------------------
n=$(grep -c . "$LOG")
[ "$n" -ge 20 ] && pass "$n exchanges recorded" || fail "only $n exchanges recorded"
if [ -n "${FMUGW_CONTRACT_LOG:-}" ]; then cat "$LOG" >>"$FMUGW_CONTRACT_LOG"; fi
if [ -d "$SRC/tools/node_modules" ] && [ -f "$SRC/tools/check-responses.mjs" ]; then
    expect_exit 0 "every recorded response matches api/openapi.yaml" -- \
        node "$SRC/tools/check-responses.mjs" --spec "$SRC/api/openapi.yaml" "$LOG"
    [ "$failures" -eq 0 ] || sed 's/^/  /' "$WORK/out" "$WORK/err" | head -20 >&2
else
    echo "note: tools/node_modules missing (scripts/deps.sh): contract check not run"
fi

kill -TERM "$pid"
wait "$pid"
rc=$?
[ "$rc" -eq 0 ] && pass "daemon stopped cleanly" || fail "daemon exit $rc"
if grep -q "$admin_key" "$WORK/daemon.log"; then fail "the API key reached the daemon log"; fi

finish

#!/usr/bin/env bash
# sdk_python.sh - the Python SDK (sdk/python) against the real daemon:
# installs it offline into a fresh venv (`pip install --no-index`: the
# build backend is in-tree), starts $FMUGWD on 127.0.0.1 port 0 with a temp
# data dir and a short token lifetime, and runs the SDK's unittest suite
# (sdk/python/tests) and the tutorials' commands (docs/tutorials/python.md,
# ci-cd.md: sdk/python/tests/test_tutorials.py) with FMUGW_BASE_URL /
# FMUGW_API_KEY (the first-start admin key) and a temp HOME. Every
# response the SDK reads is recorded (FMUGW_CONTRACT_LOG, the format of
# harness.h) and checked against api/openapi.yaml with
# tools/check-responses.mjs.
source "$(dirname "$0")/lib.bash"

: "${FMUGWD:?FMUGWD must point to the fmugwd binary}"
: "${FMUGW:?FMUGW must point to the fmugw binary}"
: "${FMUGW_SOURCE_DIR:?}"
: "${FMUGW_FMU_DIR:?}"
SDK="$FMUGW_SOURCE_DIR/sdk/python"

command -v python3 >/dev/null || { fail "python3 not found (scripts/deps.sh installs it)"; finish; }

# ---- offline install into a fresh venv ----------------------------------
expect_exit 0 "python3 -m venv" -- python3 -m venv "$WORK/venv"
PY="$WORK/venv/bin/python"
expect_exit 0 "pip install --no-index ./sdk/python (offline)" -- env PIP_DISABLE_PIP_VERSION_CHECK=1 \
    "$WORK/venv/bin/pip" install --no-index --no-cache-dir "$SDK"
expect_exit 0 "the installed package imports" -- "$PY" -c \
    'import fmugw, os, sys; f = fmugw.__file__; assert f.startswith(sys.prefix), f; assert os.path.exists(os.path.join(os.path.dirname(f), "py.typed")); print(fmugw.__version__)'
expect_in "$WORK/out" "0.1.0" "version"
if [ ! -x "$PY" ]; then finish; fi

# ---- the daemon -----------------------------------------------------------
TTL=3
DATA="$WORK/data"
mkdir -p "$WORK/home"
JWT_SECRET=sdk-python-integration-jwt-secret-0123456789 FMUGW_TOKEN_TTL_S=$TTL \
    "$FMUGWD" --listen 127.0.0.1:0 --data-dir "$DATA" \
    --openapi "$FMUGW_SOURCE_DIR/api/openapi.yaml" >"$WORK/daemon.out" 2>"$WORK/daemon.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$WORK"' EXIT

port=""
for _ in $(seq 1 100); do
    port=$(grep '"msg":"listening"' "$WORK/daemon.log" 2>/dev/null | sed -n 's/.*"port":\([0-9]*\).*/\1/p' | head -1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
key=$(sed -n 's/.*"admin_api_key":"\([^"]*\)".*/\1/p' "$WORK/daemon.out" | head -1)
if [ -z "$port" ] || [ -z "$key" ]; then
    fail "daemon did not start (port '$port', admin key found: $([ -n "$key" ] && echo yes || echo no))"
    tail -5 "$WORK/daemon.log" >&2
    finish
fi
pass "daemon listening on port $port"

# The job routes are required once they are in the contract.
require_jobs=0
grep -q '^  /fmu/execute:' "$FMUGW_SOURCE_DIR/api/openapi.yaml" && require_jobs=1

LOG="$WORK/contract.jsonl"
run_suite() { # NAME PATTERN
    env HOME="$WORK/home" FMUGW_BASE_URL="http://127.0.0.1:$port" FMUGW_API_KEY="$key" \
        FMUGW_PROFILE= FMUGW_CONTRACT_LOG="$LOG" FMUGW_SDK_LIVE=1 FMUGW_IT_TOKEN_TTL=$TTL \
        FMUGW_SDK_REQUIRE_JOBS=$require_jobs FMUGW_SDK_PYTHON="$PY" \
        "$PY" -m unittest discover -s "$SDK/tests" -t "$SDK/tests" -p "$2" -v >"$WORK/$1.txt" 2>&1
    local rc=$?
    tail -4 "$WORK/$1.txt"
    if [ "$rc" -eq 0 ]; then pass "$1 suite"; else fail "$1 suite (exit $rc)"; grep -E '^(FAIL|ERROR):|Error' "$WORK/$1.txt" | head -20 >&2; fi
    grep -E 'skipped ' "$WORK/$1.txt" | sed 's/^/  /'
}
(cd "$WORK" && run_suite sdk 'test_*.py')

# ---- the contract ----------------------------------------------------------
[ -n "${FMUGW_SDK_KEEP_LOG:-}" ] && cp "$LOG" "$FMUGW_SDK_KEEP_LOG"
if [ -s "$LOG" ]; then
    pass "$(wc -l <"$LOG") exchanges recorded"
    expect_in "$LOG" '"path":"/auth/token"' "token exchanges recorded"
    expect_in "$LOG" '"path":"/fmu/upload"' "uploads recorded"
    if grep -q "$key" "$LOG"; then fail "the API key is in the contract log"; else pass "no API key in the contract log"; fi
    if grep -q '"access_token":"ey' "$LOG"; then fail "a token in the contract log"; else pass "tokens redacted"; fi
    checker="$FMUGW_SOURCE_DIR/tools/check-responses.mjs"
    if command -v node >/dev/null && [ -d "$FMUGW_SOURCE_DIR/tools/node_modules/ajv" ]; then
        # Routes being built while their paths are not in the spec yet are
        # left out of the check (and counted); once a path is documented,
        # every exchange on it is checked.
        spec="$FMUGW_SOURCE_DIR/api/openapi.yaml"
        undocumented=""
        grep -q '^  /fmu/execute:' "$spec" || undocumented='"path":"/(fmu/(execute|status/|cancel/|results/)|jobs"|results/)'
        grep -q '^  /account:' "$spec" || undocumented="${undocumented:+$undocumented|}\"path\":\"/account"
        if [ -n "$undocumented" ]; then
            grep -Ev "$undocumented" "$LOG" >"$WORK/checked.jsonl"
            echo "  not in api/openapi.yaml yet, not checked: $(grep -Ec "$undocumented" "$LOG") exchanges"
        else
            cp "$LOG" "$WORK/checked.jsonl"
        fi
        before=$failures
        expect_exit 0 "SDK exchanges match api/openapi.yaml ($(wc -l <"$WORK/checked.jsonl") checked)" -- \
            node "$checker" --spec "$spec" "$WORK/checked.jsonl"
        if [ "$failures" -ne "$before" ]; then tail -n 40 "$WORK/out" "$WORK/err" >&2; fi
    else
        fail "node or tools/node_modules missing: cannot check the contract (scripts/deps.sh)"
    fi
    # the whole test run's log (ctest's contract/responses) gets these lines too
    if [ -n "${FMUGW_CONTRACT_LOG:-}" ] && [ -s "$WORK/checked.jsonl" ]; then
        cat "$WORK/checked.jsonl" >>"$FMUGW_CONTRACT_LOG"
    fi
else
    fail "no exchange recorded in $LOG"
fi

if grep -q '"level":"error"' "$WORK/daemon.log"; then
    echo "daemon errors:" >&2; grep '"level":"error"' "$WORK/daemon.log" | head -5 >&2
fi
finish

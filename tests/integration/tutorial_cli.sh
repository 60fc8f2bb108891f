# tutorial_cli.sh - runs every ```sh block of docs/tutorials/quickstart-cli.md,
# in order, in one bash (set -e: any failing command fails the test) against
# a real fmugwd it starts on a free port, with a temporary HOME. The
# tutorial's ```console block (GATEWAY, KEY, PATH, F) is replaced by the
# same variables pointing at this daemon and build.
source "$(dirname "$0")/lib.bash"
DOC=${FMUGW_SOURCE_DIR:-$(dirname "$0")/../..}/docs/tutorials/quickstart-cli.md
[ -f "$DOC" ] || { echo "no $DOC" >&2; exit 1; }

mkdir -p "$WORK/home" "$WORK/data"
"$FMUGWD" --data-dir "$WORK/data" --listen 127.0.0.1:0 >"$WORK/daemon.out" 2>"$WORK/daemon.err" &
DPID=$!
trap 'kill $DPID 2>/dev/null; wait $DPID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 200); do grep -q '"msg":"listening"' "$WORK/daemon.err" 2>/dev/null && break; sleep 0.05; done
PORT=$(grep -o '"port":[0-9]*' "$WORK/daemon.err" | head -1 | cut -d: -f2)
KEY=$(grep -o '"admin_api_key":"[^"]*"' "$WORK/daemon.out" | cut -d'"' -f4)
[ -n "$PORT" ] && [ -n "$KEY" ] || { echo "daemon did not start" >&2; cat "$WORK/daemon.err" >&2; exit 1; }

# The ```sh blocks, in order.
awk '/^```sh$/ {on=1; n++; print "echo \"--- block " n "\""; next} /^```/ {on=0} on' "$DOC" >"$WORK/blocks.sh"
blocks=$(grep -c '^```sh$' "$DOC")
[ "$blocks" -ge 8 ] && pass "$blocks sh blocks found" || fail "only $blocks sh blocks"

mkdir -p "$WORK/run"
( cd "$WORK/run" &&
  env -u FMUGW_BASE_URL -u FMUGW_API_KEY -u FMUGW_PROFILE HOME="$WORK/home" \
      GATEWAY="http://127.0.0.1:$PORT" KEY="$KEY" PATH="$(dirname "$FMUGW"):$PATH" F="$FMUGW_FMU_DIR/3.0" \
      bash -e -o pipefail "$WORK/blocks.sh" ) >"$WORK/out" 2>"$WORK/err"
rc=$?
if [ $rc -eq 0 ]; then pass "every block ran"; else
    fail "a block failed (exit $rc)"; tail -20 "$WORK/out" >&2; tail -20 "$WORK/err" >&2; fi
expect_in "$WORK/out" "gateway and local results are identical" "run equals sim"
expect_in "$WORK/out" "exit status 7" "not found is exit 7"
expect_in "$WORK/out" "the ci profile works" "a second profile"
expect_in "$WORK/out" "jobs" "jobs --json parsed"
[ "$(stat -c %a "$WORK/home/.fmu_gateway/config")" = 600 ] && pass "config is 0600" || fail "config mode"
[ -s "$WORK/run/out.csv" ] && pass "the env-only one-liner wrote out.csv" || fail "no out.csv"
finish

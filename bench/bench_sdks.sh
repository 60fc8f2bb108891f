#!/usr/bin/env bash
# bench_sdks.sh BUILD_DIR - what the Python and TypeScript SDKs add over a raw
# HTTP sequence made with curl, for one tiny job, in one run (bench/run.sh
# calls it; needs curl, python3 >= 3.8 and node >= 20 with npm).
#
# Starts fmugwd (127.0.0.1, port 0, temp data dir, first-start admin key of
# the enterprise tier, whose rate limit is raised through a copy of
# pricing.json given as pricing_path, as in bench_http.sh), uploads the
# BouncingBall FMI 2 sample once, then runs SDK_RUNS (30) timed jobs
# (stop_time 1.0, the server's other defaults) per client and case, interleaved
# (each round runs the three clients in a rotating order) after
# SDK_WARMUP (3) untimed jobs each:
#
#  curl        in this shell, one curl process per request: POST /auth/token
#              once up front, then per job POST /fmu/execute,
#              GET /fmu/status/{id}?wait=10 until "succeeded",
#              GET /fmu/results/{id}, GET of the result URL (to a file).
#              JSON fields are read with bash's own regex (no extra process).
#  Python SDK  a driver importing sdk/python/src: one fmugw.Client up front,
#              per job client.simulate(fmu_id, stop_time=1.0) (execute,
#              wait, result info, download with SHA-256 check, CSV parsed).
#  TypeScript  a driver importing the SDK's dist/index.js (sdk/typescript/dist
#              when it is newer than every src/*.ts, else built with
#              `npm ci && npm run build` in a temp copy): one Client up front,
#              per job await client.simulate(fmuId, { stopTime: 1 }).
#
# The per-job time is measured inside each driver (perf_counter,
# performance.now(), bash's EPOCHREALTIME) around one job, so interpreter
# start-up and module loading are excluded; the drivers stay running and
# take one job per line on a FIFO. Two cases: a fresh job ("reuse": false,
# really run) and a reused result ("reuse": true, the API's default: the
# execute answers "succeeded" from an identical stored result, so the
# clients' own cost shows). Prints median and p90 per client, and per SDK
# the added median and the ratio vs curl. The curl figure includes starting
# one curl process per request: the cost of one start ($(curl --version),
# as the sequence starts them) is measured and printed too.
set -euo pipefail
build=${1:-build/release}
src=$(cd "$(dirname "$0")/.." && pwd)
runs=${SDK_RUNS:-30}
warmup=${SDK_WARMUP:-3}
rate=${RATE_LIMIT:-1000000}
stop_time=1.0
fmugwd="$build/src/fmugwd"
fmu_file="$build/fmus/2.0/BouncingBall.fmu"
for f in "$fmugwd" "$fmu_file"; do
    [ -e "$f" ] || { echo "bench_sdks: $f is not built" >&2; exit 1; }
done
for c in curl python3 node npm; do
    command -v "$c" >/dev/null || { echo "bench_sdks: $c missing" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fmugw-bench-sdks.XXXXXX")
gw_pid=""
py_pid=""
ts_pid=""
cleanup() {
    set +e
    exec 3>&- 4<&- 5>&- 6<&- 2>/dev/null
    for p in $py_pid $ts_pid $gw_pid; do
        kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
fail() { echo "bench_sdks: $*" >&2; exit 1; }

# ---- the daemon ---------------------------------------------------------------
node -e 'const fs=require("fs");const p=JSON.parse(fs.readFileSync(process.argv[1]));
    for (const t of p.tiers) if (t.name==="enterprise") { t.limits.rate_per_s=+process.argv[2]; t.limits.burst=+process.argv[2]; }
    fs.writeFileSync(process.argv[3], JSON.stringify(p, null, 1));' \
    "$src/pricing.json" "$rate" "$tmp/pricing.json"
unset FMUGW_CONTRACT_LOG FMUGW_PROFILE
FMUGW_PRICING_PATH="$tmp/pricing.json" FMUGW_OPENAPI_PATH="$src/api/openapi.yaml" \
    "$fmugwd" --data-dir "$tmp/data" --listen 127.0.0.1:0 >"$tmp/gw.out" 2>"$tmp/gw.err" &
gw_pid=$!
port=""
for _ in $(seq 1 500); do
    port=$(sed -n 's/.*"msg":"listening".*"port":\([0-9]*\).*/\1/p' "$tmp/gw.err" | head -n 1)
    [ -n "$port" ] && break
    kill -0 "$gw_pid" 2>/dev/null || { cat "$tmp/gw.err" >&2; fail "fmugwd exited"; }
    sleep 0.02
done
[ -n "$port" ] || fail "fmugwd did not start"
base="http://127.0.0.1:$port"
key=$(sed -n 's/.*"admin_api_key" *: *"\([^"]*\)".*/\1/p' "$tmp/gw.out" | head -n 1)
[ -n "$key" ] || fail "no admin key on fmugwd's first-start line"

# field NAME TEXT: the first "NAME":"value" string of a JSON text (bash regex)
field() {
    local re="\"$1\" *: *\"([^\"]*)\""
    if [[ $2 =~ $re ]]; then printf "%s" "${BASH_REMATCH[1]}"; fi
}

# ---- upload BouncingBall (FMI 2) once ----------------------------------------
tok_answer=$(curl -sf -X POST -H "X-API-Key: $key" "$base/auth/token") || fail "POST /auth/token failed"
token=$(field access_token "$tok_answer")
size=$(stat -c %s "$fmu_file")
sha=$(sha256sum "$fmu_file" | cut -d' ' -f1)
ticket=$(curl -sf -X POST -H "X-API-Key: $key" -H "Authorization: Bearer $token" \
    -H "Content-Type: application/json" \
    -d "{\"name\":\"BouncingBall.fmu\",\"size\":$size,\"sha256\":\"$sha\"}" "$base/fmu/upload") ||
    fail "POST /fmu/upload failed"
upload_url=$(field upload_url "$ticket")
fmu=$(field fmu_id "$ticket")
if [ -n "$upload_url" ]; then
    answer=$(curl -s -X PUT -H "Expect:" -H "Content-Type: application/octet-stream" -T "$fmu_file" "$base$upload_url")
    [ "$(field status "$answer")" = ready ] || fail "upload answered: $answer"
    fmu=$(field fmu_id "$answer")
    [ -n "$fmu" ] || fmu=$(field id "$answer")
fi
[[ $fmu == fmu_* ]] || fail "no FMU id after the upload: $ticket ${answer:-}"

# ---- TypeScript SDK build -------------------------------------------------------
ts_dist="$src/sdk/typescript/dist"
stale=no
[ -f "$ts_dist/index.js" ] || stale=yes
for f in "$src"/sdk/typescript/src/*.ts; do
    [ "$f" -nt "$ts_dist/client.js" ] && stale=yes
done
if [ "$stale" = yes ]; then
    mkdir "$tmp/ts"
    cp -r "$src"/sdk/typescript/{package.json,package-lock.json,tsconfig.json,src} "$tmp/ts/"
    (cd "$tmp/ts" && npm ci --no-audit --no-fund --loglevel=error >/dev/null && npm run build --silent) ||
        fail "TypeScript SDK build failed"
    ts_dist="$tmp/ts/dist"
fi

# ---- drivers: one job per input line, answer "ms" or "error ..." ----------------
cat >"$tmp/drv.py" <<'EOF'
import sys, time
import fmugw
base, key, fmu, stop = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
client = fmugw.Client(base_url=base, api_key=key)
for line in sys.stdin:
    try:
        t0 = time.perf_counter()
        res = client.simulate(fmu, stop_time=stop, reuse=(line.strip() == "reused"))
        ms = (time.perf_counter() - t0) * 1e3
        if not res.rows:
            raise RuntimeError("no rows")
        print(f"{ms:.3f}", flush=True)
    except Exception as e:  # report and stop
        print(f"error {type(e).__name__}: {e}".replace("\n", " "), flush=True)
        sys.exit(1)
EOF
cat >"$tmp/drv.mjs" <<'EOF'
import { createInterface } from "node:readline";
const [dist, base, key, fmu, stop] = process.argv.slice(2);
const { Client } = await import(dist + "/index.js");
const client = new Client({ baseUrl: base, apiKey: key });
for await (const line of createInterface({ input: process.stdin })) {
  try {
    const t0 = performance.now();
    const res = await client.simulate(fmu, { stopTime: Number(stop), extra: { reuse: line.trim() === "reused" } });
    const ms = performance.now() - t0;
    if (!res.rows?.length) throw new Error("no rows");
    process.stdout.write(ms.toFixed(3) + "\n");
  } catch (e) {
    process.stdout.write(`error ${e?.name}: ${String(e?.message ?? e).replace(/\n/g, " ")}\n`);
    process.exit(1);
  }
}
EOF
mkfifo "$tmp/py.in" "$tmp/py.out" "$tmp/ts.in" "$tmp/ts.out"
PYTHONPATH="$src/sdk/python/src" HOME="$tmp" python3 "$tmp/drv.py" "$base" "$key" "$fmu" "$stop_time" \
    <"$tmp/py.in" >"$tmp/py.out" 2>"$tmp/py.err" &
py_pid=$!
exec 3>"$tmp/py.in" 4<"$tmp/py.out"
HOME="$tmp" node "$tmp/drv.mjs" "$ts_dist" "$base" "$key" "$fmu" "$stop_time" \
    <"$tmp/ts.in" >"$tmp/ts.out" 2>"$tmp/ts.err" &
ts_pid=$!
exec 5>"$tmp/ts.in" 6<"$tmp/ts.out"

# ask IN_FD OUT_FD NAME MODE: one job (MODE fresh or reused) through a
# driver; prints its milliseconds
ask() {
    local ans
    echo "$4" >&"$1"
    IFS= read -r -t 120 ans <&"$2" || fail "$3 driver did not answer ($(tail -c 400 "$tmp/$3.err" 2>/dev/null))"
    [[ $ans == error* ]] && fail "$3 driver: $ans"
    printf '%s' "$ans"
}

# elapsed_ms T0 T1: milliseconds between two $EPOCHREALTIME readings
elapsed_ms() {
    local us=$((10#${2/[.,]/} - 10#${1/[.,]/}))
    printf '%d.%03d' $((us / 1000)) $((us % 1000))
}

# ---- the raw curl sequence ---------------------------------------------------------
auth=(-H "X-API-Key: $key" -H "Authorization: Bearer $token")
# curl_job MODE: one job, prints its milliseconds; counts the requests in
# $tmp/curl.requests
curl_job() {
    local t0 t1 idem ans job st url reuse=false n=4
    [ "$1" = reused ] && reuse=true
    t0=$EPOCHREALTIME
    read -r idem </proc/sys/kernel/random/uuid
    ans=$(curl -s "${auth[@]}" -H "Content-Type: application/json" -H "Idempotency-Key: $idem" \
        -d "{\"fmu_id\":\"$fmu\",\"stop_time\":$stop_time,\"reuse\":$reuse}" "$base/fmu/execute")
    job=$(field job_id "$ans")
    [ -n "$job" ] || fail "execute answered: $ans"
    st=$(field status "$ans")
    while [ "$st" != succeeded ]; do
        [ "$st" = queued ] || [ "$st" = running ] || fail "job $job: $st ($ans)"
        ans=$(curl -s "${auth[@]}" "$base/fmu/status/$job?wait=10")
        st=$(field status "$ans")
        n=$((n + 1))
    done
    ans=$(curl -s "${auth[@]}" "$base/fmu/results/$job")
    url=$(field url "$ans")
    [ -n "$url" ] || fail "results answered: $ans"
    [[ $url == http* ]] || url="$base$url"
    curl -sf -o "$tmp/curl.csv" "$url" || fail "download of $url failed"
    t1=$EPOCHREALTIME
    [ -s "$tmp/curl.csv" ] || fail "empty results"
    echo "$n" >>"$tmp/curl.requests"
    elapsed_ms "$t0" "$t1"
}

for _ in $(seq 1 "$warmup"); do
    for mode in fresh reused; do
        curl_job $mode >/dev/null
        ask 3 4 py $mode >/dev/null
        ask 5 6 ts $mode >/dev/null
    done
done
# measure MODE: SDK_RUNS jobs per client into $tmp/t.MODE.{curl,py,ts}
measure() {
    local i k
    : >"$tmp/curl.requests"
    : >"$tmp/t.$1.curl"
    : >"$tmp/t.$1.py"
    : >"$tmp/t.$1.ts"
    for i in $(seq 0 $((runs - 1))); do
        for k in 0 1 2; do
            case $(((i + k) % 3)) in
            0) curl_job "$1" >>"$tmp/t.$1.curl"; echo >>"$tmp/t.$1.curl" ;;
            1) ask 3 4 py "$1" >>"$tmp/t.$1.py"; echo >>"$tmp/t.$1.py" ;;
            2) ask 5 6 ts "$1" >>"$tmp/t.$1.ts"; echo >>"$tmp/t.$1.ts" ;;
            esac
        done
    done
    awk '{ s += $1 } END { printf "%.1f", s / NR }' "$tmp/curl.requests" >"$tmp/requests.$1"
}
measure fresh
measure reused
# the cost of starting one curl process, for reading the curl figure
: >"$tmp/t.spawn"
for _ in $(seq 1 "$runs"); do
    t0=$EPOCHREALTIME
    ans=$(curl --version)
    t1=$EPOCHREALTIME
    elapsed_ms "$t0" "$t1" >>"$tmp/t.spawn"
    echo >>"$tmp/t.spawn"
done

# stats FILE: "median p90" (p90: nearest rank)
stats() {
    sort -g "$1" | awk '{ v[NR] = $1 } END {
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        r = int(0.9 * NR); if (r < 0.9 * NR) r++
        printf "%.3f %.3f\n", m, v[r] }'
}
read -r s_med _ < <(stats "$tmp/t.spawn")
pyv="Python $(python3 -c 'import platform; print(platform.python_version())')"
nv="Node $(node --version | tr -d v)"
echo "tiny job (BouncingBall FMI 2.0, stop_time $stop_time, server defaults otherwise), $runs runs per client and case," \
    "interleaved, after $warmup warm-up jobs each; time per job measured inside each driver (interpreter start-up excluded)"
# report MODE TITLE
report() {
    local cm cp pm pp tm tp
    read -r cm cp < <(stats "$tmp/t.$1.curl")
    read -r pm pp < <(stats "$tmp/t.$1.py")
    read -r tm tp < <(stats "$tmp/t.$1.ts")
    echo "$2"
    awk -v cm="$cm" -v cp="$cp" -v pm="$pm" -v pp="$pp" -v tm="$tm" -v tp="$tp" \
        -v req="$(cat "$tmp/requests.$1")" -v pyv="$pyv" -v nv="$nv" 'BEGIN {
        printf "  %-44s median %8.2f ms   p90 %8.2f ms\n", "curl (" req " requests/job, 1 process each)", cm, cp
        printf "  %-44s median %8.2f ms   p90 %8.2f ms   added %+8.2f ms   ratio %.2fx\n", "Python SDK simulate (" pyv ")", pm, pp, pm - cm, pm / cm
        printf "  %-44s median %8.2f ms   p90 %8.2f ms   added %+8.2f ms   ratio %.2fx\n", "TypeScript SDK simulate (" nv ")", tm, tp, tm - cm, tm / cm }'
}
report fresh "fresh job (\"reuse\": false: queued, run in the sandbox, results stored):"
report reused "reused result (\"reuse\": true, the default: execute answers \"succeeded\" with an identical stored result):"
echo "starting one curl process as the sequence does (\$(curl --version)): median $(printf '%.2f' "$s_med") ms; the curl figures include one per request"

#!/bin/sh
# bench_http.sh BUILD_DIR - the gateway's HTTP figures in one run (bench/run.sh
# calls it; needs wrk: scripts/deps.sh --bench, and node for JSON):
#
#  1. wrk on loopback, HTTP_CONNECTIONS (64) connections for HTTP_DURATION
#     (10s) each, after a 2 s warm-up: an authenticated `GET /fmu/{id}` of a
#     public sample on the real fmugwd (X-API-Key + bearer JWT set by
#     bench/wrk_auth.lua), then bench/bare_hello (a bare libmicrohttpd
#     handler with the same daemon options and FMUGWD_THREADS threads).
#     Both daemons use MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
#     MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME, a thread pool of
#     FMUGWD_THREADS (4), 64 KiB connection memory, 30 s timeout, 1024
#     connections (fmugwd: src/http/server.c; bare: bench/bare_hello.c);
#     neither uses MHD_USE_TURBO. Only the per-IP limit differs: fmugwd gets
#     FMUGW_PER_IP_CONNECTIONS=1024, bare_hello 0 (none): wrk's 64
#     connections are under both.
#     Prints requests/s of both, the ratio (goal >= 50 %) and wrk's p99
#     (goal < 10 ms).
#  2. A valid FMU of UPLOAD_MIB (200) MiB (bench/make_big_fmu: a sample FMU
#     plus incompressible resources) through POST /fmu/upload + PUT to the
#     signed URL: MB/s end to end (declare + PUT + validation; goal >= 300)
#     and the daemon's peak RSS growth (goal < 32 MiB): the peak is reset
#     through /proc/PID/clear_refs before the upload, so growth = VmHWM
#     after - VmRSS before. Inside the timed part the ticket's upload_url
#     is read with sed (starting node there cost 0.1-0.3 s, the client's
#     time and not the gateway's).
#
# The daemon runs with a temp data dir, its defaults (info-level access log
# to a file) and the first-start admin key (enterprise tier). The
# enterprise tier's rate limit (200/s, burst 800) would throttle wrk: the
# daemon gets a copy of pricing.json (config key pricing_path) whose
# enterprise limits are raised to RATE_LIMIT (10^6/s and a burst of 10^6, the limiter's maxima); the rest of the tier
# table is unchanged. Any non-2xx answer during the run fails the bench.
set -eu
build=${1:-build/release}
src=$(cd "$(dirname "$0")/.." && pwd)
conns=${HTTP_CONNECTIONS:-64}
duration=${HTTP_DURATION:-10s}
wrk_threads=${WRK_THREADS:-2}
threads=${FMUGWD_THREADS:-4}
upload_mib=${UPLOAD_MIB:-200}
rate=${RATE_LIMIT:-1000000}
fmugwd="$build/src/fmugwd"
for f in "$fmugwd" "$build/bench/bare_hello" "$build/bench/make_big_fmu"; do
    [ -x "$f" ] || { echo "bench_http: $f is not built" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "bench_http: wrk missing (scripts/deps.sh --bench)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fmugw-bench.XXXXXX")
gw_pid=""
bare_pid=""
cleanup() {
    [ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null && wait "$gw_pid" 2>/dev/null
    [ -n "$bare_pid" ] && kill "$bare_pid" 2>/dev/null && wait "$bare_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# JSON field of stdin: json FIELD (dotted path) -> text
json() {
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let v=JSON.parse(s);
        for (const k of process.argv[1].split(".")) v=v?.[k]; process.stdout.write(v===undefined?"":String(v));})' "$1"
}

# pricing.json with the enterprise tier's rate limit raised for the bench
node -e 'const fs=require("fs");const p=JSON.parse(fs.readFileSync(process.argv[1]));
    for (const t of p.tiers) if (t.name==="enterprise") { t.limits.rate_per_s=+process.argv[2]; t.limits.burst=+process.argv[2]; }
    fs.writeFileSync(process.argv[3], JSON.stringify(p, null, 1));' \
    "$src/pricing.json" "$rate" "$tmp/pricing.json"

FMUGW_PRICING_PATH="$tmp/pricing.json" FMUGW_THREADS="$threads" FMUGW_PER_IP_CONNECTIONS=1024 \
FMUGW_OPENAPI_PATH="$src/api/openapi.yaml" \
    "$fmugwd" --data-dir "$tmp/data" --listen 127.0.0.1:0 >"$tmp/gw.out" 2>"$tmp/gw.err" &
gw_pid=$!
port=""
for _ in $(seq 1 500); do
    port=$(sed -n 's/.*"msg":"listening".*"port":\([0-9]*\).*/\1/p' "$tmp/gw.err" | head -n 1)
    [ -n "$port" ] && break
    kill -0 "$gw_pid" 2>/dev/null || { cat "$tmp/gw.err" >&2; exit 1; }
    sleep 0.02
done
[ -n "$port" ] || { echo "bench_http: fmugwd did not start" >&2; exit 1; }
base="http://127.0.0.1:$port"
key=$(json admin_api_key <"$tmp/gw.out")
token=$(curl -sf -X POST -H "X-API-Key: $key" "$base/auth/token" | json access_token)
fmu=$(curl -sf -H "X-API-Key: $key" -H "Authorization: Bearer $token" "$base/fmu?limit=200" |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const it=JSON.parse(s).items
        .filter(i=>i.public&&i.status==="ready");process.stdout.write((it.find(i=>/BouncingBall/.test(i.name))??it[0]).id);})')
[ -n "$fmu" ] || { echo "bench_http: no public sample FMU" >&2; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $key" -H "Authorization: Bearer $token" "$base/fmu/$fmu")
[ "$code" = 200 ] || { echo "bench_http: GET /fmu/$fmu answered $code" >&2; exit 1; }

bare_fifo="$tmp/bare.out"
"$build/bench/bare_hello" "$threads" 0 >"$bare_fifo" &
bare_pid=$!
bare_port=""
for _ in $(seq 1 200); do
    bare_port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$bare_fifo")
    [ -n "$bare_port" ] && break
    sleep 0.02
done
[ -n "$bare_port" ] || { echo "bench_http: bare_hello did not start" >&2; exit 1; }

# run_wrk NAME URL [wrk args...]: warm-up, then the measured run; prints
# "rps p99_ms" (p99 converted to ms) and keeps wrk's text in $tmp/NAME.txt
run_wrk() {
    name=$1
    shift
    wrk -t"$wrk_threads" -c"$conns" -d2s "$@" >/dev/null
    wrk -t"$wrk_threads" -c"$conns" -d"$duration" --latency "$@" >"$tmp/$name.txt"
    if grep -q "Non-2xx" "$tmp/$name.txt"; then
        cat "$tmp/$name.txt" >&2
        echo "bench_http: $name got non-2xx answers" >&2
        exit 1
    fi
    awk '/^Requests\/sec:/ { rps = $2 }
         /^ +99%/ { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
                    p99 = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : v }
         END { printf "%s %.3f\n", rps, p99 }' "$tmp/$name.txt"
}

export FMUGW_BENCH_KEY="$key" FMUGW_BENCH_TOKEN="$token" FMUGW_BENCH_PATH="/fmu/$fmu"
gw_res=$(run_wrk gateway -s "$src/bench/wrk_auth.lua" "$base/fmu/$fmu")
bare_res=$(run_wrk bare "http://127.0.0.1:$bare_port/hello")
kill "$bare_pid" && wait "$bare_pid" 2>/dev/null || true
bare_pid=""

echo "wrk -t$wrk_threads -c$conns -d$duration --latency, fmugwd and bare_hello with $threads threads"
echo "$gw_res $bare_res" | awk '{
    printf "  fmugwd GET /fmu/{id} (auth)  %10.0f req/s   p99 %7.3f ms\n", $1, $2
    printf "  bare libmicrohttpd hello     %10.0f req/s   p99 %7.3f ms\n", $3, $4
    printf "  ratio %.1f %% of bare (goal >= 50 %%): %s; p99 %s (goal < 10 ms)\n", 100 * $1 / $3,
        ($1 >= 0.5 * $3) ? "met" : "MISSED", ($2 < 10) ? "met" : "MISSED" }'
grep -E "Latency|Req/Sec|requests in" "$tmp/gateway.txt" | sed 's/^/    gateway: /'
grep -E "Latency|Req/Sec|requests in" "$tmp/bare.txt" | sed 's/^/    bare:    /'

# ---- 2. upload -------------------------------------------------------------
big="$tmp/big.fmu"
"$build/bench/make_big_fmu" "$build/fmus/3.0/BouncingBall.fmu" "$big" "$upload_mib"
size=$(stat -c %s "$big")
sha=$(sha256sum "$big" | cut -d' ' -f1)
cat "$big" >/dev/null # in the page cache: the client's disk is not measured

status_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$gw_pid/status"; }
rss_before=$(status_kb VmRSS)
hwm_before=$(status_kb VmHWM)
reset="no"
if echo 5 >"/proc/$gw_pid/clear_refs" 2>/dev/null; then reset="yes"; fi

t0=$(date +%s.%N)
ticket=$(curl -sf -X POST -H "X-API-Key: $key" -H "Authorization: Bearer $token" \
    -H "Content-Type: application/json" \
    -d "{\"name\":\"bench-big.fmu\",\"size\":$size,\"sha256\":\"$sha\"}" "$base/fmu/upload")
# sed, not node: starting node takes 0.1-0.3 s, which is not the gateway's
url=$(echo "$ticket" | sed -n 's/.*"upload_url": *"\([^"]*\)".*/\1/p')
[ -n "$url" ] || { echo "bench_http: POST /fmu/upload answered: $ticket" >&2; exit 1; }
answer=$(curl -s -X PUT -H "Expect:" -H "Content-Type: application/octet-stream" -T "$big" "$base$url")
t1=$(date +%s.%N)
hwm_after=$(status_kb VmHWM)
st=$(echo "$answer" | json status)
[ "$st" = ready ] || { echo "bench_http: upload answered: $answer" >&2; exit 1; }
[ "$reset" = yes ] || rss_before=$hwm_before

echo "upload of a $size-byte FMU (POST /fmu/upload + PUT, validated: status $st)"
awk -v s="$size" -v a="$t0" -v b="$t1" -v r="$rss_before" -v h="$hwm_after" -v reset="$reset" 'BEGIN {
    t = b - a; mbs = s / 1e6 / t; g = (h - r) / 1024
    printf "  %.3f s   %.0f MB/s (goal >= 300 MB/s): %s\n", t, mbs, (mbs >= 300) ? "met" : "MISSED"
    printf "  daemon RSS %.1f MiB before, peak %.1f MiB during: growth %.1f MiB (goal < 32 MiB): %s%s\n",
        r / 1024, h / 1024, g, (g < 32) ? "met" : "MISSED", (reset == "yes") ? "" : " (peak not resettable: VmHWM before)" }'

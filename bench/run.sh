#!/bin/sh
# run.sh BUILD_DIR - runs every benchmark against its in-run baseline and
# prints the figures (copy them into docs/benchmarks.md with this command).
set -eu
build=${1:-build/release}
echo "== machine: $(nproc) cores, $(uname -m), $(date -u +%Y-%m-%d)"
echo "== bench_format: shortest round-trip double formatting vs snprintf %.17g"
"$build/bench/bench_format"
echo "== bench_sim: fmugw sim vs the floor loop"
"$build/bench/bench_sim" "$build/src/fmugw" "$build/fmus" "${REPEATS:-5}"
echo "== bench_sandbox: tiny jobs in the sandbox vs a plain child vs in-process"
"$build/bench/bench_sandbox" "$build/src/fmugw-runner" "$build/fmus" "${SANDBOX_JOBS:-1000}"
echo "== bench_clients: libfmugw vs the same HTTP calls with raw libcurl (one tiny job)"
"$build/bench/bench_clients" "$build/src/fmugwd" "$build/fmus" "${CLIENT_RUNS:-30}"
echo "== bench_sdks: the Python and TypeScript SDKs vs the same HTTP calls with curl (one tiny job)"
"$(dirname "$0")/bench_sdks.sh" "$build"
echo "== bench_http: authenticated GET /fmu/{id} on fmugwd vs a bare libmicrohttpd handler (wrk), 200 MB upload"
"$(dirname "$0")/bench_http.sh" "$build"
echo "== bench_jobs: jobs through fmugwd (latency, throughput, CPU-bound) vs fmugw sim"
"$build/bench/bench_jobs" "$build/src/fmugwd" "$build/src/fmugw" "$build/fmus" "${JOB_RUNS:-30}" "${JOBS_PER_CLIENT:-100}"
echo "== bench_attack: /healthz while one Free tenant does its worst (slow headers, long-polls, auth-failure flood, CPU jobs) vs idle"
"$build/bench/bench_attack" "$build/src/fmugwd" "$build/fmus" "${ATTACK_PROBES:-2000}"

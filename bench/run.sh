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

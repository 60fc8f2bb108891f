#!/bin/sh
# demo.sh BUILD_DIR - the offline demo `make demo` runs: simulates the bundled
# BouncingBall (FMI 3.0, Model Exchange with CVODE) and says where the CSV went.
set -eu
build=${1:-build/dev}
mkdir -p out
"$build/src/fmugw" info "$build/fmus/3.0/BouncingBall.fmu"
echo
"$build/src/fmugw" sim "$build/fmus/3.0/BouncingBall.fmu" --interface me --stop-time 3 \
    --output-interval 0.01 --output out/BouncingBall.csv
echo
echo "First rows of out/BouncingBall.csv:"
head -5 out/BouncingBall.csv
echo
echo "Next: fmugw sim --help, docs/cli.md, README.md"

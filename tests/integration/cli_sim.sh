# cli_sim.sh - `fmugw sim`, `info` and `validate` on the sample FMUs: result
# layout, options, and one-line errors with the documented exit codes.
source "$(dirname "$0")/lib.bash"
F2=$FMUGW_FMU_DIR/2.0
F3=$FMUGW_FMU_DIR/3.0

expect_exit 0 "sim BouncingBall FMI 2 CS" -- "$FMUGW" sim "$F2/BouncingBall.fmu" --stop-time 1 --output-interval 0.1 -o bb.csv
head -1 bb.csv >header
expect_in header '"time","h","v"' "CSV header is quoted names, time first"
expect_lines bb.csv 12 "11 rows + header"
expect_in err "11 rows written to bb.csv" "summary on stderr"

expect_exit 0 "sim ME CVODE to stdout" -- "$FMUGW" sim "$F3/Dahlquist.fmu" --interface me --stop-time 1 --output-interval 0.5
expect_lines out 4 "3 rows + header on stdout"
expect_in out '1,0.3678' "x(1) = exp(-1) at the default tolerance"

expect_exit 0 "sim JSON" -- "$FMUGW" sim "$F3/BouncingBall.fmu" --stop-time 0.2 --output-interval 0.1 --format json -o bb.json
expect_in bb.json '"columns":["time","h","v"]' "JSON columns"

expect_exit 0 "sim with start value and chosen output" -- "$FMUGW" sim "$F2/Dahlquist.fmu" --start-value k=0 --output-variable x --stop-time 1 --output-interval 1
expect_in out '1,1' "k=0 keeps x constant"

printf 'time,Int32_input\n0,3\n1,4\n' >in.csv
expect_exit 0 "sim with input CSV" -- "$FMUGW" sim "$F2/Feedthrough.fmu" --input in.csv --output-variable Int32_output --stop-time 1 --output-interval 1
expect_in out '1,4' "input applied"

expect_exit 0 "sim --log-fmi-calls" -- "$FMUGW" sim "$F2/Dahlquist.fmu" --stop-time 0.1 --output-interval 0.1 --log-fmi-calls -o /dev/null
expect_in err "fmi2DoStep" "FMI calls are logged"
[ -c /dev/null ] && pass "-o /dev/null leaves /dev/null a device" || fail "/dev/null was replaced by a file"
mkfifo fifo
cat fifo >fifo.out &
expect_exit 0 "sim -o FIFO writes into the FIFO" -- "$FMUGW" sim "$F2/Dahlquist.fmu" --stop-time 1 --output-interval 1 -o fifo
wait
[ -p fifo ] && pass "the FIFO is still a FIFO" || fail "the FIFO was replaced"
expect_in fifo.out '"time","x"' "results went through the FIFO"

expect_exit 0 "sim Euler" -- "$FMUGW" sim "$F3/VanDerPol.fmu" --interface me --solver euler --step-size 0.001 --output-interval 0.1 --stop-time 1 -o vdp.csv

# bad command lines: exit 2, one line, nothing written
expect_exit 2 "unknown option" -- "$FMUGW" sim "$F2/Dahlquist.fmu" --bogus -o never.csv
expect_lines err 1 "one-line error"
expect_exit 2 "bad number" -- "$FMUGW" sim "$F2/Dahlquist.fmu" --stop-time abc -o never.csv
expect_in err '"abc" is not a number' "names the bad value"
expect_exit 2 "bad interface" -- "$FMUGW" sim "$F2/Dahlquist.fmu" --interface xy
expect_exit 2 "no FMU" -- "$FMUGW" sim
expect_exit 2 "unknown command" -- "$FMUGW" frobnicate
expect_exit 2 "stop before start" -- "$FMUGW" sim "$F2/Dahlquist.fmu" --start-time 2 --stop-time 1 -o never.csv
expect_in err 'must be greater than start time' "says why"
# what cannot be run is refused with the reason, before anything runs
expect_exit 2 "output interval below the times' precision" -- "$FMUGW" sim "$F2/Dahlquist.fmu" --stop-time 1 --output-interval 1e-300 -o never.csv
expect_lines err 1 "one-line error"
expect_in err 'output interval 1e-300 is too small' "names the interval"
expect_exit 2 "step too small for the stop time" -- "$FMUGW" sim "$F2/Dahlquist.fmu" --stop-time 1e30 --step-size 1e8 -o never.csv
expect_in err 'step size 1e+08 is too small for times around 1e+30' "names the step"
expect_exit 2 "subnormal step size" -- "$FMUGW" sim "$F2/Dahlquist.fmu" --step-size 5e-324 -o never.csv
expect_in err 'step size 4.94066e-324 is too close to zero' "names the subnormal"
expect_exit 2 "subnormal tolerance" -- "$FMUGW" sim "$F2/Dahlquist.fmu" --relative-tolerance 5e-324 -o never.csv
expect_in err 'relative tolerance' "names the tolerance"
manyvars=()
for i in $(seq 1 1001); do manyvars+=(--output-variable x); done
expect_exit 2 "1001 output variables" -- "$FMUGW" sim "$F2/Dahlquist.fmu" "${manyvars[@]}" -o never.csv
expect_in err 'at most 1000' "names the bound"
[ ! -e never.csv ] && pass "no result file after usage errors" || fail "a result file was written"

# runtime failures: exit 1, one line, no partial result file
expect_exit 1 "missing FMU file" -- "$FMUGW" sim nothere.fmu -o never.csv
expect_lines err 1 "one-line error"
expect_exit 1 "unknown start variable" -- "$FMUGW" sim "$F2/Dahlquist.fmu" --start-value nope=1 -o never.csv
expect_in err 'no such variable' "names the problem"
expect_exit 1 "unknown output variable" -- "$FMUGW" sim "$F2/Dahlquist.fmu" --output-variable nope -o never.csv
# bounds that depend on the model's default experiment: refused by the same rules, before the sandbox starts
expect_exit 1 "too many rows" -- "$FMUGW" sim "$F2/Dahlquist.fmu" --stop-time 1e9 --output-interval 1e-3 -o never.csv
expect_lines err 1 "one-line error"
expect_in err 'result rows, more than the 100000000 allowed' "names the row bound"
expect_exit 1 "too many rows, in-process" -- "$FMUGW" sim --no-sandbox "$F2/Dahlquist.fmu" --stop-time 1e9 --output-interval 1e-3 -o never.csv
expect_in err 'result rows, more than' "the engine refuses it too"
expect_exit 1 "interval below the precision of the default stop time" -- "$FMUGW" sim "$F2/Dahlquist.fmu" --output-interval 1e-300 -o never.csv
expect_in err 'output interval 1e-300 is too small for times around 10' "names the interval and the times"
ls never.csv* >/dev/null 2>&1 && fail "a (partial) result file was left" || pass "no partial result file"

expect_exit 0 "info" -- "$FMUGW" info "$F3/BouncingBall.fmu"
expect_in out "FMI Version" "info shows the FMI version"
expect_in out "CoSimulation" "info shows the interfaces"
expect_in out "x86_64-linux" "info shows the platforms"

for f in "$F2"/*.fmu "$F3"/*.fmu; do
    expect_exit 0 "validate $(basename "$(dirname "$f")")/$(basename "$f")" -- "$FMUGW" validate "$f"
done
finish

# cli_bad_fmus.sh - each malformed FMU is rejected by `fmugw sim` with its own
# one-line message, `validate` counts it as a problem, and nothing is ever
# written outside the extraction directory.
source "$(dirname "$0")/lib.bash"
B=$FMUGW_BAD_FMU_DIR
rm -f /tmp/fmugw_absolute_evil.txt

check() { # NAME EXPECTED-MESSAGE
    expect_exit 1 "sim rejects $1" -- "$FMUGW" sim "$B/$1.fmu" -o result.csv
    expect_lines err 1 "$1: one-line message"
    expect_in err "$2" "$1: says \"$2\""
    "$FMUGW" validate "$B/$1.fmu" >vout 2>verr
    local n=$?
    [ "$n" -ge 1 ] && pass "validate $1 counts $n problem(s)" || fail "validate $1 found no problem"
}

check no_xml "no modelDescription.xml"
check broken_xml "modelDescription.xml"
check wrong_version 'unsupported fmiVersion "1.0"'
check zip_slip "../../fmugw_zip_slip_evil.txt"
check absolute_path "/tmp/fmugw_absolute_evil.txt"
check symlink "symbolic link"
check zip_bomb "zip bomb"
check zip_bomb_entries "zip bomb: the archive expands"
check no_binary "no binary for this platform: Dahlquist.so not found in binaries/linux64"
check missing_symbol "binaries/linux64/Dahlquist.so: required function fmi2GetTypesPlatform is not exported"

[ ! -e "$B/../fmugw_zip_slip_evil.txt" ] && [ ! -e "$(dirname "$B")/../fmugw_zip_slip_evil.txt" ] \
    && [ ! -e "$WORK/../fmugw_zip_slip_evil.txt" ] && [ ! -e /tmp/fmugw_absolute_evil.txt ] \
    && pass "nothing written outside" || fail "a file escaped the extraction directory"
[ ! -e result.csv ] && pass "no result file" || fail "result file written for a bad FMU"
finish

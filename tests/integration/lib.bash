# lib.bash - assertions shared by the integration test scripts (sourced).
# Each script runs the real fmugw binary ($FMUGW) in a private directory.
set -u
failures=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fmugw-it.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# expect_exit CODE DESCRIPTION -- COMMAND...: runs the command, keeps its
# stdout in $WORK/out and stderr in $WORK/err, checks the exit status.
expect_exit() {
    local want=$1 what=$2
    shift 3
    "$@" >"$WORK/out" 2>"$WORK/err"
    local got=$?
    if [ "$got" -eq "$want" ]; then pass "$what (exit $got)"; else
        fail "$what: exit $got, expected $want"; sed 's/^/  stderr: /' "$WORK/err" | head -5 >&2; fi
}

# expect_in FILE TEXT DESCRIPTION
expect_in() {
    if grep -qF -- "$2" "$1"; then pass "$3"; else fail "$3: \"$2\" not in $(basename "$1"):"; head -5 "$1" >&2; fi
}

# expect_lines FILE N DESCRIPTION: the file has exactly N lines.
expect_lines() {
    local n
    n=$(wc -l <"$1")
    if [ "$n" -eq "$2" ]; then pass "$3"; else fail "$3: $n lines, expected $2"; cat "$1" >&2; fi
}

finish() {
    if [ "$failures" -ne 0 ]; then echo "$failures check(s) failed" >&2; exit 1; fi
    echo "all checks passed"
}

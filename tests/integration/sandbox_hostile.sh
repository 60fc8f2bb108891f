# sandbox_hostile.sh - every hostile FMU (fmus/hostile) run by `fmugw sim`
# in the sandbox: exit 1, a one-line error naming the expected outcome
# class, and nothing leaked (no connection to a listener, no secret file
# content, no secret environment value, no file written outside scratch,
# sentinels unchanged, a victim process alive, no stray process left).
# Then the harmless readers once with --no-sandbox, to prove the attacks
# are real. Needs FMUGW_HOSTILE_DIR and FMUGW_TCP_LISTENER (tests/CMakeLists.txt).
source "$(dirname "$0")/lib.bash"
H=${FMUGW_HOSTILE_DIR:?FMUGW_HOSTILE_DIR not set}
LISTENER=${FMUGW_TCP_LISTENER:?FMUGW_TCP_LISTENER not set}

# Every run carries ID (the random part of $WORK) in its runner's command
# line (in parameter target, or a path under $WORK), so our stray processes
# can be told apart from other jobs on the machine.
ID=${WORK##*.}
TAG=hostile$ID
rand() { head -c 18 /dev/urandom | base64 | tr -d '/+='; }

listener_pid=
victim_pid=
cleanup() {
    [ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null
    [ -n "$victim_pid" ] && kill "$victim_pid" 2>/dev/null
    pkill -KILL -f "$ID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

# --- the host the FMUs attack ----------------------------------------------
# World-readable and world-writable where it helps the attacker: only the
# sandbox's filesystem view may stop them, not file permissions.
chmod 755 "$WORK"
DATA=$WORK/data                      # a fake server data directory
OTHER=$WORK/jobs/other/scratch       # another job's scratch directory
OUTSIDE=$WORK/outside                # where WriteOutside aims
mkdir -p "$DATA" "$OTHER" "$OUTSIDE"
chmod 755 "$DATA" "$WORK/jobs" "$WORK/jobs/other" "$OTHER"
chmod 777 "$OUTSIDE"
SECRET=FILESECRET-$(rand)
OTHER_SECRET=SCRATCHSECRET-$(rand)
SECRET_VAR=HOSTILE_SECRET_$ID
ENV_SECRET=ENVSECRET-$(rand)
export "$SECRET_VAR=$ENV_SECRET"
echo "$SECRET" >"$DATA/secret.txt"
echo "$OTHER_SECRET" >"$OTHER/result.csv"
chmod 644 "$DATA/secret.txt" "$OTHER/result.csv"
touch "$WORK/start-marker"
sentinels() { (cd "$WORK" && find data jobs outside -printf '%p %s %m %T@\n' | sort && sha256sum data/secret.txt jobs/other/scratch/result.csv) 2>&1; sha256sum "$H"/*.fmu; }
sentinels >sentinels.before

"$LISTENER" 50 listener.count >listener.out &
listener_pid=$!
for _ in $(seq 50); do [ -s listener.out ] && break; sleep 0.1; done
PORT=$(head -1 listener.out)
connections() { cat listener.count 2>/dev/null || echo "?"; }

sleep 300 &
victim_pid=$!

# The sandbox may be slow to appear in a fresh checkout: say so plainly.
if ! "$FMUGW" sim --help | grep -q -- --no-sandbox; then
    fail "fmugw sim has no --no-sandbox option: no sandbox to test"
    finish
fi
# A harmless probe first: if the sandbox is not in effect at all, stop
# before the fork bomb, kill and ptrace FMUs run loose on this machine.
"$FMUGW" sim "$H/ReadSecret.fmu" --stop-time 0.1 --timeout 10 --start-value target="$DATA/secret.txt" -o /dev/null >probe.out 2>&1
if grep -qF -- "$SECRET" probe.out; then
    fail "the sandbox is not in effect (a default run read $DATA/secret.txt); the other hostile FMUs were not run"
    finish
fi

# --- the checks --------------------------------------------------------------
# A sanitizer build (FMUGW_SANITIZE) handles SIGSEGV and failed allocations
# itself in the runner: those cases end as FMU errors there.
ASAN=
ldd "$FMUGW" 2>/dev/null | grep -q libasan && ASAN=1

# no_leak WHAT FILE...: none of the secrets nor a loot line in the files.
no_leak() {
    local what=$1 f s leaked=
    shift
    for f in "$@"; do
        [ -e "$f" ] || continue
        for s in "$SECRET" "$OTHER_SECRET" "$ENV_SECRET"; do
            grep -qF -- "$s" "$f" && leaked="$leaked $s in $(basename "$f");"
        done
    done
    if [ -z "$leaked" ]; then pass "$what: nothing leaked"; else fail "$what: leaked:$leaked"; fi
}

# no_strays WHAT: no process of ours (tag in its command line) is left.
no_strays() {
    local what=$1 left=
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        left=$(pgrep -a -f "$ID" || true)
        [ -z "$left" ] && break
        sleep 0.1
    done
    if [ -z "$left" ]; then pass "$what: no stray process"; else fail "$what: stray processes:"; echo "$left" | head -5 >&2; fi
}

# run_case NAME CLASS DETAIL-REGEX -- fmugw-sim-options...: runs the FMU in
# the sandbox and checks exit 1, one error line "fmugw: CLASS: ..." (CLASS
# as sandbox_outcome_name() spells it) that also matches DETAIL-REGEX when
# given, and that nothing leaked.
run_case() {
    local name=$1 class=$2 detail=$3 errline
    shift 4
    local res=$WORK/res-$name.csv t0=$SECONDS
    # timeout(1): a broken sandbox must not hang the test (exit 124 then)
    expect_exit 1 "$name in the sandbox" -- timeout -k 2 20 "$FMUGW" sim "$H/$name.fmu" --stop-time 0.3 --output-interval 0.1 \
        --timeout 10 --cpu-limit 5 -o "$res" "$@"
    cp err "err-$name"
    local n_err
    n_err=$(grep -c '^fmugw: ' err)
    errline=$(grep '^fmugw: ' err | tail -1)
    [ "$n_err" -eq 1 ] && pass "$name: one error line" || fail "$name: $n_err lines start with \"fmugw: \""
    # the error line starts with the stable outcome name (sandbox_outcome_name())
    if [ -n "$ASAN" ] && [[ $class == crashed || $class == memory_limit ]] &&
        [[ $errline == "fmugw: fmu_error: "* ]] && grep -q AddressSanitizer err; then
        # under ASan the runner's sanitizer catches the fault and exits 1 itself
        pass "$name: ASan build: the sanitizer stopped it (fmu_error instead of $class)"
        detail=
    elif [ -n "$ASAN" ] && [[ $class == memory_limit ]] && [[ $errline == "fmugw: cpu_limit: "* || $errline == "fmugw: timeout: "* ]]; then
        # an ASan runner has no address-space limit (ASan reserves terabytes):
        # the allocation succeeds lazily and the CPU (or, slowed, the wall-clock) limit stops the job
        pass "$name: ASan build: no memory limit, stopped by the CPU limit"
        detail=
    elif [[ $errline == "fmugw: $class: "* ]]; then pass "$name: outcome $class"; else
        fail "$name: expected outcome $class, got: ${errline:-(no fmugw: line)}"; grep -v '^\[Warning\] logStatusWarning: flood' err | tail -3 | sed 's/^/  stderr: /' >&2; fi
    if [ -n "$detail" ]; then
        grep -qE -i -- "$detail" <<<"$errline" && pass "$name: names $detail" || fail "$name: \"$detail\" not in: $errline"
    fi
    grep -q "HOSTILE-LOOT" err out && fail "$name: the attack got through: $(grep -h HOSTILE-LOOT err out | head -1 | cut -c1-200)"
    [ -e "$res" ] && fail "$name: a result file was written"
    no_leak "$name" "$WORK/err" "$WORK/out" "$res"
    no_strays "$name"
    [ "$(connections)" = 0 ] || fail "$name: the listener saw $(connections) connection(s)"
    elapsed=$((SECONDS - t0))
    echo "   ($name: $elapsed s)"
}

# took_at_most S WHAT: the last run_case ended within S seconds.
took_at_most() {
    [ "$elapsed" -le "$1" ] && pass "$2 within $1 s" || fail "$2 took $elapsed s (limit $1 s)"
}

# --- the hostile FMUs in the sandbox -----------------------------------------
run_case ConnectTcp forbidden_syscall '' -- --start-value port="$PORT" --start-value target="$TAG"
run_case ResolveHost forbidden_syscall '' -- --start-value target="$TAG.invalid" --start-value port="$PORT"
run_case ReadSecret fmu_error '' -- --start-value target="$DATA/secret.txt"
run_case ReadOtherScratch fmu_error '' -- --start-value target="$OTHER"
run_case WriteOutside fmu_error '' -- --start-value target="$OUTSIDE/PWNED"
[ -e "$OUTSIDE/PWNED" ] && fail "WriteOutside created $OUTSIDE/PWNED" || pass "WriteOutside: no file outside scratch"
run_case ReadEnviron fmu_error '' -- --start-value target="$SECRET_VAR"
run_case ForkBomb forbidden_syscall '' -- --start-value count=512 --start-value target="$TAG"
run_case ExecShell forbidden_syscall '' -- --start-value target="$TAG"
run_case InfiniteLoop cpu_limit '' -- --cpu-limit 1 --timeout 10 --start-value target="$TAG"
# a safety net for the machine if the sandbox's own limit failed (not under ASan, which needs a huge address space)
if [ -n "$ASAN" ]; then vlimit=unlimited; else vlimit=4194304; fi
(ulimit -v $vlimit && run_case Alloc64G memory_limit 'after [1-9][0-9]* MiB' -- --memory-limit 256M --start-value target="$TAG"; echo "$failures" >alloc.failures)
failures=$(cat alloc.failures 2>/dev/null || echo $((failures + 1)))
run_case StackOverflow crashed 'SIGSEGV|segmentation' -- --start-value target="$TAG"
run_case Segfault crashed 'SIGSEGV|segmentation' -- --start-value target="$TAG"
run_case Abort crashed 'SIGABRT|abort' -- --start-value target="$TAG"
run_case KillParent forbidden_syscall '' -- --start-value port="$victim_pid" --start-value target="$TAG"
kill -0 "$victim_pid" 2>/dev/null && pass "KillParent: the victim process lives" || fail "KillParent: the victim process was killed"
run_case Ptrace forbidden_syscall '' -- --start-value target="$TAG"
run_case UnshareMount forbidden_syscall '' -- --start-value target="$WORK/mnt-$TAG"
run_case LogFlood output_limit '' -- --output-limit 1M --start-value count=64 --start-value target="$TAG"
size=$(stat -c %s err-LogFlood)
[ "$size" -lt $((4 << 20)) ] && pass "LogFlood: stderr stayed small ($size bytes)" || fail "LogFlood: $size bytes on stderr under a 1M output limit"
run_case SleepForever timeout '' -- --timeout 1 --start-value target="$TAG"
run_case ThreadSpin fmu_error 'pthread_create' -- --start-value count=1000 --start-value target="$TAG"
run_case ConstructorSocket forbidden_syscall '' -- --start-value target="$TAG"
run_case InheritedFds fmu_error 'no descriptor above 4' -- --start-value target="$TAG"
# forged status lines: the FMU's word decides nothing beyond an FMU outcome
run_case ForgePlatform fmu_error 'exit code 2' -- --start-value count=300 --start-value target="$TAG"
grep -q FORGED <<<"$(grep '^fmugw: ' err-ForgePlatform)" && fail "ForgePlatform: its own text is the error" || pass "ForgePlatform: none of its text in the error"
run_case ForgeOk fmu_error 'before the simulation completed' -- --start-value count=300 --start-value target="$TAG"
# other system call ABIs: the whole process is killed, not only the calling thread
run_case X32Syscall forbidden_syscall '' -- --start-value target="$TAG"
run_case Int80 forbidden_syscall '' -- --start-value target="$TAG"
# the scratch: a tmpfs capped in bytes and inodes, nosuid, nodev, noexec
run_case FillScratch fmu_error 'stopped after [0-9]+ MiB' -- --start-value count=3000 --start-value target="$TAG"
run_case ManyFiles fmu_error 'stopped after [0-9]+ files' -- --start-value count=300000 --start-value target="$TAG"
run_case SetuidFile fmu_error 'nosuid, noexec' -- --start-value count=1 --start-value target="$TAG"
found=$(find "$WORK" "${TMPDIR:-/tmp}" -maxdepth 3 \( -name "suid-$TAG" -o -name 'fill-*' -newer "$WORK/start-marker" \) 2>/dev/null | head -3)
[ -z "$found" ] && pass "scratch files stayed in the sandbox" || fail "scratch files on the host: $found"
# what /proc tells of the host: no host path in mountinfo, no host cgroup
run_case ReadMounts fmu_error 'no host path' -- --start-value target="$TAG"
grep -qF -- "$WORK" err-ReadMounts && fail "ReadMounts: $WORK appears in its output" || pass "ReadMounts: no host path in its output"

# --- afterwards: the host is unchanged ---------------------------------------
[ "$(connections)" = 0 ] && pass "the listener saw no connection" || fail "the listener saw $(connections) connection(s)"
sentinels >sentinels.after
cmp -s sentinels.before sentinels.after && pass "sentinels unchanged" || { fail "sentinels changed:"; diff sentinels.before sentinels.after >&2; }
found=$(find "$WORK" "${TMPDIR:-/tmp}" -maxdepth 4 -name 'PWNED*' -newer "$WORK/start-marker" 2>/dev/null | head -3)
[ -z "$found" ] && pass "no PWNED file anywhere in $WORK or ${TMPDIR:-/tmp}" || fail "files written by the FMUs: $found"
no_strays "all hostile jobs"
others=$(pgrep -c -f fmugw-runner || true)
[ "$others" = 0 ] || echo "note: $others fmugw-runner process(es) of other jobs on this machine (not ours: no tag)"

# --- without the sandbox the harmless attacks do get through ------------------
expect_exit 0 "ReadSecret --no-sandbox" -- "$FMUGW" sim "$H/ReadSecret.fmu" --no-sandbox --stop-time 0.2 --start-value target="$DATA/secret.txt"
expect_in err "$SECRET" "without the sandbox the secret file leaks (the attack is real)"
grep -qi unsafe err && pass "--no-sandbox warns that it is unsafe" || fail "--no-sandbox printed no warning"
expect_exit 0 "ReadEnviron --no-sandbox" -- "$FMUGW" sim "$H/ReadEnviron.fmu" --no-sandbox --stop-time 0.2 --start-value target="$SECRET_VAR"
expect_in err "$ENV_SECRET" "without the sandbox the environment leaks"
expect_exit 0 "ReadOtherScratch --no-sandbox" -- "$FMUGW" sim "$H/ReadOtherScratch.fmu" --no-sandbox --stop-time 0.2 --start-value target="$OTHER"
expect_in err "$OTHER_SECRET" "without the sandbox another job's scratch leaks"
expect_exit 0 "ConnectTcp --no-sandbox" -- "$FMUGW" sim "$H/ConnectTcp.fmu" --no-sandbox --stop-time 0.2 --start-value port="$PORT"
sleep 0.2
[ "$(connections)" = 1 ] && pass "without the sandbox the listener sees the connection" || fail "listener count $(connections) after an unsandboxed connect, expected 1"
finish

# gateway_live_admin.sh - accounts created with `fmugwd admin` while the
# daemon runs (and has served requests) work at once. Guards against the
# database seam dropping the daemon's SQLite locks (close() of any
# descriptor of the file releases all of a process's POSIX locks), after
# which an admin process deleted the WAL under the running daemon.
source "$(dirname "$0")/lib.bash"
DATA=./data # relative, as `make run` gives it (the job system needs it made absolute)
"$FMUGWD" --data-dir "$DATA" --listen 127.0.0.1:0 >daemon.out 2>daemon.err &
pid=$!
for _ in $(seq 100); do grep -q '"msg":"listening"' daemon.err 2>/dev/null && break; sleep 0.1; done
port=$(grep '"msg":"listening"' daemon.err | grep -o '"port":[0-9]*' | cut -d: -f2)
[ -n "$port" ] && pass "the daemon starts on a relative data directory" ||
    { fail "the daemon did not start"; tail -3 daemon.err >&2; finish; }
admin_key=$(grep -o '"admin_api_key":"[^"]*"' daemon.out | cut -d'"' -f4)
token() { curl -s -o /dev/null -w '%{http_code}' -X POST -H "X-API-Key: $1" "http://127.0.0.1:$port/auth/token"; }
for _ in 1 2 3 4 5; do [ "$(token "$admin_key")" = 200 ] || fail "admin token"; done
for i in 1 2 3; do
    key=$("$FMUGWD" admin --data-dir "$DATA" account create --email "live$i@example.com" --tier pro --json |
        grep -o '"api_key": *"[^"]*"' | cut -d'"' -f4)
    [ -n "$key" ] || fail "account $i: no key printed"
    for j in 1 2 3; do
        code=$(token "$key")
        [ "$code" = 200 ] && pass "account $i created while running: token $j" ||
            fail "account $i created while running: token $j answered $code"
    done
done
kill "$pid"
wait "$pid"
finish

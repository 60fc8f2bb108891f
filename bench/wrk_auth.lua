-- wrk_auth.lua - the authenticated request of bench/bench_http.sh: every
-- request carries the API key and the bearer JWT (from the environment,
-- never on the command line) and GETs FMUGW_BENCH_PATH.
wrk.method = "GET"
wrk.path = os.getenv("FMUGW_BENCH_PATH")
wrk.headers["X-API-Key"] = os.getenv("FMUGW_BENCH_KEY")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("FMUGW_BENCH_TOKEN")

-- Non-2xx answers (a 429 would mean the rate limit throttled the run) are
-- counted by wrk as "Non-2xx or 3xx responses"; the script checks for them.

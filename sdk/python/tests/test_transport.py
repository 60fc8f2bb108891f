"""Transport behaviour against a scripted local HTTP server (offline):
retries and backoff, Retry-After, Idempotency-Key reuse, token refresh on
an expired-token 401, problem -> exception mapping, network errors,
results parsing and the long-poll loop. (The same behaviours are checked
against the real gateway in test_live.py where it can produce them.)"""
from __future__ import annotations

import http.server
import json
import socket
import threading
import time
import unittest
from typing import Any, Dict, List, Tuple

import fmugw

KEY = "fmugw_live_cccccccccccccccccccccccccccccccccccccc"
PROBLEM = "https://fmu-gateway.dev/problems/"

Reply = Tuple[int, Dict[str, str], Any]


class FakeGateway:
    """Serves scripted replies: script[(method, path)] is a list of replies
    consumed in order (the last one repeats). Records every request."""

    def __init__(self) -> None:
        self.script: Dict[Tuple[str, str], List[Reply]] = {}
        self.requests: List[Dict[str, Any]] = []
        self.tokens = 0
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def handle_one(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                path = self.path.split("?", 1)[0]
                fake.requests.append({"method": self.command, "path": self.path, "headers": self.headers,
                                      "body": body})
                if self.command == "POST" and path == "/auth/token" and (self.command, path) not in fake.script:
                    fake.tokens += 1
                    reply: Reply = (200, {}, {"access_token": f"tok{fake.tokens}", "token_type": "Bearer",
                                              "expires_in": 900})
                else:
                    replies = fake.script.get((self.command, path)) or [(404, {}, problem("not-found", 404))]
                    reply = replies.pop(0) if len(replies) > 1 else replies[0]
                status, headers, payload = reply[0], dict(reply[1]), reply[2]
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                ctype = "application/problem+json" if status >= 400 else "application/json"
                self.send_header("Content-Type", headers.pop("Content-Type", ctype))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = handle_one

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def calls(self, method: str, path: str) -> List[Dict[str, Any]]:
        return [r for r in self.requests if r["method"] == method and r["path"].split("?")[0] == path]


def problem(slug: str, status: int, detail: str = "", **extra: Any) -> Dict[str, Any]:
    p = {"type": PROBLEM + slug, "title": slug, "status": status, "detail": detail, "instance": "req123"}
    p.update(extra)
    return p


class TransportTest(unittest.TestCase):
    def setUp(self) -> None:
        self.gw = FakeGateway()
        self.client = fmugw.Client(self.gw.url, KEY, timeout=5, backoff=0.01, max_backoff=0.05, contract_log="")

    def tearDown(self) -> None:
        self.gw.close()

    def test_headers_and_token_reuse(self) -> None:
        self.gw.script[("GET", "/fmu")] = [(200, {}, {"items": [], "next_cursor": None})]
        self.client.list_fmus()
        self.client.list_fmus(limit=5)
        self.assertEqual(self.gw.tokens, 1)
        tok = self.gw.calls("POST", "/auth/token")[0]["headers"]
        self.assertEqual(tok["X-API-Key"], KEY)
        self.assertNotIn("Authorization", tok)
        got = self.gw.calls("GET", "/fmu")
        self.assertEqual(got[0]["headers"]["Authorization"], "Bearer tok1")
        self.assertEqual(got[0]["headers"]["X-API-Key"], KEY)
        self.assertTrue(got[0]["headers"]["User-Agent"].startswith("fmugw-python/"))
        self.assertEqual(got[1]["path"], "/fmu?limit=5")

    def test_get_retried_on_503_then_succeeds(self) -> None:
        self.gw.script[("GET", "/fmu/fmu_x1234567")] = [(503, {}, problem("unavailable", 503)),
                                                        (502, {}, b"bad gateway"),
                                                        (200, {}, {"id": "fmu_x1234567"})]
        self.assertEqual(self.client.get_fmu("fmu_x1234567")["id"], "fmu_x1234567")
        self.assertEqual(len(self.gw.calls("GET", "/fmu/fmu_x1234567")), 3)
        self.assertEqual(self.client.retries, 2)

    def test_retries_run_out(self) -> None:
        self.gw.script[("GET", "/account")] = [(503, {}, problem("unavailable", 503, "db down"))]
        with self.assertRaises(fmugw.ServerError) as cm:
            self.client.account()
        self.assertEqual(cm.exception.status, 503)
        self.assertEqual(len(self.gw.calls("GET", "/account")), self.client.max_retries + 1)

    def test_429_honours_retry_after(self) -> None:
        self.gw.script[("GET", "/keys")] = [(429, {"Retry-After": "1"}, problem("rate-limited", 429)),
                                            (200, {}, {"items": [{"id": "k1"}]})]
        t0 = time.monotonic()
        self.assertEqual(self.client.list_keys(), [{"id": "k1"}])
        self.assertGreaterEqual(time.monotonic() - t0, 0.95)

    def test_429_after_retries_is_rate_limited_error_with_retry_after(self) -> None:
        self.client.max_retries = 1
        self.gw.script[("GET", "/keys")] = [(429, {"Retry-After": "0"}, problem("rate-limited", 429, "slow down"))]
        with self.assertRaises(fmugw.RateLimitedError) as cm:
            self.client.list_keys()
        self.assertEqual(cm.exception.retry_after, 0.0)
        self.assertEqual(cm.exception.detail, "slow down")

    def test_execute_retries_with_the_same_idempotency_key(self) -> None:
        self.gw.script[("POST", "/fmu/execute")] = [(503, {}, problem("unavailable", 503)),
                                                    (504, {}, b""),
                                                    (202, {}, {"job_id": "job_1", "status": "queued"})]
        answer = self.client.execute("fmu_abcdefgh", stop_time=3.0, start_values={"h": 2})
        self.assertEqual(answer["job_id"], "job_1")
        calls = self.gw.calls("POST", "/fmu/execute")
        keys = {c["headers"]["Idempotency-Key"] for c in calls}
        self.assertEqual(len(calls), 3)
        self.assertEqual(len(keys), 1)
        body = json.loads(calls[0]["body"])
        self.assertEqual(body, {"fmu_id": "fmu_abcdefgh", "stop_time": 3.0, "start_values": {"h": 2}})
        # a new logical execute gets a new key
        self.client.execute("fmu_abcdefgh")
        self.assertNotIn(self.gw.calls("POST", "/fmu/execute")[-1]["headers"]["Idempotency-Key"], keys)

    def test_non_idempotent_post_is_not_retried_on_503(self) -> None:
        self.gw.script[("POST", "/keys")] = [(503, {}, problem("unavailable", 503)), (201, {}, {"id": "k"})]
        with self.assertRaises(fmugw.ServerError):
            self.client.create_key(name="x")
        self.assertEqual(len(self.gw.calls("POST", "/keys")), 1)

    def test_expired_token_is_refreshed_once(self) -> None:
        expired = problem("unauthorized", 401, "the token has expired")
        self.gw.script[("GET", "/account")] = [(401, {}, expired), (200, {}, {"balance": 5})]
        self.assertEqual(self.client.account(), {"balance": 5})
        self.assertEqual(self.gw.tokens, 2)
        acc = self.gw.calls("GET", "/account")
        self.assertEqual([c["headers"]["Authorization"] for c in acc], ["Bearer tok1", "Bearer tok2"])
        # a second expired answer in a row is an AuthError, not a loop
        self.gw.script[("GET", "/account")] = [(401, {}, expired)]
        with self.assertRaises(fmugw.AuthError):
            self.client.account()
        self.assertEqual(self.gw.tokens, 3)

    def test_other_401_is_not_retried(self) -> None:
        self.gw.script[("GET", "/account")] = [(401, {}, problem("unauthorized", 401, "the API key is not valid"))]
        with self.assertRaises(fmugw.AuthError) as cm:
            self.client.account()
        self.assertEqual(self.gw.tokens, 1)
        self.assertEqual(cm.exception.slug, "unauthorized")

    def test_problem_mapping(self) -> None:
        cases = [
            ("bad-request", 400, fmugw.ValidationError), ("unauthorized", 401, fmugw.AuthError),
            ("insufficient-credits", 402, fmugw.InsufficientCreditsError), ("forbidden", 403, fmugw.AuthError),
            ("not-found", 404, fmugw.NotFoundError), ("conflict", 409, fmugw.ConflictError),
            ("payload-too-large", 413, fmugw.ValidationError), ("unprocessable", 422, fmugw.ValidationError),
            ("internal", 500, fmugw.ServerError),
        ]
        for slug, status, cls in cases:
            with self.subTest(slug=slug):
                errors = [{"field": "stop_time", "message": "must be > start_time"}]
                self.gw.script[("GET", "/jobs")] = [(status, {}, problem(slug, status, "why", errors=errors))]
                with self.assertRaises(cls) as cm:
                    self.client.list_jobs()
                e = cm.exception
                self.assertEqual((e.status, e.slug, e.detail, e.instance), (status, slug, "why", "req123"))
                self.assertEqual(e.type, PROBLEM + slug)
                self.assertEqual(e.errors, errors)
                self.assertIn("stop_time: must be > start_time", str(e))
        # no problem body: mapped by status
        self.gw.script[("GET", "/jobs")] = [(402, {"Content-Type": "text/plain"}, b"pay up")]
        with self.assertRaises(fmugw.InsufficientCreditsError) as cm:
            self.client.list_jobs()
        self.assertEqual(cm.exception.detail, "pay up")

    def test_network_error(self) -> None:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there now
        c = fmugw.Client(f"http://127.0.0.1:{port}", KEY, timeout=2, max_retries=2, backoff=0.01,
                         contract_log="")
        with self.assertRaises(fmugw.NetworkError) as cm:
            c.list_fmus()
        self.assertIn(f"127.0.0.1:{port}", str(cm.exception))
        self.assertEqual(c.retries, 2)  # the token request is retried

    def test_wait_polls_until_terminal_and_raises_on_failure(self) -> None:
        self.gw.script[("GET", "/fmu/status/job_1")] = [
            (200, {}, {"job_id": "job_1", "status": "queued"}),
            (200, {}, {"job_id": "job_1", "status": "running"}),
            (200, {}, {"job_id": "job_1", "status": "succeeded", "credits_charged": 0.5})]
        seen: List[str] = []
        st = self.client.wait("job_1", timeout=10, on_status=lambda s: seen.append(s["status"]))
        self.assertEqual(seen, ["queued", "running", "succeeded"])
        self.assertEqual(st["credits_charged"], 0.5)
        self.assertIn("wait=10", self.gw.calls("GET", "/fmu/status/job_1")[0]["path"])

        self.gw.script[("GET", "/fmu/status/job_2")] = [
            (200, {}, {"job_id": "job_2", "status": "failed",
                       "error": {"type": PROBLEM + "job-failed", "title": "Job failed",
                                 "detail": "fmi2DoStep failed", "error_class": "fmu_error", "instance": "job_2"}})]
        with self.assertRaises(fmugw.JobFailedError) as cm:
            self.client.wait("job_2")
        e = cm.exception
        self.assertEqual((e.job_id, e.job_status, e.error_class), ("job_2", "failed", "fmu_error"))
        self.assertIn("fmi2DoStep failed", str(e))
        self.assertEqual((e.slug, e.detail, e.error_message), ("job-failed", "fmi2DoStep failed", "fmi2DoStep failed"))

        self.gw.script[("GET", "/fmu/status/job_3")] = [(200, {}, {"job_id": "job_3", "status": "running"})]
        t0 = time.monotonic()
        with self.assertRaises(fmugw.WaitTimeoutError):
            self.client.wait("job_3", timeout=1.2)
        self.assertLess(time.monotonic() - t0, 5)

    def test_results_are_downloaded_checked_and_parsed(self) -> None:
        import hashlib
        csv_bytes = b'"time","h","v","on"\n0,1,0,true\n0.5,0.25,-4.9,false\n'
        self.gw.script[("GET", "/fmu/results/job_1")] = [(200, {}, {
            "url": "/results/res1?account=a&expires=1&sig=s", "format": "csv", "rows": 2,
            "size": len(csv_bytes), "sha256": hashlib.sha256(csv_bytes).hexdigest(), "expires_at": "x"})]
        self.gw.script[("GET", "/results/res1")] = [(200, {"Content-Type": "text/csv"}, csv_bytes)]
        r = self.client.results("job_1")
        self.assertEqual(r.columns, ["time", "h", "v", "on"])
        self.assertEqual(r.rows, [{"time": 0.0, "h": 1.0, "v": 0.0, "on": True},
                                  {"time": 0.5, "h": 0.25, "v": -4.9, "on": False}])
        self.assertIs(r.rows, r)
        self.assertEqual(r.column("h"), [1.0, 0.25])
        self.assertEqual(r.raw, csv_bytes)
        signed = self.gw.calls("GET", "/results/res1")[0]["headers"]
        self.assertNotIn("X-API-Key", signed)  # the key never goes to signed URLs
        self.assertNotIn("Authorization", signed)
        # tampered bytes are refused
        self.gw.script[("GET", "/results/res1")] = [(200, {"Content-Type": "text/csv"}, csv_bytes + b"1,2,3,true\n")]
        with self.assertRaises(fmugw.ResultIntegrityError):
            self.client.results("job_1")

    def test_to_pandas_without_pandas_is_a_clear_error(self) -> None:
        r = fmugw.Result([{"time": 0.0}])
        try:
            import pandas  # noqa: F401
        except ImportError:
            with self.assertRaises(ImportError) as cm:
                r.to_pandas()
            self.assertIn("pip install pandas", str(cm.exception))
        else:
            self.assertEqual(list(r.dataframe().columns), ["time"])

    def test_unknown_option_is_refused_before_any_request(self) -> None:
        with self.assertRaises(TypeError) as cm:
            self.client.simulate("fmu_abcdefgh", stop_tim=3)
        self.assertIn("stop_time", str(cm.exception))
        self.assertEqual(self.gw.requests, [])

    def test_option_mapping(self) -> None:
        body = fmugw.build_execute_body("fmu_a", {"tolerance": 1e-6, "output_variable": "h", "format": "json",
                                                  "inputs": [{"time": 0, "u": 1}, {"time": 1, "u": 2}],
                                                  "step_size": None})
        self.assertEqual(body, {"fmu_id": "fmu_a", "relative_tolerance": 1e-6, "output_variables": ["h"],
                                "output_format": "json", "inputs": {"time": [0, 1], "u": [1, 2]}})


class ResultParsingTest(unittest.TestCase):
    def test_json_layouts(self) -> None:
        from fmugw.results import parse_json
        want = [{"time": 0, "x": 1}, {"time": 1, "x": 2}]
        self.assertEqual(parse_json(json.dumps(want)), want)
        self.assertEqual(parse_json(json.dumps({"rows": want})), want)
        self.assertEqual(parse_json(json.dumps({"columns": ["time", "x"], "rows": [[0, 1], [1, 2]]})), want)
        self.assertEqual(parse_json(json.dumps({"time": [0, 1], "x": [1, 2]})), want)
        with self.assertRaises(ValueError):
            parse_json("42")


if __name__ == "__main__":
    unittest.main()

"""The SDK against a real gateway (tests/integration/sdk_python.sh starts
one): tokens and their refresh, config files in a temp HOME, uploads and
the SHA-256 skip, error mapping, keys, and (once the job routes exist)
simulate() end to end with results equal to the offline `fmugw sim`."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
import time
import unittest
import uuid
from typing import Any, Dict, List

import fmugw
from fmugw.results import parse_csv
from support import (API_KEY, BASE_URL, REQUIRE_JOBS, TOKEN_TTL, broken_fmu, environ, live, sample, temp_home,
                     unique_copy)


def jobs_available(client: fmugw.Client) -> bool:
    """Whether the gateway has the job routes (a status of an unknown job is
    a 404 problem from the jobs handler, a 404/405 from the router)."""
    try:
        client.list_jobs(limit=1)
        return True
    except (fmugw.NotFoundError, fmugw.FmuGatewayError) as e:
        if e.status in (404, 405):
            return False
        raise


class LiveBase(unittest.TestCase):
    tmp: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.mkdtemp(prefix="fmugw-sdk-")

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def client(self, **kw: Any) -> fmugw.Client:
        return fmugw.Client(BASE_URL, API_KEY, **kw)


@live
class TokenTest(LiveBase):
    def test_one_token_for_many_calls(self) -> None:
        c = self.client()
        c.list_fmus(limit=1)
        c.list_keys()
        c.list_fmus(limit=2)
        self.assertEqual(c.token_requests, 1)
        self.assertEqual(c.expired_token_retries, 0)

    def test_token_refreshed_before_expiry(self) -> None:
        if not TOKEN_TTL or TOKEN_TTL > 10:
            self.skipTest("needs a gateway with a short token_ttl_s (FMUGW_IT_TOKEN_TTL)")
        c = self.client()
        c.list_fmus(limit=1)
        time.sleep(TOKEN_TTL * 0.85)  # past the refresh margin, before expiry
        c.list_fmus(limit=1)
        self.assertEqual(c.token_requests, 2)
        self.assertEqual(c.expired_token_retries, 0)

    def test_expired_token_refreshed_once_on_401(self) -> None:
        if not TOKEN_TTL or TOKEN_TTL > 10:
            self.skipTest("needs a gateway with a short token_ttl_s (FMUGW_IT_TOKEN_TTL)")
        c = self.client()
        c.list_fmus(limit=1)
        c._token_expiry = time.monotonic() + 3600  # the client wrongly believes it is still valid
        time.sleep(TOKEN_TTL + 1.1)
        page = c.list_fmus(limit=1)
        self.assertIn("items", page)
        self.assertEqual(c.expired_token_retries, 1)
        self.assertEqual(c.token_requests, 2)


@live
class ConfigFileTest(LiveBase):
    def test_client_from_config_file_in_temp_home(self) -> None:
        with temp_home() as home:
            path = fmugw.configure(BASE_URL, API_KEY, profile="it")
            self.assertTrue(path.startswith(home))
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
            with environ(FMUGW_PROFILE="it"):
                self.assertIn("items", fmugw.Client().list_fmus(limit=1))
            os.chmod(path, 0o644)
            with environ(FMUGW_PROFILE="it"), self.assertRaises(fmugw.ConfigError):
                fmugw.Client()


@live
class FmuTest(LiveBase):
    def test_upload_then_skip_by_sha256(self) -> None:
        c = self.client()
        path = unique_copy(sample("BouncingBall", "2.0"), self.tmp)
        seen: List[int] = []
        first = c.upload(path, progress=lambda done, total: seen.append(done))
        self.assertFalse(first["existing"])
        self.assertEqual(first["status"], "ready")
        self.assertTrue(first["fmu_id"].startswith("fmu_"))
        size = os.path.getsize(path)
        self.assertEqual(first["size"], size)
        self.assertEqual(first["sha256"], fmugw.sha256_file(path)[0])
        self.assertEqual(seen[-1], size)
        self.assertEqual(first["summary"]["model_name"], "BouncingBall")

        second = c.upload(path)
        self.assertTrue(second["existing"])
        self.assertEqual(second["fmu_id"], first["fmu_id"])

        ids = [f["id"] for f in c.iter_fmus(page_size=2)]
        self.assertIn(first["fmu_id"], ids)
        self.assertEqual(len(ids), len(set(ids)))
        self.assertEqual(c.get_fmu(first["fmu_id"])["name"], os.path.basename(path))

        back = os.path.join(self.tmp, "back.fmu")
        c.download_fmu(first["fmu_id"], back)
        with open(back, "rb") as a, open(path, "rb") as b:
            self.assertEqual(a.read(), b.read())

        c.delete_fmu(first["fmu_id"])
        with self.assertRaises(fmugw.NotFoundError):
            c.get_fmu(first["fmu_id"])
        # after the delete the same bytes are a new upload again
        third = c.upload(path)
        self.assertFalse(third["existing"])
        self.assertNotEqual(third["fmu_id"], first["fmu_id"])
        c.delete_fmu(third["fmu_id"])

    def test_rejected_upload(self) -> None:
        c = self.client()
        with self.assertRaises(fmugw.FmuRejectedError) as cm:
            c.upload(broken_fmu(self.tmp))
        e = cm.exception
        self.assertIsInstance(e, fmugw.ValidationError)
        self.assertEqual(e.fmu["status"], "rejected")
        self.assertFalse(e.validation["valid"])
        self.assertTrue(e.validation["fatal"])
        self.assertTrue(e.errors)


@live
class ErrorMappingTest(LiveBase):
    def test_not_found(self) -> None:
        with self.assertRaises(fmugw.NotFoundError) as cm:
            self.client().get_fmu("fmu_doesnotexist0000")
        e = cm.exception
        self.assertEqual((e.status, e.slug), (404, "not-found"))
        self.assertEqual(e.type, "https://fmu-gateway.dev/problems/not-found")
        self.assertTrue(e.instance)

    def test_validation_errors_list_fields(self) -> None:
        c = self.client()
        with self.assertRaises(fmugw.ValidationError) as cm:
            c._json("POST", "/fmu/upload", json_body={"name": "x.fmu", "size": 10, "sha256": "not-hex"})
        e = cm.exception
        self.assertEqual(e.status, 400)
        self.assertIn("sha256", [x.get("field") for x in e.errors])

    def test_unknown_key_is_auth_error(self) -> None:
        bogus = fmugw.Client(BASE_URL, "fmugw_live_" + "A" * 38, max_retries=0)
        with self.assertRaises(fmugw.AuthError) as cm:
            bogus.list_fmus()
        self.assertEqual(cm.exception.status, 401)

    def test_key_lifecycle_and_revoked_key(self) -> None:
        c = self.client()
        made = c.create_key(scopes="fmu:read", name=f"sdk-{uuid.uuid4().hex[:6]}")
        self.assertTrue(made["api_key"].startswith("fmugw_"))
        self.assertIn(made["id"], [k["id"] for k in c.list_keys()])
        other = fmugw.Client(BASE_URL, made["api_key"])
        self.assertIn("items", other.list_fmus(limit=1))
        with self.assertRaises(fmugw.AuthError) as cm:  # no fmu:write scope
            other.upload(unique_copy(sample("Dahlquist", "2.0"), self.tmp))
        self.assertEqual(cm.exception.status, 403)
        c.revoke_key(made["id"])
        with self.assertRaises(fmugw.AuthError):
            other.list_fmus(limit=1)
        with self.assertRaises(fmugw.NotFoundError):
            c.revoke_key("k_doesnotexist00")


def offline_sim(path: str, *args: str) -> List[Dict[str, Any]]:
    """Rows of `$FMUGW sim` (the local runner) for the same settings."""
    out = subprocess.run([os.environ["FMUGW"], "sim", path, *args], check=True, capture_output=True, text=True)
    return parse_csv(out.stdout)


def assert_rows_equal(test: unittest.TestCase, got: List[Dict[str, Any]], want: List[Dict[str, Any]]) -> None:
    test.assertEqual(len(got), len(want))
    test.assertEqual(list(got[0]), list(want[0]))
    for i, (g, w) in enumerate(zip(got, want)):
        for k in w:
            a, b = g[k], w[k]
            if isinstance(b, float) and isinstance(a, float):
                test.assertLessEqual(abs(a - b), 1e-12 * max(1.0, abs(b)), f"row {i} column {k}: {a} != {b}")
            else:
                test.assertEqual(a, b, f"row {i} column {k}")


@live
class JobsTest(LiveBase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        if not jobs_available(fmugw.Client(BASE_URL, API_KEY)):
            if REQUIRE_JOBS:
                raise AssertionError("the job routes are in api/openapi.yaml but GET /jobs is missing")
            raise unittest.SkipTest("the gateway has no job routes yet")

    def test_simulate_one_call_equals_offline_sim(self) -> None:
        if "FMUGW" not in os.environ:
            self.skipTest("FMUGW (the fmugw CLI) not set")
        path = unique_copy(sample("BouncingBall", "2.0"), self.tmp)
        result = fmugw.Client().simulate(path, stop_time=3.0)  # the exact documented call
        want = offline_sim(path, "--stop-time", "3")
        assert_rows_equal(self, result.rows, want)
        self.assertIs(result.rows, result)
        self.assertEqual(result.columns, list(want[0]))
        self.assertEqual(result.job["status"], "succeeded")
        self.assertIsNotNone(result.credits_charged)
        # the second simulate of the same file skips the upload
        again = fmugw.Client().simulate(path, stop_time=3.0)
        self.assertEqual(again.fmu_id, result.fmu_id)
        assert_rows_equal(self, again.rows, want)

    def test_simulate_options_by_id(self) -> None:
        c = self.client()
        fmu = c.upload(unique_copy(sample("BouncingBall", "3.0"), self.tmp))
        opts = dict(stop_time=1.0, output_interval=0.1, start_values={"h": 2.0}, output_variables=["h"])
        result = c.simulate(fmu["fmu_id"], **opts)
        self.assertEqual(result.columns, ["time", "h"])
        self.assertEqual(len(result), 11)
        self.assertEqual(result[0], {"time": 0.0, "h": 2.0})
        want = offline_sim(sample("BouncingBall", "3.0"), "--stop-time", "1", "--output-interval", "0.1",
                           "--start-value", "h=2", "--output-variable", "h")
        assert_rows_equal(self, result, want)

    def test_execute_wait_results_and_idempotency(self) -> None:
        c = self.client()
        fmu = c.upload(unique_copy(sample("Dahlquist", "2.0"), self.tmp))
        key = str(uuid.uuid4())
        job = c.execute(fmu["fmu_id"], idempotency_key=key, stop_time=2.0, reuse=False)
        replay = c.execute(fmu["fmu_id"], idempotency_key=key, stop_time=2.0, reuse=False)
        self.assertEqual(replay["job_id"], job["job_id"])
        seen: List[str] = []
        final = c.wait(job["job_id"], timeout=120, on_status=lambda s: seen.append(s["status"]))
        self.assertEqual(final["status"], "succeeded")
        self.assertEqual(seen[-1], "succeeded")
        res = c.results(job["job_id"])
        self.assertEqual(len(res), res.info["rows"])
        self.assertEqual(res.columns[0], "time")
        out = os.path.join(self.tmp, "dahlquist.csv")
        info = c.download_results(job["job_id"], out)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), res.raw)
        self.assertEqual(info["sha256"], res.info["sha256"])
        self.assertIn(job["job_id"], [j["job_id"] for j in c.iter_jobs(fmu_id=fmu["fmu_id"])])
        # a finished job cannot be canceled
        with self.assertRaises(fmugw.ConflictError):
            c.cancel(job["job_id"])

    def test_invalid_options_are_a_validation_error(self) -> None:
        c = self.client()
        fmu = c.upload(unique_copy(sample("BouncingBall", "2.0"), self.tmp))
        with self.assertRaises(fmugw.ValidationError) as cm:
            c.execute(fmu["fmu_id"], start_time=5.0, stop_time=1.0)
        self.assertEqual(cm.exception.status, 422)
        self.assertTrue(cm.exception.errors)
        with self.assertRaises(fmugw.NotFoundError):
            c.execute("fmu_doesnotexist0000", stop_time=1.0)
        with self.assertRaises(fmugw.NotFoundError):
            c.status("job_doesnotexist0000")

    def test_failed_job_raises_job_failed_error(self) -> None:
        c = self.client()
        fmu = c.upload(unique_copy(sample("VanDerPol", "2.0"), self.tmp))
        with self.assertRaises(fmugw.JobFailedError) as cm:
            c.simulate(fmu["fmu_id"], stop_time=1e4, output_interval=1e-3, timeout_s=1, reuse=False)
        e = cm.exception
        self.assertIn(e.job_status, ("timed_out", "failed"))
        self.assertTrue(e.error_class)
        self.assertTrue(e.job_id)

    def test_account_ledger_usage(self) -> None:
        c = self.client()
        try:
            acct = c.account()
        except fmugw.NotFoundError:
            if REQUIRE_JOBS:
                raise
            self.skipTest("no account routes yet")
        self.assertIsInstance(acct["balance"], (int, float))
        everything = c.ledger(limit=200)["items"]
        self.assertEqual([e["seq"] for e in c.iter_ledger(page_size=2)], [e["seq"] for e in everything])
        self.assertIsNotNone(c.usage())
        csv_text = c.usage(format="csv")
        self.assertIsInstance(csv_text, str)


if __name__ == "__main__":
    unittest.main()

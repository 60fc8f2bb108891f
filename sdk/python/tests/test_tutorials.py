"""The tutorials' commands, so that they never rot:

- docs/tutorials/python.md: every ```python test block, in order, in one
  namespace, in a directory holding model.fmu, against the gateway;
- docs/tutorials/ci-cd.md: every ```sh test block in a scratch project
  (offline: `fmugw sim` makes the baseline, the comparison script checks
  it and catches a drift), then the `run:` steps of
  examples/ci/regression.yml in that project against the gateway, which
  must pass on the baseline and fail on a drifted one.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from typing import Dict, List

from support import API_KEY, BASE_URL, LIVE, environ, live, sample

ROOT = os.environ.get("FMUGW_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def blocks(path: str, lang: str) -> List[str]:
    """The fenced blocks opened with ```<lang> test."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return re.findall(r"^```" + lang + r" test\n(.*?)^```", text, flags=re.S | re.M)


def jobs_available() -> bool:
    import fmugw
    from test_live import jobs_available as probe
    return probe(fmugw.Client(BASE_URL, API_KEY))


def workflow_steps(path: str) -> Dict[str, object]:
    """The workflow as JSON, parsed by the `yaml` package of tools/."""
    node = shutil.which("node")
    mod = os.path.join(ROOT, "tools", "node_modules", "yaml")
    if not node or not os.path.isdir(mod):
        raise unittest.SkipTest("node or tools/node_modules/yaml missing (scripts/deps.sh)")
    js = ("const Y=require(process.argv[1]);const fs=require('fs');"
          "process.stdout.write(JSON.stringify(Y.parse(fs.readFileSync(process.argv[2],'utf8'))))")
    out = subprocess.run([node, "-e", js, mod, path], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


@live
class PythonTutorialTest(unittest.TestCase):
    def test_python_tutorial_blocks(self) -> None:
        code = blocks(os.path.join(ROOT, "docs", "tutorials", "python.md"), "python")
        self.assertGreaterEqual(len(code), 5)
        if not jobs_available():
            if os.environ.get("FMUGW_SDK_REQUIRE_JOBS") == "1":
                self.fail("the job routes are in the contract but missing")
            self.skipTest("the gateway has no job routes yet")
        work = tempfile.mkdtemp(prefix="fmugw-tutorial-")
        home = tempfile.mkdtemp(prefix="fmugw-home-")
        cwd = os.getcwd()
        out = io.StringIO()
        try:
            shutil.copyfile(sample("BouncingBall", "2.0"), os.path.join(work, "model.fmu"))
            os.chdir(work)
            namespace: Dict[str, object] = {"__name__": "__tutorial__"}
            with environ(HOME=home), contextlib.redirect_stdout(out):
                for i, block in enumerate(code):
                    try:
                        exec(compile(block, f"python.md block {i + 1}", "exec"), namespace)
                    except Exception as e:  # report which block broke
                        raise AssertionError(f"python.md block {i + 1} failed: {e!r}\n{block}") from e
            self.assertTrue(os.path.getsize(os.path.join(work, "bouncing_ball.csv")) > 0)
            with open(os.path.join(work, "bouncing_ball.csv"), "rb") as a, open(os.path.join(work, "copy.csv"),
                                                                                 "rb") as b:
                self.assertEqual(a.read(), b.read())
        finally:
            os.chdir(cwd)
            shutil.rmtree(work, ignore_errors=True)
            shutil.rmtree(home, ignore_errors=True)
        text = out.getvalue()
        self.assertIn("['time', 'h', 'v']", text)
        self.assertIn("422", text)  # the error block really got a ValidationError
        self.assertIn("balance:", text)


class ExampleScriptTest(unittest.TestCase):
    script = os.path.join(ROOT, "examples", "python", "simulate.py")

    def run_script(self, *args: str, env: Dict[str, str]) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, self.script, *args], capture_output=True, text=True, env=env,
                              timeout=600)

    def test_usage_errors(self) -> None:
        env = dict(os.environ, FMUGW_API_KEY="fmugw_live_" + "x" * 38, FMUGW_BASE_URL="http://127.0.0.1:9")
        r = self.run_script("no-such-model.fmu", env=env)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("no such FMU file", r.stderr)
        r = self.run_script(sample("BouncingBall", "2.0"), env=env)  # nothing listens on port 9
        self.assertEqual(r.returncode, 5, r.stderr)

    @unittest.skipUnless(LIVE and "FMUGW" in os.environ, "needs a gateway and FMUGW")
    def test_example_against_gateway_equals_offline_sim(self) -> None:
        if not jobs_available():
            if os.environ.get("FMUGW_SDK_REQUIRE_JOBS") == "1":
                self.fail("the job routes are in the contract but missing")
            self.skipTest("the gateway has no job routes yet")
        work = tempfile.mkdtemp(prefix="fmugw-example-")
        try:
            out = os.path.join(work, "results.csv")
            model = sample("BouncingBall", "3.0")
            r = self.run_script(model, "--stop-time", "2", "--start-value", "h=1.5", "-o", out, env=dict(os.environ))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("succeeded", r.stderr)
            want = subprocess.run([os.environ["FMUGW"], "sim", model, "--stop-time", "2", "--start-value", "h=1.5"],
                                  check=True, capture_output=True, text=True).stdout
            from fmugw.results import parse_csv
            from test_live import assert_rows_equal
            with open(out) as f:
                assert_rows_equal(self, parse_csv(f.read()), parse_csv(want))
        finally:
            shutil.rmtree(work, ignore_errors=True)


class CiTutorialTest(unittest.TestCase):
    def setUp(self) -> None:
        if "FMUGW" not in os.environ:
            self.skipTest("FMUGW (the fmugw CLI) not set")
        self.project = tempfile.mkdtemp(prefix="fmugw-ci-")
        os.makedirs(os.path.join(self.project, "models"))
        shutil.copyfile(sample("BouncingBall", "2.0"), os.path.join(self.project, "models", "model.fmu"))
        bindir = os.path.join(self.project, ".bin")
        os.makedirs(bindir)
        os.symlink(os.environ["FMUGW"], os.path.join(bindir, "fmugw"))
        # `python` / `python3` of the steps: this interpreter (the test venv)
        for name in ("python", "python3"):
            os.symlink(sys.executable, os.path.join(bindir, name))
        self.env = dict(os.environ, FMUGW_REPO=ROOT, PATH=bindir + os.pathsep + os.environ.get("PATH", ""),
                        PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
        self.env.pop("GITHUB_STEP_SUMMARY", None)

    def tearDown(self) -> None:
        shutil.rmtree(self.project, ignore_errors=True)

    def sh(self, script: str, env: Dict[str, str]) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=self.project, env=env,
                              capture_output=True, text=True, timeout=600)

    def test_ci_tutorial_blocks_and_workflow(self) -> None:
        code = blocks(os.path.join(ROOT, "docs", "tutorials", "ci-cd.md"), "sh")
        self.assertGreaterEqual(len(code), 4)
        for i, block in enumerate(code):
            r = self.sh(block, self.env)
            self.assertEqual(r.returncode, 0, f"ci-cd.md block {i + 1}:\n{block}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")
        self.assertTrue(os.path.exists(os.path.join(self.project, "regression", "baseline.csv")))
        self.assertTrue(os.path.exists(os.path.join(self.project, ".github", "workflows", "regression.yml")))

        # the workflow's own steps, against the gateway
        wf = workflow_steps(os.path.join(self.project, ".github", "workflows", "regression.yml"))
        self.assertIn("push", wf["on"])  # type: ignore[operator]
        job = wf["jobs"]["regression"]  # type: ignore[index]
        runs = [s for s in job["steps"] if "run" in s]
        self.assertEqual([s["name"] for s in runs],
                         ["Install the FMU Gateway SDK", "Simulate on FMU Gateway", "Compare with the baseline"])
        if not LIVE:
            self.skipTest("no gateway for the workflow steps")
        if not jobs_available():
            if os.environ.get("FMUGW_SDK_REQUIRE_JOBS") == "1":
                self.fail("the job routes are in the contract but missing")
            self.skipTest("the gateway has no job routes yet")
        env = dict(self.env)
        for k, v in job["env"].items():
            if "${{" not in str(v):
                env[k] = str(v)
        env.update(FMUGW_BASE_URL=BASE_URL, FMUGW_API_KEY=API_KEY)
        summary = os.path.join(self.project, "summary.md")
        env["GITHUB_STEP_SUMMARY"] = summary
        for step in runs:
            r = self.sh(step["run"], env)
            self.assertEqual(r.returncode, 0, f"step {step['name']}:\n{r.stdout}\n{r.stderr}")
        self.assertIn("OK: results match the baseline", r.stdout)
        with open(summary) as f:
            self.assertIn("| h |", f.read())
        # a drifted baseline makes the compare step fail
        base = os.path.join(self.project, "regression", "baseline.csv")
        with open(base) as f:
            lines = f.read().splitlines()
        cells = lines[10].split(",")
        cells[2] = repr(float(cells[2]) + 0.01)
        lines[10] = ",".join(cells)
        with open(base, "w") as f:
            f.write("\n".join(lines) + "\n")
        r = self.sh(runs[-1]["run"], env)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("DRIFT", r.stdout)


if __name__ == "__main__":
    unittest.main()

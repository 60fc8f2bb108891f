// jobs.test.mjs - simulations end to end against the real daemon: simulate()
// gives the same rows as the offline `fmugw sim`, execute/wait/results one
// by one, jobs list, account/ledger/usage, 402 and failed jobs. Skipped
// until api/openapi.yaml declares the job routes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, InsufficientCreditsError, JobFailedError, parseCsv } from "../dist/index.js";
import { base, declared, env, newAccount, noDaemon, recordingFetch, sample } from "./helpers.mjs";

const scratch = mkdtempSync(join(tmpdir(), "fmugw-ts-jobs-"));
const routes = declared("/fmu/execute") && declared("/fmu/status/{job_id}") && declared("/fmu/results/{job_id}");
const opts = { skip: noDaemon || (!routes && "the job routes are not in api/openapi.yaml yet") };
const accountOpts = { skip: opts.skip || (!declared("/account") && "the account routes are not in api/openapi.yaml yet") };

/** The offline runner's CSV for the same model and options. */
function offline(model, ...args) {
  return execFileSync(env.FMUGW, ["sim", model, "--quiet", ...args], { encoding: "utf8" });
}

const client = () => new Client({ baseUrl: base, apiKey: newAccount("jobs").api_key });

test("simulate(file, { stopTime: 3 }) = `fmugw sim --stop-time 3`", opts, async () => {
  const model = sample("3.0", "BouncingBall");
  const r = await client().simulate(model, { stopTime: 3 });
  const want = offline(model, "--stop-time", "3");
  assert.equal(r.job.status, "succeeded");
  assert.match(r.jobId, /\w/);
  assert.match(r.fmuId, /^fmu_/);
  assert.deepEqual(r.columns, ["time", "h", "v"]);
  assert.deepEqual(r.rows, parseCsv(want).rows);
  assert.equal(r.rows.at(-1).time, 3);
  assert.equal(r.text, want);
  assert.equal(r.format, "csv");
});

test("simulate(fmuId, options): no upload; camelCase options reach the runner", opts, async () => {
  const model = sample("2.0", "VanDerPol");
  const f = recordingFetch();
  const c = new Client({ baseUrl: base, apiKey: newAccount("jobs").api_key, fetch: f });
  const fmu = await c.upload(model);
  const uploads = f.count("POST", "/fmu/upload");
  const r = await c.simulate(fmu.id, { stopTime: 2, outputInterval: 0.25, startValues: { mu: 2.5 }, outputVariables: ["x0"] });
  assert.equal(f.count("POST", "/fmu/upload"), uploads, "no upload for an id");
  const sent = JSON.parse(f.log.find((e) => e.path === "/fmu/execute").body);
  assert.deepEqual(sent, { fmu_id: fmu.id, stop_time: 2, output_interval: 0.25, start_values: { mu: 2.5 }, output_variables: ["x0"] });
  const want = offline(model, "--stop-time", "2", "--output-interval", "0.25", "--start-value", "mu=2.5", "--output-variable", "x0");
  assert.deepEqual(r.rows, parseCsv(want).rows);
  assert.equal(r.rows.length, 9);
});

test("execute, wait (long poll), results, download, jobs list", opts, async () => {
  const f = recordingFetch();
  const c = new Client({ baseUrl: base, apiKey: newAccount("jobs").api_key, fetch: f });
  const fmu = await c.upload(sample("3.0", "Dahlquist"));
  const started = await c.execute(fmu.id, { stopTime: 5, outputInterval: 0.5 });
  assert.ok(started.job_id);
  const seen = [];
  const job = await c.wait(started.job_id, { pollS: 5, onStatus: (j) => seen.push(j.status) });
  assert.equal(job.status, "succeeded");
  assert.equal(typeof job.credits_charged, "number");
  assert.ok(seen.length >= 1 && seen.at(-1) === "succeeded");
  assert.ok(f.log.filter((e) => e.path.startsWith("/fmu/status/")).length <= 3, "long polls, not a busy loop");
  const res = await c.results(started.job_id);
  assert.equal(res.rows.length, 11);
  assert.equal(res.meta.rows, 11);
  assert.equal(typeof res.meta.url, "string");
  const dest = join(scratch, "results.csv");
  await c.downloadResults(started.job_id, dest);
  assert.equal(readFileSync(dest, "utf8"), res.text);
  const jobs = await c.listJobs({ limit: 50 });
  assert.ok(jobs.items.some((j) => (j.job_id ?? j.id) === started.job_id));
});

test("a job that fails: JobFailedError with its status", { skip: opts.skip || (!existsSync(join(env.FMUGW_HOSTILE_DIR ?? "", "InfiniteLoop.fmu")) && "no hostile FMUs") }, async () => {
  const c = client();
  await assert.rejects(c.simulate(join(env.FMUGW_HOSTILE_DIR, "InfiniteLoop.fmu"), { stopTime: 1, timeoutS: 1 }), (e) => {
    assert.ok(e instanceof JobFailedError, String(e));
    assert.ok(["failed", "timed_out"].includes(e.status), e.status);
    assert.ok(e.jobId);
    return true;
  });
});

test("no credits: execute is a 402 InsufficientCreditsError", opts, async () => {
  const c = new Client({ baseUrl: base, apiKey: newAccount("credits").api_key });
  const fmu = await c.upload(sample("3.0", "BouncingBall"));
  await assert.rejects(c.execute(fmu.id, { stopTime: 1000, outputInterval: 0.001 }), (e) => {
    assert.ok(e instanceof InsufficientCreditsError, String(e));
    assert.equal(e.status, 402);
    assert.equal(e.slug, "insufficient-credits");
    return true;
  });
});

test("account, ledger and usage", accountOpts, async () => {
  const c = client();
  await c.simulate(sample("2.0", "Dahlquist"), { stopTime: 1 });
  const a = await c.account();
  assert.equal(typeof a.balance, "number");
  const ledger = await c.ledger({ limit: 50 });
  assert.ok(ledger.items.length >= 1);
  const usage = await c.usage();
  assert.equal(typeof usage, "object");
  const csv = await c.usageCsv();
  assert.match(csv.split("\n")[0], /,/);
});

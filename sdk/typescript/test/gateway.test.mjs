// gateway.test.mjs - the client against the real daemon: tokens and their
// refresh, uploads (SHA-256 skip, streaming, rejection), FMU and key
// management, and how errors, retries and Retry-After are handled.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Client, AuthError, ConflictError, FmuRejectedError, ForbiddenError, NetworkError, NotFoundError,
  RateLimitedError, ServerError, ValidationError, sha256File,
} from "../dist/index.js";
import { adminKey, base, env, newAccount, noDaemon, problem, recordingFetch, sample, sleep, ttl } from "./helpers.mjs";

const scratch = mkdtempSync(join(tmpdir(), "fmugw-ts-gw-"));
const opts = { skip: noDaemon };
// synthetic answers must not reach the shared contract log (they are not the server's)
const privateLog = () => join(scratch, `private-${Math.random().toString(36).slice(2)}.jsonl`);

test("health, and the admin key's own keys", opts, async () => {
  const c = new Client({ baseUrl: base, apiKey: adminKey });
  assert.deepEqual(await c.health(), { status: "ok" });
  const keys = await c.listKeys();
  assert.ok(keys.length >= 1);
  assert.ok(keys.every((k) => typeof k.hint === "string" && !("api_key" in k)));
});

test("one token is reused, renewed before it expires, and renewed once after a 401 'expired'", opts, async () => {
  assert.ok(ttl > 0 && ttl <= 5, "the daemon runs with a short FMUGW_TOKEN_TTL_S");
  const f = recordingFetch();
  const c = new Client({ baseUrl: base, apiKey: adminKey, fetch: f });
  await c.listFmus({ limit: 1 });
  await c.listFmus({ limit: 1 });
  await c.listKeys();
  assert.equal(f.count("POST", "/auth/token"), 1, "one token for three calls");
  const first = f.log.find((e) => e.path === "/fmu").headers.authorization;
  assert.match(first, /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
  assert.ok(f.log.filter((e) => e.path !== "/auth/token").every((e) => e.headers["x-api-key"] === adminKey));

  // proactive: past its lifetime the client asks for a new one first, no 401 seen
  await sleep(ttl * 1000 + 300);
  await c.listFmus({ limit: 1 });
  assert.equal(f.count("POST", "/auth/token"), 2);
  assert.equal(f.log.filter((e) => e.status === 401).length, 0);
  assert.notEqual(f.log.at(-1).headers.authorization, first);

  // reactive: a client that believes its token is still good gets 401
  // "the token has expired", fetches one new token and repeats the call once
  c.tokenRenewAt = Number.POSITIVE_INFINITY;
  await sleep(ttl * 1000 + 1100);
  const before = f.log.length;
  const page = await c.listFmus({ limit: 1 });
  assert.ok(Array.isArray(page.items));
  assert.deepEqual(f.log.slice(before).map((e) => `${e.method} ${e.path} ${e.status}`),
    ["GET /fmu 401", "POST /auth/token 200", "GET /fmu 200"]);

  // a 401 for another reason is not retried
  c.token = "x.y.z";
  c.tokenRenewAt = Number.POSITIVE_INFINITY;
  const n = f.log.length;
  await assert.rejects(c.listFmus(), (e) => e instanceof AuthError && e.status === 401 && /not valid/.test(e.detail));
  assert.equal(f.log.length, n + 1);
});

test("a wrong API key is an AuthError carrying the problem", opts, async () => {
  const c = new Client({ baseUrl: base, apiKey: "fmugw_live_000000000000000000000000000000000000aa" });
  await assert.rejects(c.listFmus(), (e) => {
    assert.ok(e instanceof AuthError, e.name);
    assert.equal(e.status, 401);
    assert.equal(e.slug, "unauthorized");
    assert.equal(e.problem.type, "https://fmu-gateway.dev/problems/unauthorized");
    assert.match(e.requestId ?? "", /^[0-9a-f]{32}$/);
    return true;
  });
});

test("upload streams the file once, then is skipped by SHA-256; list, download, delete", opts, async () => {
  const acct = newAccount("upload");
  const f = recordingFetch();
  const c = new Client({ baseUrl: base, apiKey: acct.api_key, fetch: f });
  const path = sample("2.0", "BouncingBall");
  const size = statSync(path).size;
  const progress = [];
  const fmu = await c.upload(path, { onProgress: (s, t) => progress.push([s, t]) });
  assert.equal(fmu.status, "ready");
  assert.match(fmu.id, /^fmu_/);
  assert.equal(fmu.sha256, (await sha256File(path)).sha256);
  assert.equal(f.count("PUT", "/uploads/"), 1);
  const put = f.log.find((e) => e.method === "PUT");
  assert.equal(put.headers["content-length"], String(size));
  assert.equal(put.headers["content-type"], "application/octet-stream");
  assert.ok(progress.length >= 1);
  assert.deepEqual(progress.at(-1), [size, size]);
  const declared = JSON.parse(f.log.find((e) => e.path === "/fmu/upload").body);
  assert.deepEqual(declared, { name: "BouncingBall.fmu", size, sha256: fmu.sha256 });

  const again = await c.upload(path, { name: "renamed.fmu" });
  assert.equal(again.id, fmu.id);
  assert.equal(again.existing, true);
  assert.equal(again.status, "ready");
  assert.equal(f.count("PUT", "/uploads/"), 1, "no second PUT");

  const mine = [];
  for await (const x of c.iterFmus(2)) mine.push(x.id);
  assert.ok(mine.includes(fmu.id));
  const got = await c.getFmu(fmu.id);
  assert.equal(got.summary.model_name, "BouncingBall");

  const dest = join(scratch, "downloaded.fmu");
  await c.downloadFmu(fmu.id, dest);
  assert.deepEqual(readFileSync(dest), readFileSync(path));

  await c.deleteFmu(fmu.id);
  await assert.rejects(c.getFmu(fmu.id), NotFoundError);
});

test("a malformed FMU is uploaded, then rejected with the validation report", opts, async () => {
  const acct = newAccount("malformed");
  const c = new Client({ baseUrl: base, apiKey: acct.api_key });
  const bad = join(env.FMUGW_BAD_FMU_DIR, "no_xml.fmu");
  await assert.rejects(c.upload(bad), (e) => {
    assert.ok(e instanceof FmuRejectedError, e.name);
    assert.equal(e.fmu.status, "rejected");
    assert.equal(e.fmu.validation.valid, false);
    assert.ok(e.fmu.validation.fatal.includes("model-description-missing"), JSON.stringify(e.fmu.validation));
    return true;
  });
  await assert.rejects(c.upload(join(scratch, "nope.fmu")), /nope\.fmu/);
});

test("errors map to their classes: 404, 403, 400, 409", opts, async () => {
  const acct = newAccount("errors");
  const c = new Client({ baseUrl: base, apiKey: acct.api_key });
  await assert.rejects(c.getFmu("fmu_doesnotexist0"), (e) => e instanceof NotFoundError && e.status === 404 && e.detail === "no such FMU");
  await assert.rejects(c.listFmus({ limit: 100000 }), (e) => e instanceof ValidationError && e.status === 400);

  // a key limited to fmu:read may not upload: 403
  const k = await c.createKey({ scopes: "fmu:read", name: "read only" });
  assert.match(k.api_key, /^fmugw_live_/);
  const ro = new Client({ baseUrl: base, apiKey: k.api_key });
  await ro.listFmus();
  await assert.rejects(ro.upload(sample("3.0", "Dahlquist")), (e) => e instanceof ForbiddenError && e instanceof AuthError && e.status === 403);
  // revoked: its tokens stop working at once
  assert.ok((await c.listKeys()).some((x) => x.id === k.id));
  await c.revokeKey(k.id);
  await assert.rejects(ro.listFmus(), AuthError);

  // an FMU still awaiting its bytes cannot be downloaded: 409
  const digest = await sha256File(sample("3.0", "Stair"));
  const ticket = await c.call({ method: "POST", path: "/fmu/upload", json: { name: "Stair.fmu", ...digest } });
  await assert.rejects(c.downloadFmu(ticket.fmu_id, join(scratch, "x.fmu")), (e) => e instanceof ConflictError && e.status === 409);
});

test("429 from the server: RateLimitedError with Retry-After, or retried after waiting it", opts, async () => {
  const acct = newAccount("ratelimit");
  const impatient = new Client({ baseUrl: base, apiKey: acct.api_key, maxRetries: 0 });
  await impatient.accessToken();
  const settled = await Promise.allSettled(Array.from({ length: 40 }, () => impatient.listFmus({ limit: 1 })));
  const limited = settled.filter((s) => s.status === "rejected").map((s) => s.reason);
  assert.ok(limited.length > 0, "40 calls at once exceed the free tier's burst");
  for (const e of limited) {
    assert.ok(e instanceof RateLimitedError, String(e));
    assert.equal(e.status, 429);
    assert.ok(e.retryAfter >= 1, `Retry-After ${e.retryAfter}`);
  }
  // the same burst with retries: every call succeeds, having waited
  const f = recordingFetch();
  const patient = new Client({ baseUrl: base, apiKey: acct.api_key, fetch: f, maxRetries: 12 });
  const results = await Promise.all(Array.from({ length: 40 }, () => patient.listFmus({ limit: 1 })));
  assert.equal(results.length, 40);
  assert.ok(f.log.some((e) => e.status === 429), "some were limited and retried");
});

test("retries: Retry-After honoured; 503 retried for idempotent calls only", opts, async () => {
  let n = 0;
  const f = recordingFetch((req) => {
    if (req.path === "/fmu" && req.method === "GET" && n++ === 0) return problem(429, "rate-limited", { "retry-after": "1" });
    if (req.path === "/keys" && req.method === "POST") return problem(503, "unavailable");
    return undefined;
  });
  const c = new Client({ baseUrl: base, apiKey: adminKey, fetch: f, contractLog: privateLog() });
  await c.accessToken();
  const t0 = Date.now();
  await c.listFmus({ limit: 1 });
  assert.ok(Date.now() - t0 >= 1000, "waited Retry-After: 1");
  assert.equal(f.count("GET", "/fmu"), 2);
  await assert.rejects(c.createKey({ scopes: "fmu:read" }), (e) => e instanceof ServerError && e.status === 503);
  assert.equal(f.count("POST", "/keys"), 1, "a POST without an Idempotency-Key is not repeated");
});

test("execute sends an Idempotency-Key, the same one on each retry, and snake_case fields", opts, async () => {
  const seen = [];
  const f = recordingFetch((req) => {
    if (req.path !== "/fmu/execute") return undefined;
    seen.push(req);
    if (seen.length < 3) return problem(seen.length === 1 ? 503 : 502, "unavailable");
    return new Response(JSON.stringify({ job_id: "job_fake", status: "queued" }), { status: 202, headers: { "content-type": "application/json" } });
  });
  const c = new Client({ baseUrl: base, apiKey: adminKey, fetch: f, retryBaseMs: 10, contractLog: privateLog() });
  const job = await c.execute("fmu_abcdefgh12", { stopTime: 3, outputInterval: 0.5, startValues: { h: 2 } });
  assert.equal(job.job_id, "job_fake");
  assert.equal(seen.length, 3);
  const key = seen[0].headers["idempotency-key"];
  assert.match(key, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(seen.every((r) => r.headers["idempotency-key"] === key));
  assert.deepEqual(JSON.parse(seen[0].body), { fmu_id: "fmu_abcdefgh12", stop_time: 3, output_interval: 0.5, start_values: { h: 2 } });
  // a new logical execute gets a new key; a given key is used as is
  seen.length = 0;
  await c.execute("fmu_abcdefgh12", {}, { idempotencyKey: "my-key-1" });
  assert.equal(seen[2].headers["idempotency-key"], "my-key-1");
});

test("connection failures: NetworkError after the retries", async () => {
  // a port that was just free: nothing listens there
  const srv = createServer().listen(0, "127.0.0.1");
  await once(srv, "listening");
  const port = srv.address().port;
  srv.close();
  await once(srv, "close");
  const f = recordingFetch();
  const c = new Client({ baseUrl: `http://127.0.0.1:${port}`, apiKey: "k", fetch: f, maxRetries: 2, retryBaseMs: 5, contractLog: privateLog() });
  await assert.rejects(c.health(), (e) => e instanceof NetworkError && /ECONNREFUSED/.test(e.message));
  assert.equal(f.log.length, 3);
});

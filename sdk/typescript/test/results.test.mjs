// results.test.mjs - parsing of the results formats and the execute body
// mapping (no daemon needed).
import { test } from "node:test";
import assert from "node:assert/strict";
import { errorFromProblem, executeBody, isFmuId, parseCsv, parseJsonResults, parseResults,
  AuthError, ConflictError, ForbiddenError, InsufficientCreditsError, NotFoundError, RateLimitedError,
  ServerError, ValidationError, ApiError } from "../dist/index.js";

test("CSV: quoted header, numbers, strings, special values", () => {
  const csv = '"time","x","s","b"\n0,1.5,"a,""b""",1\r\n0.1,nan,"",0\n0.2,-inf,"z",18446744073709551615\n';
  const r = parseCsv(csv);
  assert.deepEqual(r.columns, ["time", "x", "s", "b"]);
  assert.equal(r.rows.length, 3);
  assert.deepEqual(r.rows[0], { time: 0, x: 1.5, s: 'a,"b"', b: 1 });
  assert.ok(Number.isNaN(r.rows[1].x));
  assert.equal(r.rows[1].s, "");
  assert.equal(r.rows[2].x, -Infinity);
  assert.equal(r.rows[2].b, "18446744073709551615"); // beyond 2^53: the digits are kept
});

test("CSV: a ragged row or an unterminated quote is an error", () => {
  assert.throws(() => parseCsv('"a","b"\n1\n'), /row 1 has 1 fields/);
  assert.throws(() => parseCsv('"a\n'), /unterminated/);
  assert.deepEqual(parseCsv(""), { columns: [], rows: [] });
});

test("JSON results and the format switch", () => {
  const j = '{"columns":["time","h"],"rows":[[0,1],[0.5,0.75]]}';
  assert.deepEqual(parseJsonResults(j).rows, [{ time: 0, h: 1 }, { time: 0.5, h: 0.75 }]);
  assert.deepEqual(parseResults(j, "json"), parseResults('"time","h"\n0,1\n0.5,0.75\n', "csv"));
});

test("execute body: camelCase options become the API's snake_case names", () => {
  const body = executeBody("fmu_abcdefgh", {
    startTime: 0, stopTime: 3, outputInterval: 0.1, stepSize: 0.01, interface: "me", solver: "cvode",
    relativeTolerance: 1e-6, startValues: { someVar: 2 }, outputVariables: ["h"], outputFormat: "csv", timeoutS: 30,
    inputs: { time: [0, 1], u: [0, 1] }, notAnOption: 1, extra: { future_field: true },
  });
  assert.deepEqual(body, {
    fmu_id: "fmu_abcdefgh", start_time: 0, stop_time: 3, output_interval: 0.1, step_size: 0.01, interface: "me",
    solver: "cvode", relative_tolerance: 1e-6, start_values: { someVar: 2 }, output_variables: ["h"],
    output_format: "csv", timeout_s: 30, inputs: { time: [0, 1], u: [0, 1] }, future_field: true,
  });
  assert.deepEqual(executeBody("fmu_abcdefgh"), { fmu_id: "fmu_abcdefgh" });
  assert.ok(isFmuId("fmu_0123456789abcdef"));
  assert.ok(!isFmuId("model.fmu"));
});

test("problems map to error classes by type slug, by status otherwise", () => {
  const p = (slug, status) => ({ type: `https://fmu-gateway.dev/problems/${slug}`, title: "t", status, detail: "d" });
  const cases = [
    ["unauthorized", 401, AuthError], ["forbidden", 403, ForbiddenError], ["not-found", 404, NotFoundError],
    ["insufficient-credits", 402, InsufficientCreditsError], ["rate-limited", 429, RateLimitedError],
    ["conflict", 409, ConflictError], ["bad-request", 400, ValidationError], ["unprocessable", 422, ValidationError],
    ["payload-too-large", 413, ValidationError], ["internal", 500, ServerError], ["unavailable", 503, ServerError],
  ];
  for (const [slug, status, cls] of cases) {
    const e = errorFromProblem(p(slug, status), "rid");
    assert.equal(e.constructor, cls, slug);
    assert.equal(e.slug, slug);
    assert.equal(e.status, status);
    assert.equal(e.requestId, "rid");
    assert.equal(e.name, cls.name);
  }
  assert.ok(errorFromProblem(p("forbidden", 403)) instanceof AuthError);
  assert.equal(errorFromProblem({ type: "", title: "x", status: 404 }).constructor, NotFoundError);
  assert.equal(errorFromProblem({ type: "about:blank", title: "x", status: 418 }).constructor, ApiError);
  const e = errorFromProblem({ ...p("bad-request", 400), errors: [{ field: "stop_time", message: "must be > start_time" }] });
  assert.equal(e.message, "400 t: d (stop_time: must be > start_time)");
  const c = errorFromProblem({ ...p("insufficient-credits", 402), required: 12, balance: 3 });
  assert.equal(c.required, 12);
  assert.equal(c.balance, 3);
  assert.equal(errorFromProblem(p("rate-limited", 429), undefined, 7).retryAfter, 7);
});

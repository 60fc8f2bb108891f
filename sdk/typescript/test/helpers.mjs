// helpers.mjs - shared by the tests that talk to a real fmugwd, started by
// tests/integration/sdk_typescript.sh, which passes:
//   FMUGW_TEST_BASE_URL, FMUGW_TEST_API_KEY (the first-start admin key),
//   FMUGW_TEST_DATA_DIR (for `fmugwd admin`), FMUGW_TEST_TOKEN_TTL_S,
//   FMUGWD, FMUGW (the CLI, for offline `fmugw sim`), FMUGW_FMU_DIR,
//   FMUGW_BAD_FMU_DIR, FMUGW_SOURCE_DIR (api/openapi.yaml).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const env = process.env;
export const base = env.FMUGW_TEST_BASE_URL;
export const adminKey = env.FMUGW_TEST_API_KEY;
export const ttl = Number(env.FMUGW_TEST_TOKEN_TTL_S ?? "0");
/** Skip reason for the tests that need the daemon (false when it is there). */
export const noDaemon = base && adminKey ? false : "no daemon (run tests/integration/sdk_typescript.sh)";

export const sample = (version, name) => join(env.FMUGW_FMU_DIR ?? "", version, `${name}.fmu`);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let seq = 0;
const premade = JSON.parse(env.FMUGW_TEST_ACCOUNTS ?? "{}");
/** A new free account: { api_key, account_id, email }. The script creates
 *  them by name (FMUGW_TEST_ACCOUNTS) right after the daemon starts, before
 *  any traffic; an unknown name is created now with the admin CLI. */
export function newAccount(name, tier = "free") {
  if (name && premade[name]) return premade[name];
  const out = execFileSync(env.FMUGWD, ["admin", "--data-dir", env.FMUGW_TEST_DATA_DIR, "account", "create",
    "--email", `ts${process.pid}-${++seq}@example.com`, "--tier", tier, "--json"], { encoding: "utf8" });
  return JSON.parse(out);
}

/** The names of the accounts the script must create (FMUGW_TEST_ACCOUNTS). */
export const ACCOUNT_NAMES = ["upload", "malformed", "errors", "ratelimit", "jobs", "credits"];

/** Runs an fmugwd admin command, answering its stdout. */
export function admin(...args) {
  return execFileSync(env.FMUGWD, ["admin", "--data-dir", env.FMUGW_TEST_DATA_DIR, ...args], { encoding: "utf8" });
}

/** A fetch that records each request ({method, path, headers, body}) and
 *  the answer status, and may answer some requests itself: `fake(req)`
 *  returns a Response to short-circuit, or undefined to go to the server. */
export function recordingFetch(fake) {
  const log = [];
  const f = async (url, init = {}) => {
    const u = new URL(url);
    const headers = Object.fromEntries(Object.entries(init.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    const entry = { method: init.method ?? "GET", path: u.pathname, query: u.search, headers,
      body: typeof init.body === "string" ? init.body : undefined, status: 0 };
    log.push(entry);
    const short = fake?.(entry);
    const res = short ?? (await fetch(url, init));
    entry.status = res.status;
    return res;
  };
  f.log = log;
  f.count = (method, pathPrefix) => log.filter((e) => e.method === method && e.path.startsWith(pathPrefix)).length;
  return f;
}

/** A problem+json Response. */
export function problem(status, slug, extraHeaders = {}) {
  return new Response(JSON.stringify({ type: `https://fmu-gateway.dev/problems/${slug}`, title: slug, status }), {
    status, headers: { "content-type": "application/problem+json", ...extraHeaders } });
}

/** True when api/openapi.yaml declares `path` (routes still being built are skipped until then). */
export function declared(path) {
  if (env.FMUGW_TEST_ASSUME_ROUTES === "1") return true; // to try routes before the spec has them
  try {
    return readFileSync(join(env.FMUGW_SOURCE_DIR ?? "", "api", "openapi.yaml"), "utf8").includes(`\n  ${path}:`);
  } catch {
    return false;
  }
}

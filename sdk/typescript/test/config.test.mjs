// config.test.mjs - the configuration rules (no daemon needed): the
// ~/.fmu_gateway/config profiles, the environment overrides, the 0600 rule.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Client, ConfigError, DEFAULT_BASE_URL, defaultConfigPath, parseConfig, readConfigFile, resolveConfig, writeConfig,
} from "../dist/index.js";

// A private HOME for the whole file; no FMUGW_* variable leaks in.
const home = mkdtempSync(join(tmpdir(), "fmugw-ts-home-"));
process.env.HOME = home;
for (const v of ["FMUGW_BASE_URL", "FMUGW_API_KEY", "FMUGW_PROFILE", "FMUGW_CONTRACT_LOG"]) delete process.env[v];

test("the default config path is under $HOME", () => {
  assert.equal(defaultConfigPath(), join(home, ".fmu_gateway", "config"));
});

test("writeConfig creates the directory 0700 and the file 0600 whatever the umask", () => {
  const old = process.umask(0);
  try {
    writeConfig("default", { base_url: "http://gw.example:8080", api_key: "fmugw_live_aaa" });
  } finally {
    process.umask(old);
  }
  assert.equal(statSync(join(home, ".fmu_gateway")).mode & 0o777, 0o700);
  assert.equal(statSync(defaultConfigPath()).mode & 0o777, 0o600);
  writeConfig("staging", { base_url: "http://staging.example", api_key: "fmugw_live_bbb" });
  const profiles = readConfigFile(defaultConfigPath());
  assert.deepEqual(profiles, {
    default: { base_url: "http://gw.example:8080", api_key: "fmugw_live_aaa" },
    staging: { base_url: "http://staging.example", api_key: "fmugw_live_bbb" },
  });
  assert.match(readFileSync(defaultConfigPath(), "utf8"), /^\[default\]\nbase_url = http:\/\/gw\.example:8080\n/);
  assert.equal(statSync(defaultConfigPath()).mode & 0o777, 0o600);
});

test("profiles: default, FMUGW_PROFILE, the profile option; the environment and options override", () => {
  assert.deepEqual(resolveConfig({ env: {} }), {
    baseUrl: "http://gw.example:8080", apiKey: "fmugw_live_aaa", profile: "default", path: defaultConfigPath(),
  });
  assert.equal(resolveConfig({ env: { FMUGW_PROFILE: "staging" } }).apiKey, "fmugw_live_bbb");
  assert.equal(resolveConfig({ env: { FMUGW_PROFILE: "staging" }, profile: "default" }).apiKey, "fmugw_live_aaa");
  const env = { FMUGW_BASE_URL: "http://env.example/", FMUGW_API_KEY: "fmugw_live_env" };
  const r = resolveConfig({ env });
  assert.equal(r.baseUrl, "http://env.example"); // trailing slash dropped
  assert.equal(r.apiKey, "fmugw_live_env");
  assert.equal(resolveConfig({ env: { FMUGW_API_KEY: "k" } }).baseUrl, "http://gw.example:8080"); // mixed
  assert.equal(resolveConfig({ env, apiKey: "explicit" }).apiKey, "explicit");
  assert.throws(() => resolveConfig({ env: {}, profile: "nosuch" }), (e) => e instanceof ConfigError && /nosuch/.test(e.message));
});

test("a config file that group or others can read is refused with a clear error", () => {
  for (const mode of [0o644, 0o640, 0o604]) {
    chmodSync(defaultConfigPath(), mode);
    assert.throws(() => new Client(), (e) => {
      assert.ok(e instanceof ConfigError, e.name);
      assert.match(e.message, /chmod 600/);
      assert.match(e.message, new RegExp(`0${mode.toString(8)}`));
      return true;
    });
  }
  chmodSync(defaultConfigPath(), 0o600);
  const c = new Client();
  assert.equal(c.baseUrl, "http://gw.example:8080");
  // with both values from the environment the file is not needed, so not read
  chmodSync(defaultConfigPath(), 0o644);
  process.env.FMUGW_BASE_URL = "http://127.0.0.1:9";
  process.env.FMUGW_API_KEY = "fmugw_live_x";
  try {
    assert.equal(new Client().baseUrl, "http://127.0.0.1:9");
    assert.throws(() => new Client({ profile: "staging" }), ConfigError); // a named profile needs the file
  } finally {
    delete process.env.FMUGW_BASE_URL;
    delete process.env.FMUGW_API_KEY;
    chmodSync(defaultConfigPath(), 0o600);
  }
});

test("no config at all: the default URL, and ConfigError at the first authenticated call", async () => {
  const other = mkdtempSync(join(tmpdir(), "fmugw-ts-empty-"));
  const r = resolveConfig({ env: {}, configPath: join(other, "missing") });
  assert.equal(r.baseUrl, DEFAULT_BASE_URL);
  assert.equal(r.apiKey, undefined);
  assert.equal(r.path, undefined);
  const c = new Client({ configPath: join(other, "missing"), fetch: () => assert.fail("no request expected") });
  await assert.rejects(c.listFmus(), (e) => e instanceof ConfigError && /FMUGW_API_KEY/.test(e.message));
});

test("INI parsing: comments, quotes, whitespace; garbage is an error naming the line", () => {
  const p = parseConfig("# c\n; c\n[default]\n  base_url=  'http://a'  \napi_key = \"k=1\"\n\n[x]\napi_key=y\n");
  assert.deepEqual(p, { default: { base_url: "http://a", api_key: "k=1" }, x: { api_key: "y" } });
  assert.throws(() => parseConfig("[default]\nnot a pair\n", "cfg"), /cfg:2/);
  assert.throws(() => parseConfig("key = before any section\n"), ConfigError);
  const dir = mkdtempSync(join(tmpdir(), "fmugw-ts-bad-"));
  mkdirSync(join(dir, "d"));
  writeFileSync(join(dir, "d", "config"), "[default]\nbroken\n", { mode: 0o600 });
  assert.throws(() => readConfigFile(join(dir, "d", "config")), ConfigError);
  assert.throws(() => writeConfig("bad name", { api_key: "k" }, join(dir, "d", "c2")), ConfigError);
});

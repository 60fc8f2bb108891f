// config.ts - the client configuration shared with the C client, the CLI and
// the Python SDK: ~/.fmu_gateway/config, INI-style named profiles
//
//   [default]
//   base_url = https://gateway.example.com
//   api_key = fmugw_live_...
//
// overridden by FMUGW_BASE_URL / FMUGW_API_KEY (and FMUGW_PROFILE picks the
// profile). The file holds a secret: it is written with mode 0600 and refused
// when its group or others may read it.

import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { ConfigError } from "./errors.js";

/** The base URL used when neither the environment nor the file names one. */
export const DEFAULT_BASE_URL = "http://127.0.0.1:8080";

/** One profile of the config file (keys as written: base_url, api_key, ...). */
export type Profile = Record<string, string>;

/** What the client runs with, and where each value came from. */
export interface ResolvedConfig {
  baseUrl: string;
  apiKey: string | undefined;
  profile: string;
  /** The config file read, or undefined when none was needed or present. */
  path: string | undefined;
}

export interface ConfigOptions {
  baseUrl?: string;
  apiKey?: string;
  profile?: string;
  /** Another config file than ~/.fmu_gateway/config. */
  configPath?: string;
  /** Another environment than process.env (tests). */
  env?: Record<string, string | undefined>;
}

/** ~/.fmu_gateway/config ($HOME is honoured). */
export function defaultConfigPath(): string {
  return join(homedir(), ".fmu_gateway", "config");
}

/** Parses INI text into profiles. Lines: `[name]`, `key = value`, `#`/`;`
 *  comments. Values may be quoted with "" or ''. Throws ConfigError on a
 *  line that is none of these. */
export function parseConfig(text: string, where = "config"): Record<string, Profile> {
  const out: Record<string, Profile> = {};
  let current: Profile | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const section = /^\[\s*([^\]\s]+)\s*\]$/.exec(line);
    if (section) {
      const name = section[1]!;
      current = out[name] ?? (out[name] = {});
      continue;
    }
    const eq = line.indexOf("=");
    if (eq <= 0 || !current) throw new ConfigError(`${where}:${i + 1}: expected [profile] or key = value`);
    const key = line.slice(0, eq).trim();
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0]!)) value = value.slice(1, -1);
    current[key] = value;
  }
  return out;
}

/** Formats profiles as INI text (profiles in order, [default] first). */
export function formatConfig(profiles: Record<string, Profile>): string {
  const names = Object.keys(profiles).sort((a, b) => (a === "default" ? -1 : b === "default" ? 1 : 0));
  return names
    .map((n) => `[${n}]\n` + Object.entries(profiles[n]!).map(([k, v]) => `${k} = ${v}\n`).join(""))
    .join("\n");
}

/** Reads the config file: undefined when it does not exist; ConfigError when
 *  group or others may read it (it holds API keys) or it cannot be parsed. */
export function readConfigFile(path: string): Record<string, Profile> | undefined {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new ConfigError(`cannot read ${path}: ${(e as Error).message}`);
  }
  if ((st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
    throw new ConfigError(
      `${path} holds API keys but has mode ${mode} (group/others can access it); refusing to use it. Fix: chmod 600 ${path}`,
    );
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`cannot read ${path}: ${(e as Error).message}`);
  }
  return parseConfig(text, path);
}

/** Writes `values` (keys like base_url, api_key) into profile `profile` of
 *  the config file, keeping the other profiles. The directory is created
 *  0700, the file is written 0600 (atomically: a 0600 temporary file renamed
 *  over it). */
export function writeConfig(profile: string, values: Profile, path: string = defaultConfigPath()): void {
  if (!/^[A-Za-z0-9_.-]+$/.test(profile)) throw new ConfigError(`invalid profile name "${profile}"`);
  for (const [k, v] of Object.entries(values)) {
    if (!/^[a-z0-9_]+$/.test(k) || /[\r\n]/.test(v)) throw new ConfigError(`invalid config entry ${k}`);
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const profiles = readConfigFile(path) ?? {};
  profiles[profile] = { ...(profiles[profile] ?? {}), ...values };
  const tmp = `${path}.tmp.${process.pid}`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, formatConfig(profiles));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600); // the umask cannot widen it, but an old tmp file could exist
  renameSync(tmp, path);
}

/** The configuration: explicit options first, then FMUGW_BASE_URL /
 *  FMUGW_API_KEY, then the profile (option, FMUGW_PROFILE, "default") of the
 *  config file, then DEFAULT_BASE_URL. The file is not read when the options
 *  and the environment already give both values. A profile that was asked
 *  for by name (not "default") must exist in the file. */
export function resolveConfig(opts: ConfigOptions = {}): ResolvedConfig {
  const env = opts.env ?? process.env;
  const profile = opts.profile ?? nonEmpty(env["FMUGW_PROFILE"]) ?? "default";
  const named = opts.profile !== undefined || nonEmpty(env["FMUGW_PROFILE"]) !== undefined;
  let baseUrl = nonEmpty(opts.baseUrl) ?? nonEmpty(env["FMUGW_BASE_URL"]);
  let apiKey = nonEmpty(opts.apiKey) ?? nonEmpty(env["FMUGW_API_KEY"]);
  let path: string | undefined;
  if (baseUrl === undefined || apiKey === undefined || (named && profile !== "default")) {
    const file = opts.configPath ?? defaultConfigPath();
    const profiles = readConfigFile(file);
    if (profiles) path = file;
    const p = profiles?.[profile];
    if (!p && named && profile !== "default")
      throw new ConfigError(`profile "${profile}" is not in ${file}`);
    baseUrl ??= nonEmpty(p?.["base_url"]);
    apiKey ??= nonEmpty(p?.["api_key"]);
  }
  return { baseUrl: (baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, ""), apiKey, profile, path };
}

function nonEmpty(s: string | undefined): string | undefined {
  return s !== undefined && s !== "" ? s : undefined;
}

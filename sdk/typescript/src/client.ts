// client.ts - the Client class: HTTP with the global fetch (token handling,
// retries, problem mapping, the contract log) and every operation of the
// gateway: upload, execute, wait, results, simulate, FMUs, jobs, keys,
// account, ledger and usage. Options are camelCase; the wire names are the
// API's snake_case.

import { createHash, randomUUID } from "node:crypto";
import { appendFileSync, createReadStream, createWriteStream, existsSync, statSync } from "node:fs";
import { rename, unlink } from "node:fs/promises";
import { basename } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { resolveConfig } from "./config.js";
import {
  AuthError,
  ConfigError,
  ConflictError,
  FmuRejectedError,
  FmugwError,
  JobFailedError,
  NetworkError,
  WaitTimeoutError,
  errorFromProblem,
  type ProblemDetails,
} from "./errors.js";
import { parseResults, type ResultRow } from "./results.js";

/** The SDK's version (sent in User-Agent). */
export const VERSION = "0.1.0";

/** Anything JSON. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A JSON object answered by the gateway (fields as the API names them). */
export type ApiObject = Record<string, any>;

export interface ClientOptions {
  /** Gateway URL; default: FMUGW_BASE_URL, the profile's base_url, http://127.0.0.1:8080. */
  baseUrl?: string;
  /** API key; default: FMUGW_API_KEY, the profile's api_key. */
  apiKey?: string;
  /** Profile of the config file; default: FMUGW_PROFILE or "default". */
  profile?: string;
  /** Config file; default ~/.fmu_gateway/config. */
  configPath?: string;
  /** Retries of a failed call (connection error, 429, 502/503/504) where safe. Default 4. */
  maxRetries?: number;
  /** First backoff delay in ms (doubled each retry, with jitter). Default 250. */
  retryBaseMs?: number;
  /** Longest single wait between retries in ms (Retry-After included). Default 30000. */
  maxRetryDelayMs?: number;
  /** Timeout of one HTTP exchange in ms (long polls add their wait). Default 60000. */
  timeoutMs?: number;
  /** The token is refreshed this many seconds before it expires (capped at a
   *  quarter of its lifetime). Default 30. */
  tokenRefreshMarginS?: number;
  /** A fetch implementation (default: the global fetch). */
  fetch?: typeof fetch;
  /** Append every exchange as a JSON line to this file (default: env FMUGW_CONTRACT_LOG). */
  contractLog?: string;
  /** Name written in the contract log's "test" member. Default "sdk-typescript". */
  contractLogName?: string;
}

/** Simulation options (camelCase; sent as the API's snake_case names). */
export interface SimulationOptions {
  startTime?: number;
  stopTime?: number;
  outputInterval?: number;
  stepSize?: number;
  /** "cs" (Co-Simulation) or "me" (Model Exchange). */
  interface?: string;
  /** "cvode" or "euler" (Model Exchange). */
  solver?: string;
  relativeTolerance?: number;
  /** Start values by variable name. */
  startValues?: Record<string, number | string | boolean>;
  /** Input signals, as the API takes them. */
  inputs?: Json;
  /** Variables to record (default: all outputs). */
  outputVariables?: string[];
  /** "csv" (default) or "json". */
  outputFormat?: "csv" | "json" | string;
  /** Wall-clock limit of the job in seconds. */
  timeoutS?: number;
  /** Other API fields, passed as they are (snake_case). */
  extra?: Record<string, Json>;
}

export interface ExecuteOptions {
  /** The Idempotency-Key; default a new random UUID (reused on retries). */
  idempotencyKey?: string;
}

export interface WaitOptions {
  /** Give up (WaitTimeoutError) after this many seconds; default: wait forever. */
  timeoutS?: number;
  /** Seconds the server holds each long poll; default 20. */
  pollS?: number;
  /** Called with each status answer. */
  onStatus?: (job: ApiObject) => void;
}

export interface UploadOptions {
  /** The FMU's name; default the file's base name. */
  name?: string;
  /** Called as bytes are sent: (sent, total). */
  onProgress?: (sent: number, total: number) => void;
}

export interface SimulateOptions extends SimulationOptions, UploadOptions, WaitOptions, ExecuteOptions {}

/** A job's results. */
export interface Results {
  /** Column names (the first is "time"). */
  columns: string[];
  /** One object per output time: column -> value. */
  rows: ResultRow[];
  /** The results file as downloaded. */
  text: string;
  /** "csv" or "json". */
  format: string;
  /** The results metadata as answered by GET /fmu/results/{job_id}. */
  meta: ApiObject;
}

/** What simulate() returns: the results plus the job and the FMU id. */
export interface SimulationResult extends Results {
  job: ApiObject;
  jobId: string;
  fmuId: string;
}

/** A page of a list. */
export interface Page<T = ApiObject> {
  items: T[];
  nextCursor: string | null;
}

/** Job states after which nothing changes. */
export const TERMINAL_STATES: ReadonlySet<string> = new Set(["succeeded", "failed", "canceled", "timed_out"]);

const SIMULATION_FIELDS: Record<string, string> = {
  startTime: "start_time",
  stopTime: "stop_time",
  outputInterval: "output_interval",
  stepSize: "step_size",
  interface: "interface",
  solver: "solver",
  relativeTolerance: "relative_tolerance",
  startValues: "start_values",
  inputs: "inputs",
  outputVariables: "output_variables",
  outputFormat: "output_format",
  timeoutS: "timeout_s",
};

/** The execute body for `fmuId` and camelCase `options` (unknown keys are
 *  ignored; `extra` is merged as is). */
export function executeBody(fmuId: string, options: SimulationOptions = {}): Record<string, Json> {
  const body: Record<string, Json> = { fmu_id: fmuId };
  for (const [k, wire] of Object.entries(SIMULATION_FIELDS)) {
    const v = (options as Record<string, unknown>)[k];
    if (v !== undefined) body[wire] = v as Json;
  }
  if (options.extra) Object.assign(body, options.extra);
  return body;
}

interface RequestSpec {
  method: string;
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  json?: unknown;
  /** A body factory (called again on each retry). */
  body?: () => { body: NonNullable<RequestInit["body"]>; headers: Record<string, string> };
  headers?: Record<string, string>;
  /** Send X-API-Key and the bearer token (default true). */
  auth?: boolean;
  /** Safe to retry after a connection error or a 502/503/504. */
  idempotent?: boolean;
  /** Extra time allowed for this exchange (long polls), ms. */
  extraTimeoutMs?: number;
}

interface Answer {
  status: number;
  headers: Headers;
  contentType: string;
  text: string;
  json: any;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Seconds from a Retry-After header (delta-seconds or an HTTP date). */
function retryAfterSeconds(h: string | null): number | undefined {
  if (!h) return undefined;
  const s = h.trim();
  if (/^\d+$/.test(s)) return Number(s);
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : Math.max(0, (t - Date.now()) / 1000);
}

function isJsonType(ct: string): boolean {
  return ct.startsWith("application/json") || /\+json\b/.test(ct);
}

/** An FMU id (fmu_...), as opposed to a file path. */
export function isFmuId(s: string): boolean {
  return /^fmu_[A-Za-z0-9]{8,64}$/.test(s);
}

/** SHA-256 (hex) and size of a file, streamed. */
export async function sha256File(path: string): Promise<{ sha256: string; size: number }> {
  const h = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: h.digest("hex"), size };
}

/** The FMU Gateway client. */
export class Client {
  readonly baseUrl: string;
  readonly profile: string;
  private readonly apiKey: string | undefined;
  private readonly opts: Required<
    Pick<ClientOptions, "maxRetries" | "retryBaseMs" | "maxRetryDelayMs" | "timeoutMs" | "tokenRefreshMarginS">
  >;
  private readonly fetchImpl: typeof fetch;
  private readonly contractLog: string | undefined;
  private readonly contractLogName: string;
  /** The current bearer token and when (ms since the epoch) to renew it. */
  private token: string | undefined;
  private tokenRenewAt = 0;
  private tokenPending: Promise<string> | undefined;

  constructor(options: ClientOptions = {}) {
    const cfg = resolveConfig(options);
    this.baseUrl = cfg.baseUrl;
    this.apiKey = cfg.apiKey;
    this.profile = cfg.profile;
    this.opts = {
      maxRetries: options.maxRetries ?? 4,
      retryBaseMs: options.retryBaseMs ?? 250,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 30000,
      timeoutMs: options.timeoutMs ?? 60000,
      tokenRefreshMarginS: options.tokenRefreshMarginS ?? 30,
    };
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== "function") throw new ConfigError("no global fetch: Node.js 20 or newer is required");
    this.fetchImpl = f;
    const log = options.contractLog ?? process.env["FMUGW_CONTRACT_LOG"];
    this.contractLog = log ? log : undefined;
    this.contractLogName = options.contractLogName ?? "sdk-typescript";
  }

  // ---- HTTP -------------------------------------------------------------

  private url(path: string, query?: RequestSpec["query"]): string {
    const u = new URL(/^https?:\/\//.test(path) ? path : this.baseUrl + (path.startsWith("/") ? path : "/" + path));
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  private record(method: string, url: string, a: Answer): void {
    if (!this.contractLog) return;
    const path = new URL(url).pathname;
    const line: Record<string, unknown> = {
      method,
      path,
      status: a.status,
      content_type: a.contentType,
      test: this.contractLogName,
    };
    if (isJsonType(a.contentType)) {
      if (a.json !== undefined) line["body"] = a.json;
      else line["body_text"] = a.text.slice(0, 2048);
    }
    // one write with O_APPEND: lines of parallel writers do not interleave
    appendFileSync(this.contractLog, JSON.stringify(line) + "\n");
  }

  private requireKey(): string {
    if (!this.apiKey)
      throw new ConfigError(
        "no API key: set FMUGW_API_KEY, pass { apiKey }, or add api_key to ~/.fmu_gateway/config (fmugw configure)",
      );
    return this.apiKey;
  }

  /** One HTTP exchange, no retry. Throws NetworkError when it fails. */
  private async exchange(spec: RequestSpec, url: string, headers: Record<string, string>): Promise<Answer> {
    let body: NonNullable<RequestInit["body"]> | undefined;
    const h: Record<string, string> = { "User-Agent": `fmugw-ts/${VERSION} node/${process.versions.node}`, ...headers };
    if (spec.json !== undefined) {
      body = JSON.stringify(spec.json);
      h["Content-Type"] = "application/json";
    } else if (spec.body) {
      const b = spec.body();
      body = b.body;
      Object.assign(h, b.headers);
    }
    const init: RequestInit & { duplex?: string } = {
      method: spec.method,
      headers: h,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(this.opts.timeoutMs + (spec.extraTimeoutMs ?? 0)),
    };
    if (body && typeof (body as ReadableStream).getReader === "function") init.duplex = "half";
    let res: Response;
    let text: string;
    try {
      res = await this.fetchImpl(url, init);
      text = await res.text();
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why =
        (e as Error).name === "TimeoutError"
          ? "timed out"
          : cause?.code ?? cause?.message ?? (e as Error).message;
      throw new NetworkError(`${spec.method} ${new URL(url).pathname}: ${why}`, { cause: e });
    }
    const contentType = res.headers.get("content-type") ?? "";
    let json: any;
    if (isJsonType(contentType) && text.length > 0) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    const a: Answer = { status: res.status, headers: res.headers, contentType, text, json };
    this.record(spec.method, url, a);
    return a;
  }

  private backoff(attempt: number): number {
    const base = this.opts.retryBaseMs * 2 ** attempt;
    return Math.min(this.opts.maxRetryDelayMs, base / 2 + Math.random() * (base / 2));
  }

  /** An exchange with auth, retries and problem mapping: resolves with the
   *  answer of a 2xx, throws the mapped error otherwise. */
  private async send(spec: RequestSpec): Promise<Answer> {
    const url = this.url(spec.path, spec.query);
    const auth = spec.auth ?? true;
    let refreshedAfter401 = false;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { Accept: "application/json", ...(spec.headers ?? {}) };
      if (auth) {
        headers["X-API-Key"] = this.requireKey();
        headers["Authorization"] = `Bearer ${await this.accessToken()}`;
      }
      let a: Answer;
      try {
        a = await this.exchange(spec, url, headers);
      } catch (e) {
        if (e instanceof NetworkError && spec.idempotent && attempt < this.opts.maxRetries) {
          await sleep(this.backoff(attempt));
          continue;
        }
        throw e;
      }
      if (a.status >= 200 && a.status < 300) return a;
      const retryAfter = retryAfterSeconds(a.headers.get("retry-after"));
      const transient = a.status === 502 || a.status === 503 || a.status === 504;
      if ((a.status === 429 || (transient && spec.idempotent)) && attempt < this.opts.maxRetries) {
        const wait = retryAfter !== undefined ? retryAfter * 1000 : this.backoff(attempt);
        if (wait <= this.opts.maxRetryDelayMs) {
          await sleep(wait);
          continue;
        }
      }
      const err = this.errorOf(a, retryAfter);
      if (auth && a.status === 401 && !refreshedAfter401 && /expired/i.test(err.detail ?? "")) {
        refreshedAfter401 = true; // once: a new token, then the same call again
        this.token = undefined;
        this.tokenRenewAt = 0;
        attempt--;
        continue;
      }
      throw err;
    }
  }

  private errorOf(a: Answer, retryAfter?: number) {
    const requestId = a.headers.get("x-request-id") ?? undefined;
    let problem: ProblemDetails;
    if (a.json && typeof a.json === "object" && typeof a.json.status === "number") {
      problem = a.json as ProblemDetails;
    } else {
      problem = {
        type: "",
        title: `HTTP ${a.status}`,
        status: a.status,
        detail: a.text ? a.text.slice(0, 300) : undefined,
      };
    }
    return errorFromProblem(problem, requestId, retryAfter);
  }

  private async call(spec: RequestSpec): Promise<any> {
    const a = await this.send(spec);
    return a.json !== undefined ? a.json : a.text;
  }

  // ---- auth -------------------------------------------------------------

  /** A valid access token: the current one, or a new one from POST
   *  /auth/token when it is about to expire (concurrent callers share one
   *  request). */
  async accessToken(): Promise<string> {
    if (this.token && Date.now() < this.tokenRenewAt) return this.token;
    if (!this.tokenPending) {
      this.tokenPending = this.fetchToken().finally(() => {
        this.tokenPending = undefined;
      });
    }
    return this.tokenPending;
  }

  private async fetchToken(): Promise<string> {
    const key = this.requireKey();
    const started = Date.now();
    const a = await this.send({
      method: "POST",
      path: "/auth/token",
      auth: false,
      idempotent: true,
      headers: { "X-API-Key": key },
    });
    const tok = a.json?.access_token;
    if (typeof tok !== "string") throw new AuthError({ type: "", title: "no access_token in the answer", status: a.status });
    const ttl = typeof a.json.expires_in === "number" ? a.json.expires_in : 900;
    const margin = Math.min(this.opts.tokenRefreshMarginS, ttl / 4);
    this.token = tok;
    this.tokenRenewAt = started + (ttl - margin) * 1000;
    return tok;
  }

  // ---- health -----------------------------------------------------------

  /** GET /healthz. */
  async health(): Promise<ApiObject> {
    return this.call({ method: "GET", path: "/healthz", auth: false, idempotent: true });
  }

  // ---- FMUs -------------------------------------------------------------

  /** Uploads an FMU file: its SHA-256 is computed first, and when this
   *  account already stores the same bytes nothing is sent (the answer has
   *  `existing: true`). Otherwise the bytes are streamed from disk to the
   *  signed URL. Resolves with the FMU (`id`, `status`: "ready");
   *  FmuRejectedError when validation rejects it. */
  async upload(path: string, options: UploadOptions = {}): Promise<ApiObject> {
    let size: number;
    try {
      if (!statSync(path).isFile()) throw new Error("not a regular file");
    } catch (e) {
      throw new FmugwError(`${path}: ${(e as Error).message}`);
    }
    const digest = await sha256File(path);
    size = digest.size;
    const name = options.name ?? basename(path);
    const ticket = await this.call({
      method: "POST",
      path: "/fmu/upload",
      json: { name, size, sha256: digest.sha256 },
    });
    if (ticket.existing === true) {
      options.onProgress?.(size, size);
      const fmu = { ...ticket, id: ticket.fmu_id, existing: true };
      if (fmu.status === "rejected") throw new FmuRejectedError(fmu);
      return fmu;
    }
    const onProgress = options.onProgress;
    let fmu: ApiObject;
    try {
      fmu = await this.call({
        method: "PUT",
        path: ticket.upload_url,
        auth: false,
        idempotent: true,
        extraTimeoutMs: 10 * 60 * 1000,
        body: () => {
          let sent = 0;
          const src = createReadStream(path);
          if (onProgress)
            src.on("data", (chunk) => {
              sent += (chunk as Buffer).length;
              onProgress(sent, size);
            });
          return {
            body: Readable.toWeb(src) as unknown as ReadableStream,
            headers: { "Content-Type": "application/octet-stream", "Content-Length": String(size) },
          };
        },
      });
    } catch (e) {
      // a retried PUT whose first try was stored answers 409: it is there
      if (!(e instanceof ConflictError)) throw e;
      fmu = await this.getFmu(ticket.fmu_id);
      if (fmu.status === "awaiting_upload") throw e;
    }
    if (fmu.status === "rejected") throw new FmuRejectedError(fmu);
    return fmu;
  }

  /** GET /fmu/{id}: the FMU with its model summary and validation report. */
  async getFmu(id: string): Promise<ApiObject> {
    return this.call({ method: "GET", path: `/fmu/${encodeURIComponent(id)}`, idempotent: true });
  }

  /** GET /fmu: one page of the FMUs this account can see. */
  async listFmus(options: { limit?: number; cursor?: string } = {}): Promise<Page> {
    const j = await this.call({ method: "GET", path: "/fmu", query: { ...options }, idempotent: true });
    return { items: j.items ?? [], nextCursor: j.next_cursor ?? null };
  }

  /** Every FMU this account can see, page after page. */
  async *iterFmus(pageSize = 100): AsyncGenerator<ApiObject> {
    let cursor: string | undefined;
    do {
      const p = await this.listFmus({ limit: pageSize, cursor });
      yield* p.items;
      cursor = p.nextCursor ?? undefined;
    } while (cursor);
  }

  /** DELETE /fmu/{id}. */
  async deleteFmu(id: string): Promise<void> {
    await this.call({ method: "DELETE", path: `/fmu/${encodeURIComponent(id)}`, idempotent: true });
  }

  /** Downloads one of the account's FMUs to `dest` (streamed; written to a
   *  temporary file renamed into place). */
  async downloadFmu(id: string, dest: string): Promise<void> {
    const j = await this.call({ method: "GET", path: `/fmu/${encodeURIComponent(id)}/download`, idempotent: true });
    await this.downloadTo(j.download_url, dest);
  }

  // ---- jobs -------------------------------------------------------------

  /** POST /fmu/execute: queues a simulation of `fmuId`. An Idempotency-Key
   *  (a new UUID unless given) makes retries safe: the job runs once.
   *  Resolves with the answer (`job_id`, `status`). */
  async execute(fmuId: string, options: SimulationOptions = {}, exec: ExecuteOptions = {}): Promise<ApiObject> {
    const key = exec.idempotencyKey ?? randomUUID();
    return this.call({
      method: "POST",
      path: "/fmu/execute",
      json: executeBody(fmuId, options),
      headers: { "Idempotency-Key": key },
      idempotent: true,
    });
  }

  /** GET /fmu/status/{job_id}; with `waitS` the server holds the answer
   *  until the job finishes or the time passes (long poll). */
  async status(jobId: string, waitS?: number): Promise<ApiObject> {
    return this.call({
      method: "GET",
      path: `/fmu/status/${encodeURIComponent(jobId)}`,
      query: { wait: waitS && waitS > 0 ? Math.ceil(waitS) : undefined },
      idempotent: true,
      extraTimeoutMs: (waitS ?? 0) * 1000,
    });
  }

  /** Long-polls the job until it is succeeded, failed, canceled or
   *  timed_out and resolves with its last status (it does not throw for a
   *  failed job: see simulate()). WaitTimeoutError after `timeoutS`. */
  async wait(jobId: string, options: WaitOptions = {}): Promise<ApiObject> {
    const started = Date.now();
    const poll = options.pollS ?? 20;
    let job = await this.status(jobId);
    for (;;) {
      options.onStatus?.(job);
      if (TERMINAL_STATES.has(job.status)) return job;
      let w = poll;
      if (options.timeoutS !== undefined) {
        const left = options.timeoutS - (Date.now() - started) / 1000;
        if (left <= 0) throw new WaitTimeoutError(job, options.timeoutS);
        w = Math.min(w, Math.max(1, Math.ceil(left)));
      }
      const before = Date.now();
      job = await this.status(jobId, w);
      // a server without long polls answers at once: do not spin
      if (!TERMINAL_STATES.has(job.status) && Date.now() - before < 200) await sleep(200);
    }
  }

  /** POST /fmu/cancel/{job_id}. */
  async cancel(jobId: string): Promise<ApiObject> {
    return this.call({ method: "POST", path: `/fmu/cancel/${encodeURIComponent(jobId)}`, idempotent: true });
  }

  /** GET /jobs: one page of the account's jobs (newest first). */
  async listJobs(options: { limit?: number; cursor?: string; status?: string } = {}): Promise<Page> {
    const j = await this.call({ method: "GET", path: "/jobs", query: { ...options }, idempotent: true });
    return { items: j.items ?? [], nextCursor: j.next_cursor ?? null };
  }

  /** Every job of the account, page after page. */
  async *iterJobs(pageSize = 100): AsyncGenerator<ApiObject> {
    let cursor: string | undefined;
    do {
      const p = await this.listJobs({ limit: pageSize, cursor });
      yield* p.items;
      cursor = p.nextCursor ?? undefined;
    } while (cursor);
  }

  /** GET /fmu/results/{job_id}: the results metadata (signed `url`,
   *  `format`, `rows`, `size`, `sha256`, `expires_at`). */
  async resultsInfo(jobId: string): Promise<ApiObject> {
    return this.call({ method: "GET", path: `/fmu/results/${encodeURIComponent(jobId)}`, idempotent: true });
  }

  /** The results of a succeeded job, downloaded and parsed: `rows` (one
   *  object per output time), `columns` and the raw `text`. The download
   *  is checked against the announced SHA-256. */
  async results(jobId: string): Promise<Results> {
    const meta = await this.resultsInfo(jobId);
    const a = await this.send({ method: "GET", path: meta.url, auth: false, idempotent: true, headers: { Accept: "*/*" } });
    const text = a.text;
    if (typeof meta.sha256 === "string") {
      const got = createHash("sha256").update(text, "utf8").digest("hex");
      if (got !== meta.sha256) throw new FmugwError(`results of ${jobId}: SHA-256 ${got} differs from ${meta.sha256}`);
    }
    const format = typeof meta.format === "string" ? meta.format : "csv";
    const parsed = parseResults(text, format);
    return { ...parsed, text, format, meta };
  }

  /** Streams a succeeded job's results to `dest` (checked against the
   *  announced SHA-256; written to a temporary file renamed into place). */
  async downloadResults(jobId: string, dest: string): Promise<ApiObject> {
    const meta = await this.resultsInfo(jobId);
    await this.downloadTo(meta.url, dest, typeof meta.sha256 === "string" ? meta.sha256 : undefined);
    return meta;
  }

  private async downloadTo(path: string, dest: string, sha256?: string): Promise<void> {
    const url = this.url(path);
    const tmp = `${dest}.part.${process.pid}`;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.fetchImpl(url, { signal: AbortSignal.timeout(this.opts.timeoutMs * 10) });
      } catch (e) {
        if (attempt < this.opts.maxRetries) {
          await sleep(this.backoff(attempt));
          continue;
        }
        throw new NetworkError(`GET ${new URL(url).pathname}: ${(e as Error).message}`, { cause: e });
      }
      if (!res.ok || !res.body) {
        const text = await res.text();
        let json: any;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        const a: Answer = { status: res.status, headers: res.headers, contentType: res.headers.get("content-type") ?? "", text, json };
        this.record("GET", url, a);
        throw this.errorOf(a);
      }
      this.record("GET", url, { status: res.status, headers: res.headers, contentType: res.headers.get("content-type") ?? "", text: "", json: undefined });
      const h = createHash("sha256");
      const src = Readable.fromWeb(res.body as any);
      src.on("data", (c: Buffer) => h.update(c));
      try {
        await pipeline(src, createWriteStream(tmp, { mode: 0o644 }));
      } catch (e) {
        await unlink(tmp).catch(() => undefined);
        throw new NetworkError(`GET ${new URL(url).pathname}: ${(e as Error).message}`, { cause: e });
      }
      const got = h.digest("hex");
      if (sha256 && got !== sha256) {
        await unlink(tmp).catch(() => undefined);
        throw new FmugwError(`${dest}: SHA-256 ${got} differs from ${sha256}`);
      }
      await rename(tmp, dest);
      return;
    }
  }

  /** Everything in one call: uploads `pathOrId` when it is a file (skipped
   *  when the same bytes are stored), executes, waits, downloads and parses
   *  the results. JobFailedError when the job does not succeed. */
  async simulate(pathOrId: string, options: SimulateOptions = {}): Promise<SimulationResult> {
    let fmuId: string;
    if (isFmuId(pathOrId) && !existsSync(pathOrId)) fmuId = pathOrId;
    else fmuId = (await this.upload(pathOrId, options)).id;
    const started = await this.execute(fmuId, options, options);
    const jobId: string = started.job_id;
    const job = TERMINAL_STATES.has(started.status) ? started : await this.wait(jobId, { ...options, timeoutS: undefined }); /* timeoutS is the job's limit, not the wait's: the server ends the job */
    if (job.status !== "succeeded") throw new JobFailedError(job);
    const r = await this.results(jobId);
    return { ...r, job, jobId, fmuId };
  }

  // ---- keys -------------------------------------------------------------

  /** POST /keys: a new API key (its `api_key` is shown only now). */
  async createKey(options: { scopes?: string | string[]; name?: string } = {}): Promise<ApiObject> {
    const body: Record<string, unknown> = {};
    if (options.scopes !== undefined) body["scopes"] = options.scopes;
    if (options.name !== undefined) body["name"] = options.name;
    return this.call({ method: "POST", path: "/keys", json: body });
  }

  /** GET /keys: the account's keys (hints only). */
  async listKeys(): Promise<ApiObject[]> {
    return (await this.call({ method: "GET", path: "/keys", idempotent: true })).items ?? [];
  }

  /** DELETE /keys/{id}: revokes a key (its tokens stop working at once). */
  async revokeKey(id: string): Promise<void> {
    await this.call({ method: "DELETE", path: `/keys/${encodeURIComponent(id)}`, idempotent: true });
  }

  // ---- account ----------------------------------------------------------

  /** GET /account: tier, `balance` and limits. */
  async account(): Promise<ApiObject> {
    return this.call({ method: "GET", path: "/account", idempotent: true });
  }

  /** GET /account/ledger: one page of ledger entries. */
  async ledger(options: { limit?: number; cursor?: string } = {}): Promise<Page> {
    const j = await this.call({ method: "GET", path: "/account/ledger", query: { ...options }, idempotent: true });
    return { items: j.items ?? j.entries ?? [], nextCursor: j.next_cursor ?? null };
  }

  /** GET /account/usage as JSON. */
  async usage(query: Record<string, string | number | undefined> = {}): Promise<ApiObject> {
    return this.call({ method: "GET", path: "/account/usage", query: { ...query, format: "json" }, idempotent: true });
  }

  /** GET /account/usage?format=csv: the usage report as CSV text. */
  async usageCsv(query: Record<string, string | number | undefined> = {}): Promise<string> {
    const a = await this.send({
      method: "GET",
      path: "/account/usage",
      query: { ...query, format: "csv" },
      idempotent: true,
      headers: { Accept: "text/csv" },
    });
    return a.text;
  }
}

export type { ResultRow };

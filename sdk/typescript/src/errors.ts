// errors.ts - the error classes of the SDK. Every error the client throws is
// an FmugwError; answers of the gateway that are problems (RFC 9457
// application/problem+json) become an ApiError subclass chosen by the
// problem's `type` slug, carrying the problem details.

/** One entry of a problem's `errors` array (a field that failed validation). */
export interface ProblemFieldError {
  field?: string;
  message?: string;
  [extra: string]: unknown;
}

/** An RFC 9457 problem as the gateway sends it. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  errors?: ProblemFieldError[];
  [extra: string]: unknown;
}

/** The base of every error thrown by this SDK. */
export class FmugwError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The configuration is missing or unsafe (e.g. a config file others can read). */
export class ConfigError extends FmugwError {}

/** The gateway could not be reached, or the connection failed or timed out. */
export class NetworkError extends FmugwError {}

/** An error answer of the gateway (a problem). */
export class ApiError extends FmugwError {
  /** HTTP status of the answer. */
  readonly status: number;
  /** The problem's `type` URI ("" when the answer was not a problem). */
  readonly type: string;
  /** The last path segment of `type` ("not-found"). */
  readonly slug: string;
  /** The problem's `title`. */
  readonly title: string;
  /** The problem's `detail`, the server's explanation. */
  readonly detail: string | undefined;
  /** The problem's `errors` (per-field messages), [] if none. */
  readonly errors: ProblemFieldError[];
  /** The whole problem as received (extension members included). */
  readonly problem: ProblemDetails;
  /** The X-Request-Id of the answer, for support requests. */
  readonly requestId: string | undefined;

  constructor(problem: ProblemDetails, requestId?: string) {
    const detail = typeof problem.detail === "string" ? problem.detail : undefined;
    const fieldText = (problem.errors ?? [])
      .map((e) => (e.field ? `${e.field}: ${e.message ?? ""}` : String(e.message ?? "")))
      .filter((s) => s.length > 0)
      .join("; ");
    let message = `${problem.status} ${problem.title}`;
    if (detail) message += `: ${detail}`;
    if (fieldText) message += ` (${fieldText})`;
    super(message);
    this.status = problem.status;
    this.type = problem.type ?? "";
    this.slug = slugOf(this.type);
    this.title = problem.title;
    this.detail = detail;
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    this.problem = problem;
    this.requestId = requestId;
  }
}

/** 401: missing, wrong, revoked or locked API key, or a bad token. */
export class AuthError extends ApiError {}

/** 403: the key lacks a scope, or a signed URL is invalid or expired. */
export class ForbiddenError extends AuthError {}

/** 404: no such resource (or another account's). */
export class NotFoundError extends ApiError {}

/** 402: the account's credits cannot cover the job. */
export class InsufficientCreditsError extends ApiError {
  /** Credits the job needed, when the problem says so. */
  get required(): number | undefined {
    return numberMember(this.problem, ["required", "required_credits", "needed", "amount"]);
  }
  /** The balance when the job was refused, when the problem says so. */
  get balance(): number | undefined {
    return numberMember(this.problem, ["balance", "available"]);
  }
}

/** 429: too many requests; retried automatically before it is thrown. */
export class RateLimitedError extends ApiError {
  /** Seconds the server asked to wait (Retry-After), if it said. */
  readonly retryAfter: number | undefined;
  constructor(problem: ProblemDetails, requestId?: string, retryAfter?: number) {
    super(problem, requestId);
    this.retryAfter = retryAfter;
  }
}

/** 409: the resource is not in a state that allows this (e.g. already uploaded). */
export class ConflictError extends ApiError {}

/** 400, 413, 415, 422: the request was refused as invalid. */
export class ValidationError extends ApiError {}

/** 5xx: the gateway failed (retried automatically where safe). */
export class ServerError extends ApiError {}

/** An uploaded FMU was rejected by validation; `fmu.validation` has the report. */
export class FmuRejectedError extends FmugwError {
  readonly fmu: Record<string, unknown>;
  constructor(fmu: Record<string, unknown>) {
    const v = fmu["validation"] as { fatal?: unknown } | null | undefined;
    const fatal = v && Array.isArray(v.fatal) ? v.fatal.join(", ") : "";
    super(`FMU ${String(fmu["id"])} was rejected by validation${fatal ? `: ${fatal}` : ""}`);
    this.fmu = fmu;
  }
}

/** A job ended failed, canceled or timed_out; `job` is its last status. */
export class JobFailedError extends FmugwError {
  readonly job: Record<string, unknown>;
  readonly jobId: string;
  readonly status: string;
  constructor(job: Record<string, unknown>) {
    const status = String(job["status"]);
    const id = String(job["job_id"] ?? job["id"]);
    const err = job["error"];
    const why = typeof err === "string" ? err : err && typeof err === "object" ? JSON.stringify(err) : "";
    super(`job ${id} ${status}${why ? `: ${why}` : ""}`);
    this.job = job;
    this.jobId = id;
    this.status = status;
  }
}

/** wait() gave up before the job finished (the job goes on). */
export class WaitTimeoutError extends FmugwError {
  readonly job: Record<string, unknown>;
  constructor(job: Record<string, unknown>, seconds: number) {
    super(`job ${String(job["job_id"])} still ${String(job["status"])} after ${seconds} s`);
    this.job = job;
  }
}

function slugOf(type: string): string {
  const cut = type.replace(/\/+$/, "");
  const i = cut.lastIndexOf("/");
  return i >= 0 ? cut.slice(i + 1) : cut;
}

function numberMember(p: ProblemDetails, names: string[]): number | undefined {
  for (const n of names) {
    const v = p[n];
    if (typeof v === "number") return v;
  }
  return undefined;
}

/** The error class for a problem: by `type` slug first, by status otherwise. */
export function errorFromProblem(problem: ProblemDetails, requestId?: string, retryAfter?: number): ApiError {
  switch (slugOf(problem.type ?? "")) {
    case "unauthorized":
      return new AuthError(problem, requestId);
    case "forbidden":
      return new ForbiddenError(problem, requestId);
    case "not-found":
      return new NotFoundError(problem, requestId);
    case "insufficient-credits":
      return new InsufficientCreditsError(problem, requestId);
    case "rate-limited":
      return new RateLimitedError(problem, requestId, retryAfter);
    case "conflict":
      return new ConflictError(problem, requestId);
    case "bad-request":
    case "unprocessable":
    case "payload-too-large":
    case "unsupported-media-type":
      return new ValidationError(problem, requestId);
    case "internal":
    case "unavailable":
      return new ServerError(problem, requestId);
  }
  const s = problem.status;
  if (s === 401) return new AuthError(problem, requestId);
  if (s === 403) return new ForbiddenError(problem, requestId);
  if (s === 404) return new NotFoundError(problem, requestId);
  if (s === 402) return new InsufficientCreditsError(problem, requestId);
  if (s === 429) return new RateLimitedError(problem, requestId, retryAfter);
  if (s === 409) return new ConflictError(problem, requestId);
  if (s === 400 || s === 413 || s === 415 || s === 422) return new ValidationError(problem, requestId);
  if (s >= 500) return new ServerError(problem, requestId);
  return new ApiError(problem, requestId);
}

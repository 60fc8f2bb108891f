"""The SDK's exceptions: one class per problem type the gateway answers.

Every error the gateway returns is an RFC 9457 problem
(`application/problem+json`: type, title, status, detail, errors[]). The
client raises the class named by the problem's `type` slug, carrying all of
its fields, so callers can write::

    try:
        client.simulate("model.fmu", stop_time=10)
    except fmugw.InsufficientCreditsError as e:
        print("top up:", e.detail)
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Type

PROBLEM_BASE = "https://fmu-gateway.dev/problems/"


class FmuGatewayError(Exception):
    """Base class of every SDK error.

    Attributes (None when the error did not come from a problem answer):
    status (HTTP status), type (problem type URI), slug (its last segment,
    e.g. "not-found"), title, detail, instance (the request id), errors
    (field errors: list of {"field", "message"}), problem (the whole
    problem object), retry_after (seconds, from Retry-After).
    """

    def __init__(self, message: str, *, status: Optional[int] = None,
                 problem: Optional[Mapping[str, Any]] = None,
                 retry_after: Optional[float] = None) -> None:
        super().__init__(message)
        self.problem: Dict[str, Any] = dict(problem or {})
        self.status: Optional[int] = status if status is not None else self.problem.get("status")
        self.type: Optional[str] = self.problem.get("type")
        self.slug: Optional[str] = _slug(self.type)
        self.title: Optional[str] = self.problem.get("title")
        self.detail: Optional[str] = self.problem.get("detail")
        self.instance: Optional[str] = self.problem.get("instance")
        errs = self.problem.get("errors")
        self.errors: List[Dict[str, Any]] = list(errs) if isinstance(errs, list) else []
        self.retry_after = retry_after


class ConfigError(FmuGatewayError):
    """The configuration is missing or unsafe (e.g. a config file that others
    can read, no API key configured)."""


class AuthError(FmuGatewayError):
    """401 unauthorized or 403 forbidden: a missing, wrong, revoked or
    locked API key, or a key without the needed scope."""


class NotFoundError(FmuGatewayError):
    """404: the FMU, job or key does not exist (or is another account's)."""


class InsufficientCreditsError(FmuGatewayError):
    """402: the account cannot cover the job's reservation."""


class RateLimitedError(FmuGatewayError):
    """429 after the client's retries ran out; `retry_after` says how long to
    wait."""


class ConflictError(FmuGatewayError):
    """409: the resource is in the wrong state (e.g. an FMU not ready yet,
    an Idempotency-Key reused with another body)."""


class ValidationError(FmuGatewayError):
    """400/413/415/422: the request was refused; `errors` lists the fields
    at fault (each {"field", "message"})."""


class FmuRejectedError(ValidationError):
    """An uploaded FMU failed validation; `validation` is the report."""

    def __init__(self, message: str, *, fmu: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.fmu: Dict[str, Any] = dict(fmu)
        self.validation: Dict[str, Any] = dict(fmu.get("validation") or {})
        self.errors = [
            {"field": p.get("rule", ""), "message": p.get("message", "")}
            for p in self.validation.get("problems", []) if isinstance(p, dict)
        ]


class ServerError(FmuGatewayError):
    """5xx after the client's retries ran out."""


class JobFailedError(FmuGatewayError):
    """The job ended as failed, canceled or timed_out. `job` is its last
    status; `job_status` the state; `error_class` the error class the
    gateway gave (e.g. "fmu_error", "timeout", "platform_error",
    "canceled"), `error_message` its detail. The job's error object is a
    problem too: `type`, `title`, `detail` and `problem` are set from it."""

    def __init__(self, message: str, *, job: Mapping[str, Any]) -> None:
        err0 = job.get("error")
        super().__init__(message, problem=err0 if isinstance(err0, dict) else None)
        self.job: Dict[str, Any] = dict(job)
        self.job_id: Optional[str] = self.job.get("job_id") or self.job.get("id")
        self.job_status: Optional[str] = self.job.get("status")
        err = self.job.get("error")
        self.error_class: Optional[str] = None
        self.error_message: Optional[str] = None
        if isinstance(err, dict):
            self.error_class = err.get("error_class") or err.get("class") or err.get("code")
            self.error_message = err.get("detail") or err.get("message")
        elif isinstance(err, str):
            self.error_message = err
        self.error_class = self.error_class or self.job.get("error_class") or self.job_status
        self.error_message = self.error_message or self.job.get("error_message")


class NetworkError(FmuGatewayError):
    """The gateway could not be reached (connection refused, reset, DNS,
    timeout) after the client's retries ran out."""


class ResultIntegrityError(FmuGatewayError):
    """The downloaded results do not match the SHA-256 the gateway gave."""


def _slug(type_uri: Optional[str]) -> Optional[str]:
    if not type_uri:
        return None
    return type_uri.rstrip("/").rsplit("/", 1)[-1]


_BY_SLUG: Dict[str, Type[FmuGatewayError]] = {
    "unauthorized": AuthError,
    "forbidden": AuthError,
    "not-found": NotFoundError,
    "insufficient-credits": InsufficientCreditsError,
    "rate-limited": RateLimitedError,
    "conflict": ConflictError,
    "bad-request": ValidationError,
    "unprocessable": ValidationError,
    "payload-too-large": ValidationError,
    "unsupported-media-type": ValidationError,
    "method-not-allowed": FmuGatewayError,
    "internal": ServerError,
    "unavailable": ServerError,
}

_BY_STATUS: Dict[int, Type[FmuGatewayError]] = {
    400: ValidationError, 401: AuthError, 402: InsufficientCreditsError, 403: AuthError,
    404: NotFoundError, 409: ConflictError, 413: ValidationError, 415: ValidationError,
    422: ValidationError, 429: RateLimitedError,
}


def error_from_problem(status: int, problem: Optional[Mapping[str, Any]],
                       retry_after: Optional[float] = None, what: str = "") -> FmuGatewayError:
    """The exception for an HTTP error answer: by the problem's `type` slug,
    else by status code."""
    problem = dict(problem or {})
    cls = _BY_SLUG.get(_slug(problem.get("type")) or "")
    if cls is None:
        cls = _BY_STATUS.get(status, ServerError if status >= 500 else FmuGatewayError)
    title = problem.get("title") or f"HTTP {status}"
    detail = problem.get("detail")
    msg = f"{title} ({status})" + (f": {detail}" if detail else "")
    errs = problem.get("errors")
    if isinstance(errs, list) and errs:
        msg += "; " + "; ".join(
            f"{e.get('field', '?')}: {e.get('message', '')}" if isinstance(e, dict) else str(e) for e in errs)
    if what:
        msg = f"{what}: {msg}"
    return cls(msg, status=status, problem=problem, retry_after=retry_after)

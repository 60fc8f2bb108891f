"""The FMU Gateway client: HTTP (urllib), tokens, retries and every route.

    import fmugw
    result = fmugw.Client().simulate("model.fmu", stop_time=3.0)
    for row in result.rows: ...

Auth: every call sends the API key (X-API-Key) and a bearer JWT from
POST /auth/token; the token is refreshed before it expires and once more
when the gateway answers 401 "the token has expired". Retries (with
exponential backoff and jitter, honouring Retry-After): connection errors
and 502/503/504 for idempotent calls (GET, PUT, DELETE, token requests) and
for executes, which carry an Idempotency-Key (one random UUID per logical
execute, reused on its retries) so a retry never runs a job twice; 429 for
every call (the gateway refused it before doing anything).

Contract log: when FMUGW_CONTRACT_LOG names a file, every answered request
is appended to it as one JSON line (method, path without the query, status,
content_type, and the body when it is JSON), the format of
tests/integration/harness.h, so the tests can check the SDK's exchanges
against api/openapi.yaml. Tokens in logged bodies are replaced by
"redacted".
"""
from __future__ import annotations

import difflib
import email.utils
import hashlib
import http.client
import json
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any, BinaryIO, Callable, Dict, Iterator, List, Mapping, Optional, Tuple, Union

from . import __version__
from .config import Settings, resolve
from .errors import (FmuGatewayError, FmuRejectedError, JobFailedError, NetworkError, ResultIntegrityError,
                     error_from_problem)
from .results import Result, columns_of, parse_csv, parse_json

PathLike = Union[str, "os.PathLike[str]"]
Json = Dict[str, Any]
Progress = Callable[[int, int], None]

#: The options of POST /fmu/execute besides fmu_id (the API's own names).
EXECUTE_OPTIONS = (
    "start_time", "stop_time", "output_interval", "step_size", "interface", "solver", "relative_tolerance",
    "start_values", "inputs", "output_variables", "output_all", "output_format", "timeout_s", "reuse",
)
#: Friendlier spellings accepted for some options.
OPTION_ALIASES = {
    "tolerance": "relative_tolerance",
    "rtol": "relative_tolerance",
    "output_variable": "output_variables",
    "outputs": "output_variables",
    "format": "output_format",
}
TERMINAL_STATES = ("succeeded", "failed", "canceled", "timed_out")
_CHUNK = 1 << 20
_RETRY_STATUSES = (502, 503, 504)


class WaitTimeoutError(FmuGatewayError, TimeoutError):
    """wait() gave up before the job finished (the job keeps running)."""


class _Response:
    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type") or ""

    def json(self) -> Any:
        if not self.body:
            return None
        return json.loads(self.body.decode("utf-8"))


def sha256_file(path: PathLike) -> Tuple[str, int]:
    """(hex SHA-256, size) of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while True:
            block = f.read(_CHUNK)
            if not block:
                break
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


class _ProgressReader:
    """A file wrapper that reports bytes read to a progress callback."""

    def __init__(self, f: BinaryIO, total: int, progress: Optional[Progress]) -> None:
        self._f, self._total, self._progress, self._done = f, total, progress, 0

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self._done += len(data)
        if self._progress:
            self._progress(self._done, self._total)
        return data


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are not followed: a redirect would resend the API key."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Client:
    """A client of one gateway and API key.

    base_url, api_key and profile default to the configuration (see
    fmugw.config: FMUGW_BASE_URL / FMUGW_API_KEY, then the profile of
    ~/.fmu_gateway/config). timeout is the socket timeout of one request
    (long-polls add their wait to it); max_retries bounds the retries of
    one call; contract_log overrides FMUGW_CONTRACT_LOG.
    """

    def __init__(self, base_url: Optional[str] = None, api_key: Optional[str] = None,
                 profile: Optional[str] = None, *, timeout: float = 60.0, max_retries: int = 4,
                 backoff: float = 0.5, max_backoff: float = 8.0, max_retry_after: float = 120.0,
                 contract_log: Optional[str] = None, user_agent: Optional[str] = None) -> None:
        self.settings: Settings = resolve(base_url, api_key, profile)
        self.base_url = self.settings.base_url
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.contract_log = contract_log if contract_log is not None else os.environ.get("FMUGW_CONTRACT_LOG")
        self.user_agent = user_agent or f"fmugw-python/{__version__}"
        self._api_key = self.settings.api_key
        self._token: Optional[str] = None
        self._token_expiry = 0.0  # time.monotonic() at which to refresh
        self._token_lock = threading.Lock()
        self._opener = urllib.request.build_opener(_NoRedirect())
        #: Tokens obtained so far (for diagnostics and tests).
        self.token_requests = 0
        #: Retries made so far (all calls).
        self.retries = 0
        #: Calls repeated with a new token after a 401 "token has expired".
        self.expired_token_retries = 0

    def __repr__(self) -> str:
        return f"<fmugw.Client {self.base_url} profile={self.settings.profile!r}>"

    # ---- transport ------------------------------------------------------

    def _url(self, path: str, query: Optional[Mapping[str, Any]] = None) -> str:
        if path.startswith(("http://", "https://")):
            url = path
        else:
            url = self.base_url + (path if path.startswith("/") else "/" + path)
        if query:
            q = {k: v for k, v in query.items() if v is not None}
            if q:
                url += ("&" if "?" in url else "?") + urllib.parse.urlencode(q)
        return url

    def _record(self, method: str, url: str, resp: _Response) -> None:
        if not self.contract_log:
            return
        path = urllib.parse.urlsplit(url).path or "/"
        line: Json = {"method": method, "path": path, "status": resp.status, "content_type": resp.content_type,
                      "test": "sdk_python", "client": "python"}
        ct = resp.content_type.split(";")[0].strip()
        if ct == "application/json" or ct.endswith("+json"):
            try:
                body = resp.json()
                if isinstance(body, dict) and "access_token" in body:
                    body = dict(body, access_token="redacted")
                line["body"] = body
            except (ValueError, UnicodeDecodeError):
                line["body_text"] = resp.body[:2048].decode("utf-8", "replace")
        data = (json.dumps(line, separators=(",", ":")) + "\n").encode()
        fd = os.open(self.contract_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def _send(self, method: str, url: str, headers: Dict[str, str], data: Any, timeout: float,
              sink: Optional[BinaryIO]) -> _Response:
        """One HTTP exchange. The body goes to `sink` when given (2xx only).
        Raises NetworkError on transport failures."""
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with self._opener.open(req, timeout=timeout) as r:
                if sink is not None and 200 <= r.status < 300:
                    while True:
                        block = r.read(_CHUNK)
                        if not block:
                            break
                        sink.write(block)
                    resp = _Response(r.status, r.headers, b"")
                else:
                    resp = _Response(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            try:
                body = e.read()
            except (OSError, http.client.HTTPException):
                body = b""
            resp = _Response(e.code, e.headers, body)
        except (urllib.error.URLError, OSError, http.client.HTTPException, socket.timeout) as e:
            reason = getattr(e, "reason", e)
            raise NetworkError(f"cannot reach {self.base_url}: {reason}") from e
        self._record(method, url, resp)
        return resp

    def _retry_delay(self, attempt: int, resp: Optional[_Response]) -> float:
        if resp is not None:
            ra = _retry_after(resp.headers.get("Retry-After"))
            if ra is not None:
                return min(ra, self.max_retry_after)
        base = min(self.max_backoff, self.backoff * (2 ** attempt))
        return base * (0.5 + random.random() / 2)

    def _request(self, method: str, path: str, *, query: Optional[Mapping[str, Any]] = None,
                 json_body: Any = None, body: Optional[Callable[[], Any]] = None,
                 headers: Optional[Mapping[str, str]] = None, auth: bool = True, api_key_only: bool = False,
                 retry: Optional[bool] = None, timeout: Optional[float] = None,
                 sink: Optional[BinaryIO] = None, what: str = "") -> _Response:
        """One API call with auth, retries and error mapping. `body` is a
        factory (called once per attempt) for streamed bodies. Returns the
        2xx response; raises the mapped FmuGatewayError otherwise."""
        url = self._url(path, query)
        idempotent = method in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")
        retry_server = idempotent if retry is None else retry
        refreshed = False
        attempt = 0
        while True:
            h: Dict[str, str] = {"User-Agent": self.user_agent, "Accept": "application/json"}
            if auth or api_key_only:
                h["X-API-Key"] = self._api_key
            if auth:
                h["Authorization"] = "Bearer " + self._access_token()
            if headers:
                h.update(headers)
            data: Any = None
            if json_body is not None:
                data = json.dumps(json_body).encode()
                h["Content-Type"] = "application/json"
            elif body is not None:
                data = body()
            resp: Optional[_Response] = None
            try:
                resp = self._send(method, url, h, data, timeout or self.timeout, sink)
            except NetworkError:
                if not retry_server or attempt >= self.max_retries:
                    raise
            finally:
                close = getattr(data, "close", None)
                if close:
                    close()
            if resp is not None:
                if 200 <= resp.status < 300:
                    return resp
                problem = _problem(resp)
                if (resp.status == 401 and auth and not refreshed
                        and "expired" in str(problem.get("detail", "")).lower()):
                    refreshed = True
                    self.expired_token_retries += 1
                    self._invalidate_token()
                    continue
                retryable = resp.status == 429 or (resp.status in _RETRY_STATUSES and retry_server)
                if not retryable or attempt >= self.max_retries:
                    raise error_from_problem(resp.status, problem, _retry_after(resp.headers.get("Retry-After")),
                                             what)
            delay = self._retry_delay(attempt, resp)
            attempt += 1
            self.retries += 1
            time.sleep(delay)

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        return self._request(method, path, **kw).json()

    # ---- tokens ---------------------------------------------------------

    def _invalidate_token(self) -> None:
        with self._token_lock:
            self._token = None
            self._token_expiry = 0.0

    def _access_token(self) -> str:
        with self._token_lock:
            if self._token and time.monotonic() < self._token_expiry:
                return self._token
            t0 = time.monotonic()
            answer = self._request("POST", "/auth/token", auth=False, api_key_only=True, retry=True,
                                   what="POST /auth/token").json()
            ttl = float(answer.get("expires_in") or 60)
            # refresh a little before expiry: 20 % of the lifetime, at most 60 s
            self._token = str(answer["access_token"])
            self._token_expiry = t0 + ttl - min(60.0, ttl * 0.2)
            self.token_requests += 1
            return self._token

    def token(self) -> str:
        """A valid access token (obtained or refreshed as needed)."""
        return self._access_token()

    # ---- FMUs -----------------------------------------------------------

    def upload(self, path: PathLike, name: Optional[str] = None, progress: Optional[Progress] = None) -> Json:
        """Uploads an FMU through the signed-URL exchange, streaming it from
        disk, and returns the FMU (with "fmu_id" and "existing"). When this
        account already stores the same bytes (same SHA-256) nothing is sent
        and "existing" is True. Raises FmuRejectedError if validation
        rejects it. `progress(sent, total)` is called as bytes go out."""
        path = os.fspath(path)
        digest, size = sha256_file(path)
        name = name or os.path.basename(path)
        ticket = self._json("POST", "/fmu/upload", json_body={"name": name, "size": size, "sha256": digest},
                            retry=False, what=f"upload {name}")
        if ticket.get("existing"):
            if progress:
                progress(size, size)
            return dict(ticket, fmu_id=ticket["fmu_id"], existing=True)

        def open_body() -> Any:
            return _ProgressReader(open(path, "rb"), size, progress)

        fmu = self._request("PUT", ticket["upload_url"], body=open_body, auth=False,
                            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                            what=f"upload {name}").json()
        fmu = dict(fmu, fmu_id=fmu.get("id", ticket["fmu_id"]), existing=False)
        if fmu.get("status") == "rejected":
            fatal = ", ".join((fmu.get("validation") or {}).get("fatal", [])) or "see .validation"
            raise FmuRejectedError(f"{name} was rejected by validation: {fatal}", fmu=fmu)
        return fmu

    def list_fmus(self, limit: Optional[int] = None, cursor: Optional[str] = None) -> Json:
        """One page of the FMUs this account can see: {"items", "next_cursor"}."""
        return self._json("GET", "/fmu", query={"limit": limit, "cursor": cursor})

    def iter_fmus(self, page_size: int = 100) -> Iterator[Json]:
        """Every FMU this account can see, page after page."""
        yield from self._paginate("/fmu", {"limit": page_size})

    def get_fmu(self, fmu_id: str) -> Json:
        """One FMU with its model summary and validation report."""
        return self._json("GET", f"/fmu/{_seg(fmu_id)}")

    def delete_fmu(self, fmu_id: str) -> None:
        """Deletes one of this account's FMUs."""
        self._request("DELETE", f"/fmu/{_seg(fmu_id)}")

    def download_fmu(self, fmu_id: str, path: PathLike) -> str:
        """Downloads one of this account's FMUs to `path` (returned)."""
        link = self._json("GET", f"/fmu/{_seg(fmu_id)}/download")
        path = os.fspath(path)
        with open(path, "wb") as f:
            self._request("GET", link["download_url"], auth=False, sink=f)
        return path

    # ---- jobs -----------------------------------------------------------

    def execute(self, fmu_id: str, *, idempotency_key: Optional[str] = None, **options: Any) -> Json:
        """Starts a simulation of a stored FMU; returns the answer (with
        "job_id"). Options are the API's names (start_time, stop_time,
        output_interval, step_size, interface, solver, relative_tolerance,
        start_values, inputs, output_variables, output_all, output_format,
        timeout_s, reuse). `inputs` may be {"time": [...], name: [...]}, a
        list of row dicts, or the path of a CSV file. The Idempotency-Key (a
        new UUID unless given) is reused on retries."""
        body = build_execute_body(fmu_id, options)
        key = idempotency_key or str(uuid.uuid4())
        return self._json("POST", "/fmu/execute", json_body=body, headers={"Idempotency-Key": key}, retry=True,
                          what="execute")

    def status(self, job_id: str, wait: Optional[float] = None) -> Json:
        """The job's status; with `wait` (seconds, the gateway caps it at
        30) the gateway holds the answer until the status changes."""
        w = None if not wait else max(1, int(round(wait)))
        return self._json("GET", f"/fmu/status/{_seg(job_id)}", query={"wait": w},
                          timeout=self.timeout + (w or 0))

    def wait(self, job_id: str, timeout: Optional[float] = None, poll: float = 30.0,
             on_status: Optional[Callable[[Json], None]] = None) -> Json:
        """Waits (long-polling) until the job finishes; returns its final
        status. Raises JobFailedError when it failed, was canceled or timed
        out, WaitTimeoutError after `timeout` seconds (None: no limit).
        `on_status` is called with each status seen."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.1
        while True:
            w = poll
            if deadline is not None:
                w = min(w, max(0.0, deadline - time.monotonic()))
            t0 = time.monotonic()
            st = self.status(job_id, wait=w if w >= 1 else None)
            if on_status:
                on_status(st)
            state = st.get("status")
            if state in TERMINAL_STATES:
                if state != "succeeded":
                    raise JobFailedError(_job_failure_message(job_id, st), job=st)
                return st
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeoutError(f"job {job_id} still {state} after {timeout} s")
            if time.monotonic() - t0 < 0.5:  # the answer did not wait: do not spin
                time.sleep(pause)
                pause = min(pause * 2, 2.0)

    def cancel(self, job_id: str) -> Json:
        """Cancels a queued or running job; returns its status."""
        return self._json("POST", f"/fmu/cancel/{_seg(job_id)}", retry=True)

    def list_jobs(self, state: Optional[str] = None, fmu_id: Optional[str] = None, limit: Optional[int] = None,
                  cursor: Optional[str] = None) -> Json:
        """One page of this account's jobs, newest first: {"items",
        "next_cursor"}; `state` (queued, running, succeeded, failed,
        canceled, timed_out) and `fmu_id` filter."""
        return self._json("GET", "/jobs", query={"state": state, "fmu_id": fmu_id, "limit": limit,
                                                 "cursor": cursor})

    def iter_jobs(self, state: Optional[str] = None, fmu_id: Optional[str] = None,
                  page_size: int = 100) -> Iterator[Json]:
        """Every job of this account (newest first), page after page."""
        yield from self._paginate("/jobs", {"state": state, "fmu_id": fmu_id, "limit": page_size})

    def delete_job(self, job_id: str) -> Json:
        """Stops a job for good: cancels it when it has not finished. (The
        gateway keeps finished jobs' records; DELETE /account/data purges
        everything.)"""
        st = self.status(job_id)
        if st.get("status") in TERMINAL_STATES:
            return st
        return self.cancel(job_id)

    def result_info(self, job_id: str) -> Json:
        """Where the results of a succeeded job are: {url, format, rows,
        size, sha256, expires_at}."""
        return self._json("GET", f"/fmu/results/{_seg(job_id)}")

    def results(self, job_id: str, *, job: Optional[Json] = None) -> Result:
        """The results of a succeeded job, downloaded (SHA-256 checked) and
        parsed into rows."""
        info = self.result_info(job_id)
        raw = self._download_checked(info)
        fmt = str(info.get("format") or "csv")
        text = raw.decode("utf-8")
        rows = parse_csv(text) if fmt == "csv" else parse_json(text)
        return Result(rows, columns=columns_of(text, fmt) or None, job_id=job_id,
                      fmu_id=(job or {}).get("fmu_id"), job=job, info=info, raw=raw, format=fmt)

    def download_results(self, job_id: str, path: PathLike) -> Json:
        """Streams the results of a succeeded job to `path`; returns the
        result info. Raises ResultIntegrityError if the SHA-256 differs."""
        info = self.result_info(job_id)
        path = os.fspath(path)
        h = _HashingWriter(open(path, "wb"))
        try:
            self._request("GET", info["url"], auth=False, sink=h)
        finally:
            h.close()
        _check_digest(info, h.hexdigest())
        return info

    def _download_checked(self, info: Json) -> bytes:
        import io
        buf = io.BytesIO()
        self._request("GET", info["url"], auth=False, sink=buf)
        raw = buf.getvalue()
        _check_digest(info, hashlib.sha256(raw).hexdigest())
        return raw

    def simulate(self, path_or_id: Union[PathLike, str], *, name: Optional[str] = None,
                 wait_timeout: Optional[float] = None, idempotency_key: Optional[str] = None,
                 progress: Optional[Progress] = None, on_status: Optional[Callable[[Json], None]] = None,
                 **options: Any) -> Result:
        """One call: uploads the FMU file if needed (skipped when already
        stored), executes it with `options` (see execute()), waits for the
        job and returns its results (a list of row dicts; `.rows` is the
        same list). `path_or_id` is an .fmu file or a stored FMU's id."""
        body = build_execute_body("", options)  # reject bad options before uploading
        del body
        fmu_id = self._resolve_fmu(path_or_id, name, progress)
        job = self.execute(fmu_id, idempotency_key=idempotency_key, **options)
        job_id = job["job_id"]
        final = job if job.get("status") == "succeeded" else self.wait(job_id, timeout=wait_timeout,
                                                                      on_status=on_status)
        final = dict(final, fmu_id=fmu_id)
        return self.results(job_id, job=final)

    def _resolve_fmu(self, path_or_id: Union[PathLike, str], name: Optional[str],
                     progress: Optional[Progress]) -> str:
        p = os.fspath(path_or_id)
        if os.path.isfile(p):
            return str(self.upload(p, name=name, progress=progress)["fmu_id"])
        if isinstance(path_or_id, str) and path_or_id.startswith("fmu_") and os.sep not in path_or_id:
            return path_or_id
        raise FileNotFoundError(f"{p}: no such FMU file (and not an FMU id like fmu_...)")

    # ---- keys and account ----------------------------------------------

    def list_keys(self) -> List[Json]:
        """This account's API keys (revoked ones included)."""
        return list(self._json("GET", "/keys").get("items", []))

    def create_key(self, scopes: Union[None, str, List[str]] = None, name: Optional[str] = None) -> Json:
        """Creates an API key; its "api_key" is shown only in this answer."""
        body: Json = {}
        if scopes is not None:
            body["scopes"] = scopes
        if name is not None:
            body["name"] = name
        return self._json("POST", "/keys", json_body=body, retry=False)

    def revoke_key(self, key_id: str) -> None:
        """Revokes an API key (its tokens stop working at once)."""
        self._request("DELETE", f"/keys/{_seg(key_id)}")

    def account(self) -> Json:
        """The account: balance (credits), tier, limits..."""
        return self._json("GET", "/account")

    def ledger(self, limit: Optional[int] = None, before_seq: Optional[int] = None, **filters: Any) -> Json:
        """One page of the account's ledger entries, newest first: {"items",
        "next_before_seq"} (pass that as `before_seq` for the next page)."""
        return self._json("GET", "/account/ledger", query=dict(filters, limit=limit, before_seq=before_seq))

    def iter_ledger(self, page_size: int = 100) -> Iterator[Json]:
        """Every ledger entry of the account, newest first."""
        before: Optional[int] = None
        while True:
            page = self.ledger(limit=page_size, before_seq=before)
            yield from page.get("items", [])
            before = page.get("next_before_seq")
            if not before:
                return

    def usage(self, format: str = "json", **filters: Any) -> Any:
        """Metered usage: parsed JSON, or the CSV text with format="csv"."""
        resp = self._request("GET", "/account/usage", query=dict(filters, format=format),
                             headers={"Accept": "text/csv" if format == "csv" else "application/json"})
        return resp.body.decode("utf-8") if format == "csv" else resp.json()

    def delete_account_data(self) -> Json:
        """Deletes every FMU, job result and idempotency key of the account
        (the ledger is kept). Irreversible."""
        return self._json("DELETE", "/account/data") or {}

    def _paginate(self, path: str, query: Dict[str, Any]) -> Iterator[Json]:
        cursor = None
        while True:
            page = self._json("GET", path, query=dict(query, cursor=cursor))
            yield from page.get("items", [])
            cursor = page.get("next_cursor")
            if not cursor:
                return


# ---- helpers -------------------------------------------------------------


def build_execute_body(fmu_id: str, options: Mapping[str, Any]) -> Json:
    """The POST /fmu/execute body for `options` (API names or aliases);
    raises TypeError for an unknown option (naming the closest one)."""
    body: Json = {"fmu_id": fmu_id}
    for key, value in options.items():
        api = OPTION_ALIASES.get(key, key)
        if api not in EXECUTE_OPTIONS:
            near = difflib.get_close_matches(key, list(EXECUTE_OPTIONS) + list(OPTION_ALIASES), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise TypeError(f"unknown simulation option {key!r}{hint}")
        if value is None:
            continue
        if api == "output_variables" and isinstance(value, str):
            value = [value]
        elif api == "output_variables":
            value = list(value)
        elif api == "inputs":
            value = _inputs(value)
        elif api == "start_values":
            value = dict(value)
        body[api] = value
    return body


def _inputs(value: Any) -> Json:
    if isinstance(value, (str, os.PathLike)):
        with open(value, encoding="utf-8") as f:
            return {"csv": f.read()}
    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # a pandas DataFrame
        return {str(c): [float(x) for x in value[c]] for c in value.columns}
    if isinstance(value, list):
        cols: Dict[str, List[Any]] = {}
        for row in value:
            for k, v in row.items():
                cols.setdefault(k, []).append(v)
        return cols
    return dict(value)


def _seg(s: str) -> str:
    return urllib.parse.quote(str(s), safe="")


def _problem(resp: _Response) -> Json:
    try:
        doc = resp.json()
    except (ValueError, UnicodeDecodeError):
        doc = None
    if isinstance(doc, dict):
        return doc
    text = resp.body[:200].decode("utf-8", "replace").strip()
    return {"status": resp.status, "title": f"HTTP {resp.status}", "detail": text} if text else {"status": resp.status}


def _retry_after(value: Optional[str]) -> Optional[float]:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _check_digest(info: Json, got: str) -> None:
    want = info.get("sha256")
    if want and want != got:
        raise ResultIntegrityError(f"results SHA-256 mismatch: expected {want}, got {got}")


def _job_failure_message(job_id: str, st: Json) -> str:
    state = st.get("status")
    err = st.get("error")
    if isinstance(err, dict):
        cls = err.get("error_class") or err.get("class") or err.get("code")
        msg = err.get("detail") or err.get("message")
        if msg and cls and msg.startswith(cls):
            msg = msg[len(cls):].lstrip(": ") or None
        return f"job {job_id} {state}: {cls or 'error'}{': ' + msg if msg else ''}"
    if err:
        return f"job {job_id} {state}: {err}"
    return f"job {job_id} {state}"


class _HashingWriter:
    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self._h = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self._h.update(data)
        return self._f.write(data)

    def hexdigest(self) -> str:
        return self._h.hexdigest()

    def close(self) -> None:
        self._f.close()


def simulate(path_or_id: Union[PathLike, str], **options: Any) -> Result:
    """fmugw.simulate(...) = fmugw.Client().simulate(...) with the default
    configuration."""
    return Client().simulate(path_or_id, **options)

"""fmugw - the Python SDK of FMU Gateway (standard library only).

    import fmugw
    result = fmugw.Client().simulate("model.fmu", stop_time=3.0)
    print(result.rows[-1])          # {'time': 3.0, 'h': ..., 'v': ...}
    df = result.to_pandas()         # when pandas is installed

See Client for every operation and fmugw.errors for the exceptions.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .config import Settings, config_path, read_profiles, resolve, save_profile  # noqa: E402
from .errors import (AuthError, ConfigError, ConflictError, FmuGatewayError, FmuRejectedError,  # noqa: E402
                     InsufficientCreditsError, JobFailedError, NetworkError, NotFoundError, RateLimitedError,
                     ResultIntegrityError, ServerError, ValidationError)
from .results import Result, parse_csv  # noqa: E402
from .client import Client, WaitTimeoutError, build_execute_body, sha256_file, simulate  # noqa: E402

configure = save_profile

__all__ = [
    "Client", "Result", "Settings", "simulate", "configure", "save_profile", "read_profiles", "resolve",
    "config_path", "build_execute_body", "sha256_file", "parse_csv",
    "FmuGatewayError", "ConfigError", "AuthError", "NotFoundError", "InsufficientCreditsError",
    "RateLimitedError", "ConflictError", "ValidationError", "FmuRejectedError", "JobFailedError",
    "NetworkError", "ServerError", "ResultIntegrityError", "WaitTimeoutError", "__version__",
]

"""Shared helpers of the SDK tests (standard library only).

Live tests need a running gateway: FMUGW_BASE_URL and FMUGW_API_KEY (an
account with every scope, e.g. the first-start admin key), as set by
tests/integration/sdk_python.sh. Without them they are skipped, unless
FMUGW_SDK_LIVE=1 says a gateway was meant to be there (then they fail).
FMUGW_FMU_DIR is the directory of the built sample FMUs (2.0/, 3.0/).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import unittest
import uuid
import zipfile
from typing import Dict, Iterator, Optional

LIVE = bool(os.environ.get("FMUGW_BASE_URL") and os.environ.get("FMUGW_API_KEY"))
BASE_URL = os.environ.get("FMUGW_BASE_URL", "")
API_KEY = os.environ.get("FMUGW_API_KEY", "")
FMU_DIR = os.environ.get("FMUGW_FMU_DIR", "")
TOKEN_TTL = float(os.environ.get("FMUGW_IT_TOKEN_TTL", "0") or 0)
REQUIRE_JOBS = os.environ.get("FMUGW_SDK_REQUIRE_JOBS") == "1"


def live(cls: type) -> type:
    """Class decorator: skip without a gateway (fail if one was promised)."""
    if LIVE:
        return cls
    if os.environ.get("FMUGW_SDK_LIVE") == "1":
        raise RuntimeError("FMUGW_SDK_LIVE=1 but FMUGW_BASE_URL / FMUGW_API_KEY are not set")
    return unittest.skip("no gateway: set FMUGW_BASE_URL and FMUGW_API_KEY")(cls)


def sample(name: str = "BouncingBall", version: str = "2.0") -> str:
    path = os.path.join(FMU_DIR, version, name + ".fmu")
    if not os.path.isfile(path):
        raise unittest.SkipTest(f"sample FMU {path} not built (FMUGW_FMU_DIR)")
    return path


def unique_copy(src: str, directory: str) -> str:
    """A copy of an FMU with a unique zip comment: same model, new SHA-256
    (so that an upload is really new for this account)."""
    dst = os.path.join(directory, f"{uuid.uuid4().hex[:8]}-{os.path.basename(src)}")
    shutil.copyfile(src, dst)
    with zipfile.ZipFile(dst, "a") as z:
        z.comment = uuid.uuid4().hex.encode()
    return dst


def broken_fmu(directory: str) -> str:
    """A zip whose modelDescription.xml is not XML (rejected by validation)."""
    path = os.path.join(directory, f"broken-{uuid.uuid4().hex[:8]}.fmu")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("modelDescription.xml", "<fmiModelDescription this is not xml")
    return path


@contextlib.contextmanager
def environ(**values: Optional[str]) -> Iterator[None]:
    """Temporarily sets (str) or removes (None) environment variables."""
    saved: Dict[str, Optional[str]] = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def temp_home() -> Iterator[str]:
    """A private, empty HOME (the config file lives there) with the gateway
    variables unset."""
    home = tempfile.mkdtemp(prefix="fmugw-home-")
    try:
        with environ(HOME=home, FMUGW_BASE_URL=None, FMUGW_API_KEY=None, FMUGW_PROFILE=None):
            yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)

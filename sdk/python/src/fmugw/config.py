"""Client configuration: ~/.fmu_gateway/config and the environment.

The file is shared with the `fmugw` CLI and the other SDKs. It is INI-style
with one section per named profile::

    [default]
    base_url = https://gateway.example.com
    api_key = fmugw_live_...

Precedence, per setting: explicit arguments > FMUGW_BASE_URL / FMUGW_API_KEY
> the profile (argument, else FMUGW_PROFILE, else "default") in the file.
The file holds a secret: it is written with mode 0600 (its directory 0700)
and refused with a ConfigError when group or others can read it.
"""
from __future__ import annotations

import configparser
import os
import stat
from dataclasses import dataclass
from typing import Dict, Optional

from .errors import ConfigError

DEFAULT_BASE_URL = "http://127.0.0.1:8080"


def config_path() -> str:
    """The config file: $HOME/.fmu_gateway/config."""
    return os.path.join(os.path.expanduser("~"), ".fmu_gateway", "config")


@dataclass(frozen=True)
class Settings:
    """The resolved settings of one client."""

    base_url: str
    api_key: str
    profile: str


def read_profiles(path: Optional[str] = None) -> Dict[str, Dict[str, str]]:
    """All profiles of the config file ({} if it does not exist). Raises
    ConfigError if group or others can read it, or if it cannot be parsed."""
    path = path or config_path()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from e
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{path} is accessible by group or others (mode {stat.S_IMODE(st.st_mode):04o}): it holds an API "
            f"key; run `chmod 600 {path}` and consider revoking the key")
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f)
    except (configparser.Error, OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot parse {path}: {e}") from e
    return {name: dict(parser.items(name)) for name in parser.sections()}


def resolve(base_url: Optional[str] = None, api_key: Optional[str] = None,
            profile: Optional[str] = None, path: Optional[str] = None) -> Settings:
    """The settings a Client uses (see the module comment for the
    precedence). The file is only read when the arguments and environment
    do not give both values, or when a profile is named explicitly."""
    env_url = os.environ.get("FMUGW_BASE_URL") or None
    env_key = os.environ.get("FMUGW_API_KEY") or None
    named = profile or os.environ.get("FMUGW_PROFILE") or None
    name = named or "default"
    url = base_url or env_url
    key = api_key or env_key
    if not (url and key) or profile:
        profiles = read_profiles(path)
        if named and name not in profiles and not (url and key):
            raise ConfigError(f"no profile [{name}] in {path or config_path()}")
        section = profiles.get(name, {})
        url = url or section.get("base_url")
        key = key or section.get("api_key")
    if not key:
        raise ConfigError(
            "no API key: pass api_key=, set FMUGW_API_KEY, or run `fmugw configure` "
            f"(writes {path or config_path()})")
    url = (url or DEFAULT_BASE_URL).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"base URL {url!r} must start with http:// or https://")
    return Settings(base_url=url, api_key=key, profile=name)


def save_profile(base_url: str, api_key: str, profile: str = "default", path: Optional[str] = None) -> str:
    """Writes (or replaces) one profile in the config file, keeping the
    others; the file is created 0600 in a 0700 directory. Returns its path."""
    path = path or config_path()
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    parser = configparser.ConfigParser(interpolation=None)
    for name, values in read_profiles(path).items():
        parser[name] = values
    parser[profile] = {"base_url": base_url.rstrip("/"), "api_key": api_key}
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            parser.write(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path

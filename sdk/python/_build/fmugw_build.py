"""fmugw_build - a tiny in-tree PEP 517 build backend (standard library only).

It exists so that `pip install ./sdk/python` works offline, even in a fresh
virtual environment whose pip would otherwise try to download setuptools
into an isolated build environment. It packs src/fmugw into a pure-Python
wheel (and an sdist); the metadata comes from the [project] table of
pyproject.toml, read with a minimal TOML subset parser (tomllib is only in
Python 3.11+).
"""
from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile
from typing import Any, Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAG = "py3-none-any"


def _parse_value(text: str) -> Any:
    text = text.strip()
    if text.startswith('"') and text.endswith('"'):
        return text[1:-1]
    if text.startswith("[") and text.endswith("]"):
        return re.findall(r'"([^"]*)"', text)
    if text.startswith("{") and text.endswith("}"):
        return dict(re.findall(r'(\w+)\s*=\s*"([^"]*)"', text))
    return text


def _project() -> Dict[str, Any]:
    """The [project] table of pyproject.toml (strings, lists of strings,
    inline tables of strings; multi-line arrays allowed)."""
    out: Dict[str, Any] = {}
    section = None
    pending: Optional[Tuple[str, str]] = None
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip()
            if line.lstrip().startswith("#"):
                continue
            if pending:
                key, acc = pending
                acc += " " + line.strip()
                if line.strip().endswith("]"):
                    out[key] = _parse_value(acc)
                    pending = None
                else:
                    pending = (key, acc)
                continue
            m = re.match(r"^\[(.+)\]$", line.strip())
            if m:
                section = m.group(1)
                continue
            if section != "project" or "=" not in line:
                continue
            key, value = (s.strip() for s in line.split("=", 1))
            if value.startswith("[") and not value.endswith("]"):
                pending = (key, value)
            else:
                out[key] = _parse_value(value)
    return out


def _dist_name(p: Dict[str, Any]) -> str:
    return re.sub(r"[-_.]+", "_", p["name"]).lower()


def _metadata(p: Dict[str, Any]) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {p['name']}", f"Version: {p['version']}"]
    if "description" in p:
        lines.append(f"Summary: {p['description']}")
    if "requires-python" in p:
        lines.append(f"Requires-Python: {p['requires-python']}")
    lic = p.get("license")
    if isinstance(lic, dict) and "text" in lic:
        lines.append(f"License: {lic['text']}")
    for c in p.get("classifiers", []):
        lines.append(f"Classifier: {c}")
    lines.append("Provides-Extra: pandas")
    lines.append('Requires-Dist: pandas; extra == "pandas"')
    body = ""
    readme = os.path.join(ROOT, "README.md")
    if os.path.exists(readme):
        lines.append("Description-Content-Type: text/markdown")
        with open(readme, encoding="utf-8") as f:
            body = f.read()
    return "\n".join(lines) + "\n\n" + body


def _package_files() -> List[Tuple[str, str]]:
    """(path on disk, path in the wheel) of every file of the package."""
    files = []
    src = os.path.join(ROOT, "src")
    for dirpath, dirnames, filenames in os.walk(os.path.join(src, "fmugw")):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith((".py", ".typed")):
                full = os.path.join(dirpath, name)
                files.append((full, os.path.relpath(full, src).replace(os.sep, "/")))
    return files


def _record_line(arcname: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def _dist_info_files(p: Dict[str, Any]) -> Dict[str, bytes]:
    return {
        "METADATA": _metadata(p).encode(),
        "WHEEL": (f"Wheel-Version: 1.0\nGenerator: fmugw_build\nRoot-Is-Purelib: true\nTag: {TAG}\n").encode(),
        "top_level.txt": b"fmugw\n",
    }


def _write_wheel(wheel_directory: str, editable: bool) -> str:
    p = _project()
    name, version = _dist_name(p), p["version"]
    dist_info = f"{name}-{version}.dist-info"
    wheel_name = f"{name}-{version}-{TAG}.whl"
    records: List[str] = []
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel_name), "w", zipfile.ZIP_DEFLATED) as z:

        def add(arcname: str, data: bytes) -> None:
            info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
            records.append(_record_line(arcname, data))

        if editable:
            add(f"__editable__.{name}.pth", (os.path.join(ROOT, "src") + "\n").encode())
        else:
            for full, arcname in _package_files():
                with open(full, "rb") as f:
                    add(arcname, f.read())
        for fname, data in _dist_info_files(p).items():
            add(f"{dist_info}/{fname}", data)
        records.append(f"{dist_info}/RECORD,,")
        z.writestr(f"{dist_info}/RECORD", "\n".join(records) + "\n")
    return wheel_name


# ---- PEP 517 / PEP 660 hooks ------------------------------------------------


def get_requires_for_build_wheel(config_settings: Optional[dict] = None) -> List[str]:
    return []


def get_requires_for_build_sdist(config_settings: Optional[dict] = None) -> List[str]:
    return []


def get_requires_for_build_editable(config_settings: Optional[dict] = None) -> List[str]:
    return []


def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: Optional[dict] = None) -> str:
    p = _project()
    dist_info = f"{_dist_name(p)}-{p['version']}.dist-info"
    os.makedirs(os.path.join(metadata_directory, dist_info), exist_ok=True)
    for fname, data in _dist_info_files(p).items():
        with open(os.path.join(metadata_directory, dist_info, fname), "wb") as f:
            f.write(data)
    return dist_info


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory: str, config_settings: Optional[dict] = None,
                metadata_directory: Optional[str] = None) -> str:
    return _write_wheel(wheel_directory, editable=False)


def build_editable(wheel_directory: str, config_settings: Optional[dict] = None,
                   metadata_directory: Optional[str] = None) -> str:
    return _write_wheel(wheel_directory, editable=True)


def build_sdist(sdist_directory: str, config_settings: Optional[dict] = None) -> str:
    p = _project()
    base = f"{_dist_name(p)}-{p['version']}"
    name = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz", format=tarfile.PAX_FORMAT) as t:
        paths = ["pyproject.toml", "README.md", "_build/fmugw_build.py"]
        paths += [os.path.relpath(full, ROOT) for full, _ in _package_files()]
        for rel in paths:
            full = os.path.join(ROOT, rel)
            if os.path.exists(full):
                t.add(full, arcname=f"{base}/{rel}")
        pkg_info = _metadata(p).encode()
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        info.size = len(pkg_info)
        t.addfile(info, io.BytesIO(pkg_info))
    return name

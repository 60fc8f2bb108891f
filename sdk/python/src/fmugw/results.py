"""Simulation results: parsing the CSV/JSON the gateway returns into rows.

A `Result` is a list of rows (each a dict column -> value, numbers as float,
booleans as bool) with the job's metadata attached; `result.rows` is the
same list. With pandas installed, `result.to_pandas()` (alias
`dataframe()`) gives a DataFrame.
"""
from __future__ import annotations

import csv
import io
import json
from typing import Any, Dict, Iterable, List, Optional

Row = Dict[str, Any]


def _value(text: str) -> Any:
    if text == "":
        return None
    low = text.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    try:
        return float(text)
    except ValueError:
        return text


def parse_csv(text: str) -> List[Row]:
    """Rows of a results CSV (first line: the column names)."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        return []
    return [{name: _value(cell) for name, cell in zip(header, line)} for line in reader if line]


def parse_json(text: str) -> List[Row]:
    """Rows of a results JSON document: a list of row objects, or an object
    with "rows" (list of objects, or list of lists with "columns"), or with
    one array per column."""
    doc = json.loads(text)
    if isinstance(doc, list):
        return [dict(r) for r in doc]
    if isinstance(doc, dict):
        rows = doc.get("rows")
        cols = doc.get("columns") or doc.get("names")
        if isinstance(rows, list):
            if rows and isinstance(rows[0], list) and isinstance(cols, list):
                return [dict(zip(cols, r)) for r in rows]
            return [dict(r) for r in rows]
        series = doc.get("data") if isinstance(doc.get("data"), dict) else doc
        if series and all(isinstance(v, list) for v in series.values()):
            names = list(series)
            n = len(series[names[0]])
            return [{k: series[k][i] for k in names} for i in range(n)]
    raise ValueError("unrecognised results JSON layout")


class Result(List[Row]):
    """The rows of one job's results (a list of dicts), with metadata.

    Attributes: rows (this list), columns (names in file order), job_id,
    fmu_id, job (the final job status), info (the /fmu/results answer),
    raw (the bytes as downloaded), format ("csv" or "json").
    """

    def __init__(self, rows: Iterable[Row], *, columns: Optional[List[str]] = None, job_id: Optional[str] = None,
                 fmu_id: Optional[str] = None, job: Optional[Dict[str, Any]] = None,
                 info: Optional[Dict[str, Any]] = None, raw: bytes = b"", format: str = "csv") -> None:
        super().__init__(rows)
        self.columns: List[str] = list(columns) if columns is not None else (list(self[0]) if self else [])
        self.job_id = job_id
        self.fmu_id = fmu_id
        self.job: Dict[str, Any] = dict(job or {})
        self.info: Dict[str, Any] = dict(info or {})
        self.raw = raw
        self.format = format

    @property
    def rows(self) -> "Result":
        """The list of rows (this object itself)."""
        return self

    @property
    def credits_charged(self) -> Optional[float]:
        """Credits the job cost, when the gateway reported it."""
        v = self.job.get("credits_charged")
        return float(v) if isinstance(v, (int, float)) else None

    def column(self, name: str) -> List[Any]:
        """One column's values, in row order."""
        return [r.get(name) for r in self]

    def to_pandas(self) -> Any:
        """A pandas DataFrame of the rows (needs pandas installed)."""
        try:
            import pandas  # type: ignore[import-not-found]
        except ImportError as e:
            raise ImportError("Result.to_pandas() needs pandas: pip install pandas") from e
        return pandas.DataFrame(list(self), columns=self.columns or None)

    dataframe = to_pandas

    def save(self, path: str) -> None:
        """Writes the results exactly as downloaded."""
        with open(path, "wb") as f:
            f.write(self.raw)

    def __repr__(self) -> str:
        return f"<fmugw.Result job_id={self.job_id!r} rows={len(self)} columns={self.columns!r}>"


def columns_of(text: str, fmt: str) -> List[str]:
    """The column names of a results document (CSV header)."""
    if fmt == "csv":
        first = next(csv.reader(io.StringIO(text)), [])
        return list(first)
    return []

#!/usr/bin/env python3
"""compare_results.py - regression check of simulation results (stdlib only).

Compares a results CSV against a committed baseline CSV, column by column,
row by row: a value passes when

    |result - baseline| <= atol + rtol * |baseline|

(the rule of numpy.isclose). Tolerances are global (--rtol, --atol) or per
column (--tol NAME=RTOL[,ATOL], repeatable). Columns in the baseline but
not in the results, a different number of rows, or a different time grid
are drift too. Text cells (booleans, strings) must be equal.

    python3 compare_results.py baseline.csv results.csv --rtol 1e-6 --atol 1e-9 --tol h=1e-4

Prints a table (column, max abs error, max rel error, failing rows, first
failure) and, when GITHUB_STEP_SUMMARY is set (GitHub Actions), appends
the same table there as Markdown.

Exit status: 0 within tolerance, 1 drift, 2 usage error or unreadable file.
"""
from __future__ import annotations

import argparse
import csv
import math
import os
import sys
from typing import Dict, List, Optional, Tuple


def read_csv(path: str) -> Tuple[List[str], List[List[str]]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f) if r]
    if not rows:
        raise ValueError(f"{path}: empty file (no header)")
    header, body = rows[0], rows[1:]
    for i, r in enumerate(body):
        if len(r) != len(header):
            raise ValueError(f"{path}: row {i + 2} has {len(r)} cells, the header {len(header)}")
    return header, body


def number(text: str) -> Optional[float]:
    try:
        return float(text)
    except ValueError:
        return None


class ColumnReport:
    def __init__(self, name: str, rtol: float, atol: float) -> None:
        self.name, self.rtol, self.atol = name, rtol, atol
        self.max_abs = 0.0
        self.max_rel = 0.0
        self.failures = 0
        self.first: Optional[str] = None
        self.missing = False

    def check(self, row: int, time: str, base: str, got: str) -> None:
        b, g = number(base), number(got)
        if b is None or g is None:
            ok = base.strip() == got.strip()
            err = 0.0 if ok else math.inf
            rel = err
        elif math.isnan(b) or math.isnan(g):
            ok = math.isnan(b) and math.isnan(g)
            err = rel = 0.0 if ok else math.inf
        else:
            err = abs(g - b)
            rel = err / abs(b) if b != 0 else (0.0 if err == 0 else math.inf)
            ok = err <= self.atol + self.rtol * abs(b)
        self.max_abs = max(self.max_abs, err)
        if err > self.atol:  # relative error only matters above the absolute floor
            self.max_rel = max(self.max_rel, rel)
        if not ok:
            self.failures += 1
            if self.first is None:
                self.first = f"row {row} (time {time}): baseline {base}, result {got}"

    @property
    def ok(self) -> bool:
        return not self.missing and self.failures == 0


def parse_tols(specs: List[str]) -> Dict[str, Tuple[float, Optional[float]]]:
    out: Dict[str, Tuple[float, Optional[float]]] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        if not sep or not name:
            raise ValueError(f"--tol {spec!r}: expected NAME=RTOL[,ATOL]")
        parts = value.split(",")
        if len(parts) > 2:
            raise ValueError(f"--tol {spec!r}: expected NAME=RTOL[,ATOL]")
        out[name] = (float(parts[0]), float(parts[1]) if len(parts) == 2 else None)
    return out


def fmt(x: float) -> str:
    return "inf" if math.isinf(x) else f"{x:.3g}"


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description="Compare simulation results against a baseline CSV.")
    ap.add_argument("baseline", help="the committed baseline CSV")
    ap.add_argument("results", help="the new results CSV")
    ap.add_argument("--rtol", type=float, default=1e-6, help="relative tolerance (default 1e-6)")
    ap.add_argument("--atol", type=float, default=1e-9, help="absolute tolerance (default 1e-9)")
    ap.add_argument("--tol", action="append", default=[], metavar="NAME=RTOL[,ATOL]",
                    help="tolerance of one column (repeatable)")
    ap.add_argument("--columns", help="compare only these columns (comma-separated; default: all of the baseline)")
    args = ap.parse_args(argv)

    try:
        per_column = parse_tols(args.tol)
        base_header, base_rows = read_csv(args.baseline)
        new_header, new_rows = read_csv(args.results)
    except (OSError, ValueError) as e:
        print(f"compare_results: {e}", file=sys.stderr)
        return 2
    if args.rtol < 0 or args.atol < 0:
        print("compare_results: tolerances must be >= 0", file=sys.stderr)
        return 2

    columns = args.columns.split(",") if args.columns else base_header
    unknown = [c for c in list(per_column) + columns if c not in base_header]
    if unknown:
        print(f"compare_results: not a baseline column: {', '.join(sorted(set(unknown)))}", file=sys.stderr)
        return 2

    problems: List[str] = []
    if len(new_rows) != len(base_rows):
        problems.append(f"row count: baseline {len(base_rows)}, results {len(new_rows)}")
    extra = [c for c in new_header if c not in base_header]
    if extra:
        print(f"note: columns not in the baseline (not compared): {', '.join(extra)}")

    time_col = base_header[0]
    reports: List[ColumnReport] = []
    for name in columns:
        rtol, atol = per_column.get(name, (args.rtol, None))
        rep = ColumnReport(name, rtol, args.atol if atol is None else atol)
        reports.append(rep)
        if name not in new_header:
            rep.missing = True
            problems.append(f"column {name!r} missing from the results")
            continue
        bi, ni = base_header.index(name), new_header.index(name)
        for i, (b, n) in enumerate(zip(base_rows, new_rows)):
            rep.check(i + 1, b[0], b[bi], n[ni])
    # the time grid must match whether or not time is among the compared columns
    if time_col in new_header and time_col not in columns:
        ti = new_header.index(time_col)
        for i, (b, n) in enumerate(zip(base_rows, new_rows)):
            if number(b[0]) != number(n[ti]):
                problems.append(f"time grid differs at row {i + 1}: baseline {b[0]}, results {n[ti]}")
                break

    width = max([len("column")] + [len(r.name) for r in reports])
    lines = [f"{'column':<{width}}  {'rtol':>8} {'atol':>8} {'max abs':>9} {'max rel':>9} {'failing':>8}  first failure"]
    for r in reports:
        status = "MISSING" if r.missing else str(r.failures)
        lines.append(f"{r.name:<{width}}  {fmt(r.rtol):>8} {fmt(r.atol):>8} {fmt(r.max_abs):>9} "
                     f"{fmt(r.max_rel):>9} {status:>8}  {r.first or ''}")
    print("\n".join(lines))
    drifted = [r.name for r in reports if not r.ok]
    verdict = ("OK: results match the baseline within tolerance" if not drifted and not problems else
               "DRIFT: " + "; ".join(problems + ([f"out of tolerance: {', '.join(drifted)}"] if drifted else [])))
    print(verdict)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as f:
            f.write("### Simulation regression\n\n| column | rtol | atol | max abs | max rel | failing | first failure |\n"
                    "|---|---|---|---|---|---|---|\n")
            for r in reports:
                f.write(f"| {r.name} | {fmt(r.rtol)} | {fmt(r.atol)} | {fmt(r.max_abs)} | {fmt(r.max_rel)} | "
                        f"{'MISSING' if r.missing else r.failures} | {r.first or ''} |\n")
            f.write(f"\n**{verdict}**\n")
    return 0 if not drifted and not problems else 1


if __name__ == "__main__":
    sys.exit(main())

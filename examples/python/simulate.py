#!/usr/bin/env python3
"""simulate.py - run an FMU on FMU Gateway with the Python SDK and save the
results as CSV.

    export FMUGW_BASE_URL=http://127.0.0.1:8080 FMUGW_API_KEY=fmugw_live_...
    python3 examples/python/simulate.py model.fmu --stop-time 3 -o results.csv
    python3 examples/python/simulate.py fmu_0123abcd... --start-value h=2 --output-variable h

Install the SDK first: `pip install ./sdk/python` (in a venv).
Exit status: 0 ok, 1 the job failed, 2 usage or request error, 3 auth or
configuration error, 4 insufficient credits, 5 network error.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, List, Optional

import fmugw


def start_value(text: str) -> Any:
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description="Simulate an FMU on FMU Gateway.")
    ap.add_argument("model", help="an .fmu file or the id of a stored FMU")
    ap.add_argument("--stop-time", type=float)
    ap.add_argument("--start-time", type=float)
    ap.add_argument("--output-interval", type=float)
    ap.add_argument("--start-value", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--output-variable", action="append", default=[], metavar="NAME")
    ap.add_argument("--profile", help="profile of ~/.fmu_gateway/config")
    ap.add_argument("-o", "--output", help="write the results CSV here (default: print a summary)")
    args = ap.parse_args(argv)

    options: Dict[str, Any] = {"stop_time": args.stop_time, "start_time": args.start_time,
                               "output_interval": args.output_interval}
    if args.start_value:
        options["start_values"] = {k: start_value(v) for k, _, v in (s.partition("=") for s in args.start_value)}
    if args.output_variable:
        options["output_variables"] = args.output_variable

    def progress(status: Dict[str, Any]) -> None:
        print(f"job {status.get('job_id')}: {status.get('status')}", file=sys.stderr)

    try:
        client = fmugw.Client(profile=args.profile)
        result = client.simulate(args.model, on_status=progress, **options)
    except fmugw.JobFailedError as e:
        print(f"error: {e} ({e.error_class})", file=sys.stderr)
        return 1
    except (fmugw.AuthError, fmugw.ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    except fmugw.InsufficientCreditsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 4
    except fmugw.NetworkError as e:
        print(f"error: {e}", file=sys.stderr)
        return 5
    except (fmugw.FmuGatewayError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    if args.output:
        result.save(args.output)
        print(f"{len(result.rows)} rows -> {args.output}", file=sys.stderr)
    else:
        print(f"{len(result.rows)} rows, columns {', '.join(result.columns)}")
        for row in (result.rows[0], result.rows[-1]):
            print("  " + ", ".join(f"{k}={v}" for k, v in row.items()))
    if result.credits_charged is not None:
        print(f"{result.credits_charged} credits charged", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

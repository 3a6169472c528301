"""``python -m app.monitor``: the scheduled drift job (also a spark-submit entry point on EMR, Databricks, Dataproc).

    python -m app.monitor --capture URI --reference URI --output URI [--window-hours 24] [--end ISO]
        [--ground-truth URI] [--publish aws|azure|gcp|none] [--dimension Stack=tricloud-aws-dev]
        [--alpha 0.05] [--numeric-effect 0.1] [--categorical-effect 0.1] [--min-rows 200] [--alarm-min-features 1]
        [--azure-region R --azure-resource-id ID] [--gcp-project P]

Prints the summary as one JSON line. Exit 0 after a run (drift or not: alarms read the metrics), 2 on bad arguments
or a capture that does not match the reference, 1 when the lake cannot be read or written.
"""

from __future__ import annotations

import argparse
import json
import sys

from app.monitor.drift import Thresholds
from app.monitor.job import JobArgs, JobError, parse_time, run
from app.monitor.profile import SchemaMismatch
from app.monitor.publish import aws_publisher, azure_publisher, gcp_publisher
from app.monitor.storage import StorageError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m app.monitor", description=__doc__.split("\n")[0])
    p.add_argument("--capture", required=True, help="capture root (prefix URI or folder)")
    p.add_argument("--reference", required=True, help="reference.json, or a prefix of <model version>.json")
    p.add_argument("--output", required=True, help="reports prefix URI or folder")
    p.add_argument("--window-hours", type=float, default=24.0)
    p.add_argument("--end", help="window end, ISO 8601 (default: now)")
    p.add_argument("--ground-truth", help="prefix of ground-truth files (request_id,row,price_inr)")
    p.add_argument("--publish", choices=("aws", "azure", "gcp", "none"), default="none")
    p.add_argument("--dimension", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--alpha", type=float, default=Thresholds.alpha)
    p.add_argument("--numeric-effect", type=float, default=Thresholds.numeric_effect)
    p.add_argument("--categorical-effect", type=float, default=Thresholds.categorical_effect)
    p.add_argument("--min-rows", type=int, default=Thresholds.min_rows)
    p.add_argument("--alarm-min-features", type=int, default=Thresholds.alarm_min_features)
    p.add_argument("--max-mape-increase", type=float, default=0.25)
    p.add_argument("--azure-region")
    p.add_argument("--azure-resource-id")
    p.add_argument("--gcp-project")
    return p


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    try:
        dims = dict(d.split("=", 1) for d in a.dimension)
    except ValueError:
        print(f"--dimension must be NAME=VALUE, got {a.dimension!r}", file=sys.stderr)
        return 2
    publish = None
    if a.publish == "aws":
        publish = aws_publisher()
    elif a.publish == "azure":
        if not (a.azure_region and a.azure_resource_id):
            print("--publish azure needs --azure-region and --azure-resource-id", file=sys.stderr)
            return 2
        publish = azure_publisher(a.azure_region, a.azure_resource_id)
    elif a.publish == "gcp":
        if not a.gcp_project:
            print("--publish gcp needs --gcp-project", file=sys.stderr)
            return 2
        publish = gcp_publisher(a.gcp_project)
    try:
        args = JobArgs(
            capture=a.capture, reference=a.reference, output=a.output, window_hours=a.window_hours,
            end=parse_time(a.end) if a.end else None, ground_truth=a.ground_truth,
            thresholds=Thresholds(a.alpha, a.numeric_effect, a.categorical_effect, a.min_rows,
                                  a.alarm_min_features),
            max_mape_increase=a.max_mape_increase, publish=publish, dimensions=dims,
        )  # fmt: skip
        args.thresholds.check()
        summary = run(args)
    except (ValueError, SchemaMismatch, JobError) as exc:
        print(f"drift job: {exc}", file=sys.stderr)
        return 2
    except StorageError as exc:
        print(f"drift job: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({k: summary.get(k) for k in ("status", "alarm", "rows", "drifted_features", "outputs")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark of the offline delivery scenario (`tricloud model demo aws`): median phase and step times over runs.

    .venv/bin/python benchmarks/delivery.py [--runs 3] [--rows 5000]

Each run is the whole scenario as `make delivery-demo` runs it, in its own process (an in-process moto keeps its
backends for the life of the process: a second run in the same one would find the first run's registry and
serving record): the platform (apply, data, Spark, train, serve, gateway, first prediction), then versions 1 and
2 through the emulated canary, the far worse model refused at approval and the broken serving image rolled back at
canary (docs/model-delivery.md). The named peer, measured in the same runs: the platform part alone, which is what
the plain `tricloud emulate aws` does up to its first prediction, so the ratio is what the delivery adds. Time is
compressed by TRICLOUD_TIME_FACTOR (default 60); the canary's waits are emulated minutes, so they scale with it.
The goal is under 90 s for the whole scenario including Spark. Measured results: docs/model-delivery.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tricloud.emulate.cloudwatch import time_factor

ROOT = Path(__file__).resolve().parents[1]

PLATFORM_PHASES = ("apply", "data", "spark", "train", "serve", "gateway", "first prediction")


def one_run(rows: int) -> tuple[float, dict]:
    """`tricloud model demo aws --json` in a fresh process: (wall seconds, its JSON document)."""
    with tempfile.TemporaryDirectory(prefix="tricloud-bench-") as state:
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "tricloud", "model", "demo", "aws", "--rows", str(rows), "--json"],
            cwd=ROOT,
            env={**os.environ, "TRICLOUD_STATE_DIR": state},
            capture_output=True,
            text=True,
            timeout=3600,
        )
        total = time.perf_counter() - started
    if not out.stdout.strip().startswith("{"):
        raise SystemExit(f"the demo printed no JSON (exit {out.returncode}):\n{out.stderr[-3000:]}")
    return total, json.loads(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    rows: dict[str, list[float]] = {}
    totals, platforms, loads, ok = [], [], [], 0
    for run in range(args.runs):
        loads.append(os.getloadavg()[0])
        total, result = one_run(args.rows)
        totals.append(total)
        platforms.append(result["timings"]["platform"])
        ok += bool(result["ok"])
        for phase in PLATFORM_PHASES:
            rows.setdefault(f"platform: {phase}", []).append(result["timings"].get(phase, float("nan")))
        for s in result["steps"]:
            rows.setdefault(s["name"], []).append(s["seconds"])
        print(f"run {run + 1}/{args.runs}: {total:.1f} s, as expected: {result['ok']}", file=sys.stderr)
        if not result["ok"]:  # what went otherwise: the steps, the serving label, the steady client's answers
            for s in result["steps"]:
                if not s["as_expected"]:
                    print(f"  {s['name']}: {s['outcome']} (expected {s['expected']}): {s['summary'][:300]}",
                          file=sys.stderr)  # fmt: skip
            print(
                f"  serving {result['serving']} (expected {result['expected_serving']}); steady client "
                f"{result['steady_client']}; outside the broken canary "
                f"{result['steady_client_outside_broken_canary']}",
                file=sys.stderr,
            )
    loads.append(os.getloadavg()[0])

    def median(values: list[float]) -> str:
        return f"{statistics.median(values):.2f}"

    factor = time_factor()
    print(
        f"\n`tricloud model demo aws`, {args.rows} rows, time factor {factor:g} "
        f"(TRICLOUD_TIME_FACTOR={os.environ.get('TRICLOUD_TIME_FACTOR', 'unset')}), median of {args.runs} runs, "
        f"{ok}/{args.runs} runs as expected, 1-minute load average {min(loads):.1f}-{max(loads):.1f}\n"
    )
    print("| phase / step | median s |\n|---|---:|")
    for name, values in rows.items():
        print(f"| {name} | {median(values)} |")
    delivery = [t - p for t, p in zip(totals, platforms, strict=True)]
    print("\n| | median s | ratio to the peer |\n|---|---:|---:|")
    print(
        f"| peer: the platform to its first prediction (`tricloud emulate aws`) | {median(platforms)} | 1.00 |"
    )
    print(f"| the deliveries (2 promoted, 1 refused, 1 rolled back) | {median(delivery)} | "
          f"{statistics.median(delivery) / statistics.median(platforms):.2f} |")  # fmt: skip
    print(f"| the whole scenario (process start to exit) | {median(totals)} | "
          f"{statistics.median(totals) / statistics.median(platforms):.2f} |")  # fmt: skip
    return 0 if ok == args.runs else 1


if __name__ == "__main__":
    raise SystemExit(main())

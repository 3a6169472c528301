"""Benchmark of the offline delivery scenario (`tricloud model demo aws`): median phase and step times over runs.

    .venv/bin/python benchmarks/delivery.py [--runs 3] [--rows 5000]

Each run is the whole scenario in a fresh in-process moto: the platform (apply, data, Spark, train, serve, gateway,
first prediction), then versions 1 and 2 through the emulated canary, the far worse model refused at approval and
the broken serving image rolled back at canary (docs/model-delivery.md). The named peer, measured in the same
runs: the platform part alone, which is what the plain `tricloud emulate aws` does up to its first prediction, so
the ratio is what the delivery adds. Time is compressed by TRICLOUD_TIME_FACTOR (default 60); the canary's
waits are emulated minutes, so they scale with it. The goal is under 90 s for the whole scenario including Spark.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tricloud.emulate.cloudwatch import time_factor
from tricloud.model.demo import Demo, Step

PLATFORM_PHASES = ("apply", "data", "spark", "train", "serve", "gateway", "first prediction")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    rows: dict[str, list[float]] = {}
    totals, platforms, ok = [], [], 0
    for run in range(args.runs):
        steps: list[Step] = []
        demo = Demo(rows=args.rows, report=lambda line: None, on_step=steps.append)
        started = time.perf_counter()
        result = demo.run()
        total = time.perf_counter() - started
        totals.append(total)
        platforms.append(result.timings["platform"])
        ok += result.ok
        for phase in PLATFORM_PHASES:
            rows.setdefault(f"platform: {phase}", []).append(result.timings.get(phase, float("nan")))
        for s in steps:
            rows.setdefault(s.name, []).append(s.seconds)
        print(f"run {run + 1}/{args.runs}: {total:.1f} s, as expected: {result.ok}", file=sys.stderr)
        if not result.ok:  # what went otherwise: the steps, the serving label, the steady client's answers
            for s in steps:
                if not s.as_expected:
                    print(
                        f"  {s.name}: {s.outcome} (expected {s.expected}): {s.summary[:300]}", file=sys.stderr
                    )
            print(
                f"  serving {result.serving} (expected {result.expected_serving}); steady client "
                f"{result.steady}; outside the broken canary {result.steady_outside_canary}",
                file=sys.stderr,
            )

    def median(values: list[float]) -> str:
        return f"{statistics.median(values):.2f}"

    factor = time_factor()
    load = os.getloadavg()[0]
    print(
        f"\n`tricloud model demo aws`, {args.rows} rows, load average {load:.1f} at the end, time factor {factor:g} "
        f"(TRICLOUD_TIME_FACTOR={os.environ.get('TRICLOUD_TIME_FACTOR', 'unset')}), median of {args.runs} runs, "
        f"{ok}/{args.runs} runs as expected\n"
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
    print(f"| the whole scenario | {median(totals)} | "
          f"{statistics.median(totals) / statistics.median(platforms):.2f} |")  # fmt: skip
    return 0 if ok == args.runs else 1


if __name__ == "__main__":
    raise SystemExit(main())

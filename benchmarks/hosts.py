"""The offline Azure and GCP serving halves: phase times, and a prediction's latency through each real host.

    .venv/bin/python benchmarks/hosts.py [--runs 3] [--requests 200]

For each cloud it runs `tricloud emulate <cloud>`'s phases (`--runs` times, median per phase), then sends
`--requests` single-listing predictions one after another, interleaved, through the front-end under its host (the
Azure Functions Python worker behind the host stand-in; functions-framework) and, as the peer, straight to the model
container the front-end calls (same model, same listing, same client). The difference is what the host, the
handler (validation, bounded retries, audit line) and the cloud's endpoint API stand-in add per request.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tricloud.emulate.hosts.azure import AzurePlatform
from tricloud.emulate.hosts.gcp import GcpPlatform
from tricloud.emulate.hosts.platform import SAMPLE, HostPlatform, Options
from tricloud.emulate.hosts.web import call

PHASES = ("inventory", "lake", "data", "train", "serve", "function", "first prediction")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def latencies(platform: HostPlatform, requests: int) -> tuple[list[float], list[float]]:
    """(through the front-end, straight to the container), interleaved so both see the same machine load."""
    container = platform.details["serve"]["container"]
    route = "/invocations" if platform.cloud == "azure" else "/predict"
    body = {"instances": [SAMPLE]}
    front, direct = [], []
    for _ in range(requests):
        started = time.perf_counter()
        status, answer = platform.predict(body)
        front.append((time.perf_counter() - started) * 1000)
        assert status == 200 and answer["fallback"] is False, answer
        started = time.perf_counter()
        status, _, answer = call(container + route, body)
        direct.append((time.perf_counter() - started) * 1000)
        assert status == 200, answer
    return front, direct


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    phase_times: dict[str, dict[str, list[float]]] = {}
    lat: dict[str, tuple[list[float], list[float]]] = {}
    for cloud, cls in (("azure", AzurePlatform), ("gcp", GcpPlatform)):
        phase_times[cloud] = {p: [] for p in (*PHASES, "total")}
        for run in range(args.runs):
            platform = cls(Options(rows=args.rows))
            started = time.perf_counter()
            try:
                platform.run()
                phase_times[cloud]["total"].append(time.perf_counter() - started)
                for p in PHASES:
                    phase_times[cloud][p].append(platform.timings[p])
                if run == args.runs - 1:
                    lat[cloud] = latencies(platform, args.requests)
            finally:
                platform.close()
            print(
                f"{cloud} run {run + 1}/{args.runs}: {phase_times[cloud]['total'][-1]:.1f} s", file=sys.stderr
            )

    print(f"\nphases, median of {args.runs} runs (s; venvs cached)\n")
    print("| phase | azure | gcp |\n|---|---:|---:|")
    for p in (*PHASES, "total"):
        az, gc = (statistics.median(phase_times[c][p]) for c in ("azure", "gcp"))
        print(f"| {p} | {az:.2f} | {gc:.2f} |")
    print(f"\none listing, {args.requests} sequential requests each, interleaved (ms)\n")
    print("| path | p50 | p99 | p50 ratio to the container |\n|---|---:|---:|---:|")
    for cloud, label in (
        ("azure", "Functions worker + host stand-in -> /score -> container"),
        ("gcp", "functions-framework -> Vertex API -> container"),
    ):
        front, direct = lat[cloud]
        ratio = statistics.median(front) / statistics.median(direct)
        print(
            f"| {cloud}: {label} | {percentile(front, 50):.2f} | {percentile(front, 99):.2f} | {ratio:.1f}x |"
        )
        print(
            f"| {cloud}: peer, the container directly | {percentile(direct, 50):.2f} | {percentile(direct, 99):.2f} | 1.0x |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

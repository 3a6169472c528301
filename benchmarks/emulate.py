"""Benchmark of `tricloud emulate aws`: phase timings of full runs with the Spark start-up before and after its
fixed-cost cuts (interleaved, same run), the Spark phase alone from a cold driver, then gateway latency.

    .venv/bin/python benchmarks/emulate.py [--runs 3] [--spark-rounds 3] [--requests 500] [--rate 100]

Phases per run (fresh in-process moto each time, the driver started while the stack is applied, as the CLI does):
apply, data, spark, train, serve, gateway, first prediction; "whole run" is moto's start to the first prediction.
The two Spark set-ups ("before" = no class-data archive and no warm-up, i.e. TRICLOUD_SPARK_CDS=off
TRICLOUD_SPARK_WARMUP=0; "after" = the defaults) alternate run by run, so both see the same machine load. The
cold-driver table hands the job over as soon as the driver is started (the whole fixed cost on the critical path).
Latency: POST /predict through the local gateway (SigV4 verification, payload-v2 event, Lambda worker, boto3
sagemaker-runtime -> shim -> inference server) at a fixed open-loop rate, against the named peer measured in the
same run: the same body POSTed straight to the inference server's /invocations. The ratio is the gateway's overhead.
The stage's throttle (50/s in Pulumi.dev.yaml) is raised for the measurement so 100 requests/s are not 429s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tricloud.emulate.platform import SAMPLE, Options, Platform
from tricloud.engine import Emulator, Engine
from tricloud.engine.emulator import ACCESS_KEY_ID, SECRET_ACCESS_KEY
from tricloud.inventory import stack_config

PHASES = ("apply", "data", "spark", "train", "serve", "gateway", "first prediction")
SETUPS = {  # environment of the Spark driver per set-up (read by Platform.prestart_spark)
    "before": {"TRICLOUD_SPARK_CDS": "off", "TRICLOUD_SPARK_WARMUP": "0"},
    "after": {"TRICLOUD_SPARK_CDS": "", "TRICLOUD_SPARK_WARMUP": "1"},
}


def use_setup(name: str) -> None:
    for k, v in SETUPS[name].items():
        if v:
            os.environ[k] = v
        else:
            os.environ.pop(k, None)


def order(i: int) -> list[str]:
    """Alternate which set-up goes first, so a load trend does not favour one."""
    names = list(SETUPS)
    return names if i % 2 == 0 else names[::-1]


def med(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}" if values else "-"


def paced(
    url: str, path: str, body: bytes, n: int, rate: float, region: str | None
) -> tuple[list[float], int]:
    """Latencies (ms) of n requests sent at `rate`/s on one keep-alive connection; returns (latencies, non-200s)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    lat, bad = [], 0
    start = time.perf_counter()
    for i in range(n):
        due = start + i / rate
        if (wait := due - time.perf_counter()) > 0:
            time.sleep(wait)
        headers = {"content-type": "application/json", "host": parts.netloc}
        if region:
            req = AWSRequest(method="POST", url=f"{url}{path}", data=body, headers=headers)
            SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "execute-api", region).add_auth(req)
            headers = dict(req.headers.items())
        t0 = time.perf_counter()
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        lat.append((time.perf_counter() - t0) * 1000)
        bad += resp.status != 200
    conn.close()
    return lat, bad


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="full runs per set-up")
    ap.add_argument("--spark-rounds", type=int, default=3, help="cold-driver Spark phases per set-up")
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--rows", type=int, default=5000)
    args = ap.parse_args()
    config = stack_config("aws", "dev")
    config["tricloud:api"] = {
        **config["tricloud:api"],
        "throttle_rate_per_second": 1000,
        "throttle_burst": 1000,
    }
    region = config["aws:region"]
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in SETUPS}
    totals: dict[str, list[float]] = {name: [] for name in SETUPS}
    cold: dict[str, list[float]] = {name: [] for name in SETUPS}
    latency: dict[str, tuple[list[float], int]] = {}
    loads = [load()]
    tmp = Path(tempfile.mkdtemp(prefix="tricloud-bench-"))
    plan = [name for i in range(args.runs) for name in order(i)]
    for n, name in enumerate(plan):
        use_setup(name)
        t0 = time.perf_counter()
        emu = Emulator.start(region)
        state = tmp / f"run{n}.json"
        state.unlink(missing_ok=True)
        p = Platform(emu, Options(rows=args.rows, config=config, state_path=state))
        try:
            p.run_all()
            totals[name].append(time.perf_counter() - t0)
            runs[name].append(dict(p.timings))
            if n == len(plan) - 1:
                for r in range(args.spark_rounds):  # same platform, a fresh driver each time
                    for setup in order(r):
                        use_setup(setup)
                        started = time.perf_counter()
                        p.prestart_spark()
                        p.run_spark()
                        cold[setup].append(time.perf_counter() - started)
                        print(f"cold Spark phase {setup}: {cold[setup][-1]:.1f} s", file=sys.stderr)
                body = json.dumps({"instances": [SAMPLE]}).encode()
                latency["gateway POST /predict"] = paced(
                    p.gateway_url, "/predict", body, args.requests, args.rate, region
                )
                latency["peer: inference server /invocations"] = paced(
                    p.server_url, "/invocations", body, args.requests, args.rate, None
                )
        finally:
            p.close()
            if p.engine is not None and p.engine.started:
                Engine(emu, state_path=state, config=config).destroy()
            emu.stop()
        loads.append(load())
        print(f"run {n + 1}/{len(plan)} ({name}): {totals[name][-1]:.1f} s, {loads[-1]}", file=sys.stderr)
    print(
        f"\n{args.rows} rows, {args.runs} runs per set-up, interleaved; {loads[0]} at start, {loads[-1]} at end"
    )
    print("\n| phase (s) | before: median | after: median | after/before |\n|---|---:|---:|---:|")
    rows = [
        (ph, [r[ph] for r in runs["before"] if ph in r], [r[ph] for r in runs["after"] if ph in r])
        for ph in PHASES
    ]
    rows.append(("whole run (start moto -> first prediction)", totals["before"], totals["after"]))
    for ph, b, a in rows:
        ratio = f"{statistics.median(a) / statistics.median(b):.2f}" if a and b else "-"
        print(f"| {ph} | {med(b)} | {med(a)} | {ratio} |")
    if args.spark_rounds:
        b, a = cold["before"], cold["after"]
        print(
            f"\n| Spark phase from a cold driver (s, {args.spark_rounds} rounds) | before | after | after/before |"
            f"\n|---|---:|---:|---:|\n| median | {med(b)} | {med(a)} | "
            f"{statistics.median(a) / statistics.median(b):.2f} |\n| min - max | {min(b):.2f} - {max(b):.2f} | "
            f"{min(a):.2f} - {max(a):.2f} | |"
        )
    if latency:
        print(
            f"\n| {args.requests} requests at {args.rate:.0f}/s | p50 ms | p99 ms | non-200 |\n|---|---:|---:|---:|"
        )
        for name, (lat, bad) in latency.items():
            print(f"| {name} | {pct(lat, 50):.2f} | {pct(lat, 99):.2f} | {bad} |")
        (g, _), (d, _) = latency.values()
        print(
            f"\ngateway overhead: p50 x{pct(g, 50) / pct(d, 50):.1f}, p99 x{pct(g, 99) / pct(d, 99):.1f} of the direct call"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

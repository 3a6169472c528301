"""Benchmark of `tricloud emulate aws`: median phase timings over several full runs, then gateway latency.

    .venv/bin/python benchmarks/emulate.py [--runs 3] [--requests 500] [--rate 100]

Phases per run (fresh in-process moto each time): apply, data, spark, train, serve, gateway, first prediction.
Latency: POST /predict through the local gateway (SigV4 verification, payload-v2 event, Lambda worker, boto3
sagemaker-runtime -> shim -> inference server) at a fixed open-loop rate, against the named peer measured in the
same run: the same body POSTed straight to the inference server's /invocations. The ratio is the gateway's overhead.
The stage's throttle (50/s in Pulumi.dev.yaml) is raised for the measurement so 100 requests/s are not 429s.
"""

from __future__ import annotations

import argparse
import http.client
import json
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
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
    runs: list[dict[str, float]] = []
    totals: list[float] = []
    latency: dict[str, tuple[list[float], int]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="tricloud-bench-"))
    for i in range(args.runs):
        t0 = time.perf_counter()
        emu = Emulator.start(region)
        state = tmp / f"run{i}.json"
        state.unlink(missing_ok=True)
        p = Platform(emu, Options(rows=args.rows, config=config, state_path=state))
        try:
            p.run_all()
            totals.append(time.perf_counter() - t0)
            runs.append(dict(p.timings))
            if i == args.runs - 1:
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
        print(f"run {i + 1}/{args.runs}: {totals[-1]:.1f} s", file=sys.stderr)
    print(f"\n| phase (median of {args.runs} runs, s) | median | min | max |\n|---|---:|---:|---:|")
    for ph in PHASES:
        vals = [r[ph] for r in runs if ph in r]
        print(f"| {ph} | {statistics.median(vals):.2f} | {min(vals):.2f} | {max(vals):.2f} |")
    print(
        f"| whole run (start moto -> first prediction) | {statistics.median(totals):.2f} | {min(totals):.2f} | {max(totals):.2f} |"
    )
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

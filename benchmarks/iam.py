"""What IAM enforcement costs the offline platform, against the same work with enforcement off, in one run.

    .venv/bin/python benchmarks/iam.py [--runs 3] [--requests 300] [--rate 50]

1. apply + destroy of the AWS stack on a fresh in-process moto, enforcement on (every call signature-checked and
   authorized, the engine signing as the deployer) and off, alternated, medians over `--runs` pairs;
2. POST /predict through the local gateway at a fixed open-loop rate, on one running platform, with enforcement
   on (the shim authorizes the function role's InvokeEndpoint, Lambda's log shipping is authorized, moto checks
   the log calls) and off (moto's no-auth switch, the shim's and Lambda's authorizers removed), alternated in
   blocks so both see the same machine load.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.emulate import paced, pct
from tricloud.emulate.platform import SAMPLE, Options, Platform
from tricloud.engine import Emulator, Engine
from tricloud.inventory import stack_config


def apply_destroy(region: str, config: dict, enforce: bool, state: Path) -> tuple[float, float]:
    emu = Emulator.start(region, enforce_iam=enforce)
    try:
        t0 = time.perf_counter()
        Engine(emu, state_path=state, config=config).apply()
        t1 = time.perf_counter()
        Engine(emu, state_path=state, config=config).destroy()
        return t1 - t0, time.perf_counter() - t1
    finally:
        emu.stop()


def enforcement(p: Platform, on: bool) -> None:
    """Switch moto's authentication and the emulator's own authorizers on or off on a running platform."""
    assert p.shim is not None and p.gateway is not None
    p.emulator._reset_auth(0 if on else float("inf"))
    p.shim.authorizer = p.authorizer if on else None
    for rt in p.gateway.runtimes.values():
        rt.sink.authorize = (lambda a, r, fn=rt.fn: p.authorize_function(fn, a, r)) if on else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--rate", type=float, default=50.0)
    args = ap.parse_args()
    config = stack_config("aws", "dev")
    config["tricloud:api"] = {
        **config["tricloud:api"],
        "throttle_rate_per_second": 1000,
        "throttle_burst": 1000,
    }
    region = config["aws:region"]
    tmp = Path(tempfile.mkdtemp(prefix="tricloud-bench-iam-"))
    times: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for i in range(args.runs):
        for on in (True, False) if i % 2 == 0 else (False, True):
            times[on].append(apply_destroy(region, config, on, tmp / f"s{i}{on}.json"))
            print(f"apply+destroy {i + 1}/{args.runs} enforcement {'on' if on else 'off'}", file=sys.stderr)
    print(f"\n| {args.runs} runs each (s) | apply median | destroy median |\n|---|---:|---:|")
    for on in (True, False):
        label = "enforcement on" if on else "peer: enforcement off"
        a, d = statistics.median(t[0] for t in times[on]), statistics.median(t[1] for t in times[on])
        print(f"| {label} | {a:.2f} | {d:.2f} |")
    on_a = statistics.median(t[0] for t in times[True])
    off_a = statistics.median(t[0] for t in times[False])
    print(f"\napply with enforcement: x{on_a / off_a:.2f} of the peer")

    emu = Emulator.start(region)
    state = tmp / "platform.json"
    p = Platform(emu, Options(rows=2000, config=config, state_path=state))
    lat: dict[bool, list[float]] = {True: [], False: []}
    bad = 0
    try:
        p.run_all()
        body = json.dumps({"instances": [SAMPLE]}).encode()
        block = max(1, args.requests // 6)
        for i in range(6):
            on = i % 2 == 0
            enforcement(p, on)
            got, b = paced(p.gateway_url, "/predict", body, block, args.rate, region)
            lat[on] += got
            bad += b
        enforcement(p, True)
    finally:
        p.close()
        if p.engine is not None and p.engine.started:
            Engine(emu, state_path=state, config=config).destroy()
        emu.stop()
    n = len(lat[True])
    print(f"\n| POST /predict, {n} + {n} requests at {args.rate:.0f}/s | p50 ms | p99 ms |\n|---|---:|---:|")
    for on in (True, False):
        label = "enforcement on" if on else "peer: enforcement off"
        print(f"| {label} | {pct(lat[on], 50):.2f} | {pct(lat[on], 99):.2f} |")
    print(
        f"\nnon-200 answers: {bad}; p50 with enforcement: x{pct(lat[True], 50) / pct(lat[False], 50):.2f} of the peer"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark of the local engine's targeted apply (what an offline model rollout runs) against the whole-stack apply.

    .venv/bin/python benchmarks/targeted_apply.py [--rounds 5]
    .venv/bin/python benchmarks/targeted_apply.py --demo

The AWS dev stack is applied once into an in-process moto; then, every round, the endpoint's serverless memory is
flipped (2048 <-> 3072 MB: a new EndpointConfiguration and the Endpoint moved onto it, as a rollout's new Model
does) and applied twice, alternately first: targeted at the endpoint's resources (`endpoint_targets`, the rollout's
selection) and, the named peer measured in the same run, untargeted (`Engine.apply()`, what every rollout ran
before). Both make the same endpoint change; the untargeted one also reads every other resource back (the state
check) and compares its inputs. Prints the median seconds and handler calls (each one an emulator call for one
resource) per apply, and the ratio to the peer.

With --demo: one `tricloud model demo aws` in this process, with timers around `Engine.apply`, its state check and
the emulated canary's `CanaryDeployer.deploy` (which runs inside the apply): per apply, the engine's own time
outside the canary. It only wraps methods main's code has too, so it measures a checkout without targeted
applies the same way (run it from that checkout).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tricloud.engine import Emulator, Engine
from tricloud.engine.handlers import HANDLERS
from tricloud.inventory import stack_config

CALLS = [0]


def count_handler_calls() -> None:
    """Every handler method call counted (an instance attribute over each method: the class stays as it is)."""
    for handler in {id(h): h for h in HANDLERS.values()}.values():
        for method in ("create", "update", "delete", "exists", "locate"):
            real = getattr(handler, method)

            def counted(*args: Any, _real: Any = real) -> Any:
                CALLS[0] += 1
                return _real(*args)

            setattr(handler, method, counted)


def demo() -> int:
    from tricloud.emulate.canary import CanaryDeployer
    from tricloud.model.demo import Demo

    applies: list[dict[str, Any]] = []
    current: dict[str, float] = {}

    def timed(cls: type, name: str) -> None:
        real = getattr(cls, name)

        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return real(self, *args, **kwargs)
            finally:
                current[name] = current.get(name, 0.0) + time.perf_counter() - started
                if name == "apply":
                    applies.append({**current, "targeted": kwargs.get("targets") is not None})
                    current.clear()

        setattr(cls, name, wrapper)

    timed(Engine, "check_state")
    timed(CanaryDeployer, "deploy")
    timed(Engine, "apply")
    load = os.getloadavg()[0]
    started = time.perf_counter()
    result = Demo(report=lambda line: None).run()
    print(
        f"\n`tricloud model demo aws` in one process: {time.perf_counter() - started:.1f} s, as expected: "
        f"{result.ok}, 1-minute load average {load:.1f}-{os.getloadavg()[0]:.1f}\n"
    )
    print("| apply | targeted | total s | state check s | canary s | engine outside the canary s |")
    print("|---|---|---:|---:|---:|---:|")
    for i, a in enumerate(applies):
        label = "the platform" if i == 0 else f"rollout {i}" if a.get("deploy", 0.0) > 0.5 else f"apply {i}"
        print(f"| {label} | {a['targeted']} | {a['apply']:.2f} | {a.get('check_state', 0.0):.2f} | "
              f"{a.get('deploy', 0.0):.2f} | {a['apply'] - a.get('deploy', 0.0):.2f} |")  # fmt: skip
    return 0 if result.ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--demo", action="store_true", help="time the engine inside one delivery demo instead"
    )
    args = parser.parse_args()
    if args.demo:
        return demo()
    from tricloud.model.deploy import endpoint_targets

    config = stack_config("aws", "dev")
    emu = Emulator.start(str(config["aws:region"]))
    state = Path(tempfile.mkdtemp(prefix="tricloud-bench-")) / "aws-dev.local.json"
    Engine(emu, state_path=state, config=config).apply()
    count_handler_calls()
    seconds: dict[str, list[float]] = {"targeted": [], "untargeted": []}
    calls: dict[str, list[int]] = {"targeted": [], "untargeted": []}
    loads = [os.getloadavg()[0]]
    memory = 2048
    for i in range(args.rounds):
        for mode in ("targeted", "untargeted") if i % 2 == 0 else ("untargeted", "targeted"):
            memory = 5120 - memory  # 2048 <-> 3072
            edited = {
                **config,
                "tricloud:endpoint": {**config["tricloud:endpoint"], "serverless_memory_mb": memory},
            }
            engine = Engine(emu, state_path=state, config=edited)
            targets = endpoint_targets(engine.state) if mode == "targeted" else None
            CALLS[0] = 0
            started = time.perf_counter()
            result = engine.apply(targets=targets)
            seconds[mode].append(time.perf_counter() - started)
            calls[mode].append(CALLS[0])
            if result.count("replace") + result.count("update") < 2:
                raise SystemExit(f"{mode} apply did not change the endpoint: {result.summary()}")
        print(f"round {i + 1}/{args.rounds}: targeted {seconds['targeted'][-1]:.2f} s, untargeted "
              f"{seconds['untargeted'][-1]:.2f} s", file=sys.stderr)  # fmt: skip
    loads.append(os.getloadavg()[0])
    Engine(emu, state_path=state).destroy()
    emu.stop()
    peer = statistics.median(seconds["untargeted"])
    print(
        f"\nthe endpoint change applied by the local engine (AWS dev stack, in-process moto), median of "
        f"{args.rounds} rounds, 1-minute load average {min(loads):.1f}-{max(loads):.1f}\n"
    )
    print("| apply | median s | handler calls | ratio to the peer |\n|---|---:|---:|---:|")
    for mode, label in (
        ("untargeted", "peer: untargeted (the whole stack)"),
        ("targeted", "targeted (endpoint)"),
    ):
        med = statistics.median(seconds[mode])
        print(f"| {label} | {med:.2f} | {statistics.median(calls[mode]):.0f} | {med / peer:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

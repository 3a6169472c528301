"""Which of a workload role's permissions the offline platform proves needed: `python -m
tricloud.emulate.least_privilege [--workload spark ...] [--rows N] [--json]`.

Runs the platform once with IAM enforced, then for each workload removes one action at a time from its applied
role (statement by statement) and runs the workload's phase again: a phase that fails names the action as needed;
one that passes means the offline platform does not exercise it (not needed here, or needed only by what the
emulator does not run, such as KMS behind SSE-KMS, ECR pulls or the service's own logs: docs/security.md says
which). Slow by design (~1 min per Spark action on 2 cores); the table in docs/security.md comes from it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tricloud.engine import iam

WORKLOADS = ("spark job", "training", "endpoint", "function")


@contextlib.contextmanager
def removed(iam_client: Any, role_arn: str, action: str, where: str = "") -> Iterator[list[str]]:
    """The applied role without `action` in the statements whose resources contain `where`; restored after.
    Yields the names of the inline policies changed (none: the role has no such statement)."""
    name = role_arn.rsplit("/", 1)[-1]
    saved: dict[str, dict[str, Any]] = {}
    for pname in iam_client.list_role_policies(RoleName=name)["PolicyNames"]:
        doc = iam_client.get_role_policy(RoleName=name, PolicyName=pname)["PolicyDocument"]
        kept = []
        for st in doc["Statement"]:
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            if action in actions and where in json.dumps(st["Resource"]):
                actions = [a for a in actions if a != action]
                if not actions:
                    continue
                st = {**st, "Action": actions}
            kept.append(st)
        if kept != doc["Statement"]:
            saved[pname] = doc
            new = {**doc, "Statement": kept or [_NOTHING]}
            iam_client.put_role_policy(RoleName=name, PolicyName=pname, PolicyDocument=json.dumps(new))
    try:
        yield sorted(saved)
    finally:
        for pname, doc in saved.items():
            iam_client.put_role_policy(RoleName=name, PolicyName=pname, PolicyDocument=json.dumps(doc))


# A policy must keep one statement: this one allows nothing the platform does.
_NOTHING = {"Effect": "Deny", "Action": "s3:PutBucketAcl", "Resource": "*"}


@dataclass(frozen=True)
class Finding:
    workload: str
    policy: str
    sid: str
    action: str
    resources: list[str]
    needed: bool  # the phase failed without it
    denial: str  # the failure, or a denial the phase survived (Lambda's log shipping: the lines are lost)
    seconds: float


def phase_runner(platform: Any, workload: str) -> Callable[[], Any]:
    """Run a workload's phase again against the running platform."""

    def endpoint() -> None:
        platform.stop_serving()
        platform.serve()
        platform.start_gateway()

    def function() -> None:
        if platform.gateway is not None:
            platform.gateway.close()
            platform.gateway = None
        platform.start_gateway()  # a cold start: Lambda decrypts the environment
        platform.smoke()

    return {
        "spark job": platform.run_spark,
        "training": platform.train,
        "endpoint": endpoint,
        "function": function,
    }[workload]


def evaluate(
    platform: Any, workloads: tuple[str, ...], on_finding: Callable[[Finding], None]
) -> list[Finding]:
    iam_client = platform.emulator.client("iam")
    findings = []
    for workload in workloads:
        role, _ = platform.identities()[workload]
        run = phase_runner(platform, workload)
        name = role.rsplit("/", 1)[-1]
        for pname in iam_client.list_role_policies(RoleName=name)["PolicyNames"]:
            doc = iam_client.get_role_policy(RoleName=name, PolicyName=pname)["PolicyDocument"]
            for st in doc["Statement"]:
                resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
                actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                for action in actions:
                    started, mark = time.perf_counter(), iam.DENIALS.mark()
                    failure = ""
                    with removed(iam_client, role, action, json.dumps(resources)[1:-1]):
                        platform.authorizer.forget()
                        try:
                            run()
                        except Exception as exc:
                            failure = str(exc)
                    platform.authorizer.forget()
                    if failure:
                        run()  # back to a working platform for the next action
                    quiet = next((str(d) for d in iam.DENIALS.since(mark) if d.action == action), "")
                    finding = Finding(
                        workload,
                        pname,
                        st.get("Sid", ""),
                        action,
                        resources,
                        bool(failure),
                        failure or quiet,
                        round(time.perf_counter() - started, 1),
                    )
                    findings.append(finding)
                    on_finding(finding)
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tricloud.emulate.least_privilege", description=__doc__)
    parser.add_argument("--workload", action="append", choices=WORKLOADS, help="default: all four")
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args(argv)
    import tempfile

    from tricloud.emulate.platform import Options, Platform
    from tricloud.engine import Emulator
    from tricloud.inventory import stack_config

    emu = Emulator.start(str(stack_config("aws", "dev").get("aws:region", "ap-south-1")))
    state = Path(tempfile.mkdtemp(prefix="tricloud-least-privilege-")) / "aws-dev.local.json"
    platform = Platform(emu, Options(rows=args.rows, state_path=state))

    def show(f: Finding) -> None:
        if args.json:
            print(json.dumps(asdict(f)), flush=True)
        else:
            verdict = "NEEDED" if f.needed else "denied, not fatal" if f.denial else "not exercised offline"
            print(f"{f.workload:<10} {f.action:<32} {verdict:<22} {', '.join(f.resources)}", flush=True)

    try:
        platform.run_all()
        evaluate(platform, tuple(args.workload or WORKLOADS), show)
    finally:
        platform.close()
        if platform.engine is not None and platform.engine.started:
            platform.engine.destroy()
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

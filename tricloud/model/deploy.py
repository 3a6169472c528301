"""Apply the stack's endpoint change after the serving record moved: one interface, two implementations.

- `AutomationDeployer` (a real account): Pulumi's Automation API runs a targeted `up` of the stack in
  `stacks/<cloud>`, limited to the endpoint's Model, EndpointConfiguration and Endpoint, so SageMaker's blue/green
  canary with auto-rollback does the traffic shift and nothing else in the stack changes during a model rollout.
- `LocalEngineDeployer` (offline): the same targeted apply through the local engine (`Engine.apply(targets=...)`,
  the same resource types picked from the engine's state), so an unrelated pending change (a bucket's config edit)
  stays pending during a rollout, as it does on a real account, and no other resource is read back.

Offline, the canary runs either inside the apply (`tricloud.emulate.canary.CanaryDeployer`, the demo's one process)
or in the serving process after it (`DeploymentEngine`, a rollout from another terminal).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tricloud.model.base import REPO_ROOT

# The resources a model rollout may change (types of the ModelEndpoint component's children).
ENDPOINT_TYPES = (
    "aws:sagemaker/model:Model",
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
    "aws:sagemaker/endpoint:Endpoint",
)
NO_CHANGE = ("unchanged", "record", "skip")  # engine events that change nothing (skip: untargeted)


@dataclass
class DeployOutcome:
    ok: bool
    summary: str
    changed: list[str] = field(default_factory=list)  # "<action> <type> <name>"


class UpdateRolledBack(Exception):
    """The endpoint's deployment rolled back (the alarms fired): the apply stops, as `pulumi up` fails."""


class EndpointDeployer(Protocol):
    def apply(self, reason: str) -> DeployOutcome:
        """Bring the endpoint to what the stack program now computes (it reads the serving record)."""
        ...


def endpoint_urns(resources: Sequence[dict[str, Any]], types: Sequence[str] = ENDPOINT_TYPES) -> list[str]:
    """URNs of the endpoint's resources in an exported deployment (`stack.export_stack().deployment`)."""
    urns = sorted(r["urn"] for r in resources if r.get("type") in types)
    if not urns:
        raise LookupError(f"the stack state holds none of {', '.join(types)}: run `pulumi up` once first")
    return urns


def endpoint_targets(state: Any, types: Sequence[str] = ENDPOINT_TYPES) -> list[str]:
    """The same selection from the local engine's state (`tricloud.engine.state.State`): its keys are its URNs."""
    from tricloud.engine.core import REPLACED

    live = [{"type": e.type, "urn": e.key} for e in state.ordered() if REPLACED not in e.name]
    return endpoint_urns(live, types)


class AutomationDeployer:
    """A targeted `pulumi up` through the Automation API (needs the Pulumi CLI and the stack's backend login)."""

    def __init__(
        self,
        cloud: str,
        stack: str,
        *,
        report: Callable[[str], None] = lambda line: None,
        select_stack: Callable[..., Any] | None = None,
        types: Sequence[str] = ENDPOINT_TYPES,
    ) -> None:
        self.cloud, self.stack, self.report, self.types = cloud, stack, report, types
        self._select = select_stack

    def _stack(self) -> Any:
        if self._select is None:
            from pulumi import automation as auto

            self._select = auto.select_stack
        return self._select(stack_name=self.stack, work_dir=str(REPO_ROOT / "stacks" / self.cloud))

    def apply(self, reason: str) -> DeployOutcome:
        stack = self._stack()
        targets = endpoint_urns(stack.export_stack().deployment.get("resources", []), self.types)
        self.report(f"pulumi up --target ({len(targets)} endpoint resources): {reason}")
        try:
            result = stack.up(
                target=targets,
                target_dependents=False,
                message=f"tricloud model: {reason}",
                on_output=lambda line: self.report(line.rstrip()),
                color="never",
            )
        except Exception as exc:  # CommandError: the update failed (SageMaker rolled the endpoint back, ...)
            return DeployOutcome(False, f"pulumi up failed: {str(exc).strip()[-600:]}")
        changes = dict(getattr(result.summary, "resource_changes", None) or {})
        return DeployOutcome(
            True, f"pulumi up: {changes or 'no changes'}", [f"{k} {v}" for k, v in changes.items()]
        )


def report_untargeted(result: Any, report: Callable[[str], None]) -> None:
    """Untargeted changes the rollout left pending (a later `tricloud up` / full `pulumi up` applies them)."""
    for typ, name, what in result.untargeted:
        report(f"  left for a full apply (not targeted): {what} {typ} {name}")


class LocalEngineDeployer:
    """The local engine's apply of the stack into the emulator. moto switches configurations at once; when a serving
    process (`tricloud emulate aws --serve`) runs the stack's deployments, it does the canary after the apply and
    the caller polls DescribeEndpoint for the outcome, as on SageMaker (tricloud/emulate/canary.py)."""

    def __init__(
        self,
        emulator: Any,
        stack: str,
        *,
        state_path: Path | None = None,
        report: Callable[[str], None] = print,
        serving: Callable[[], dict[str, Any] | None] = lambda: None,
        wait: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.emulator, self.stack, self.state_path, self.report = emulator, stack, state_path, report
        self.serving, self.wait = serving, wait

    def _await_update(self, action: str, entry: Any) -> None:
        """Inside the apply, right after the endpoint update (as Pulumi's provider waits for UpdateEndpoint): the
        serving process's deployment must end before the engine deletes the replaced configuration, which a
        rollback goes back to; a rollback fails the apply, as it fails `pulumi up`."""
        if entry.type != ENDPOINT_TYPES[-1] or action not in ("update", "replace"):
            return
        if self.wait is None or self.serving() is None:
            return
        self.report("the serving process runs the endpoint's deployment; polling DescribeEndpoint")
        served = self.wait()
        if served.get("failure_reason"):
            raise UpdateRolledBack(f"endpoint update rolled back: {served['failure_reason']}")

    def traffic_rate(self, per_second: float) -> float:
        """The bake traffic: in emulated time when a serving process runs the canary (its bake is compressed)."""
        if self.serving() is None:
            return per_second
        from tricloud.emulate.canary import bake_rate
        from tricloud.emulate.cloudwatch import time_factor

        rate, note = bake_rate(per_second, time_factor())
        if note:
            self.report(f"deviation: {note}")
        return rate

    def apply(self, reason: str) -> DeployOutcome:
        from tricloud.engine import Engine

        changed: list[str] = []

        def on_event(e: Any) -> None:
            if e.action not in NO_CHANGE:
                changed.append(f"{e.action} {e.type} {e.name}")

        engine = Engine(
            self.emulator,
            stack=self.stack,
            state_path=self.state_path,
            on_event=on_event,
            on_change=self._await_update,
        )
        try:
            targets = endpoint_targets(engine.state)
            self.report(f"local engine apply --target ({len(targets)} endpoint resources): {reason}")
            result = engine.apply(targets=targets)
        except UpdateRolledBack as exc:
            return DeployOutcome(False, str(exc), changed)
        except Exception as exc:
            return DeployOutcome(False, f"local apply failed: {type(exc).__name__}: {exc}", changed)
        for line in changed:
            self.report(f"  {line}")
        report_untargeted(result, self.report)
        if self.serving() is None and any(" aws:sagemaker/endpoint:Endpoint " in f" {c} " for c in changed):
            self.report(
                "no serving process runs this stack's deployments (`tricloud emulate aws --serve`): the endpoint "
                "switched at once in the emulator, with no canary"
            )
        return DeployOutcome(True, result.summary(), changed)

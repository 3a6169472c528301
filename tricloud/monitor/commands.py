"""The stack-facing `tricloud monitor` commands: `reference`, `job`, `retrain`, `scenario`.

They read names from the stack outputs and settings from `tricloud:monitoring` / `tricloud:delivery` like
`tricloud model` does (same options: --stack, --outputs, --endpoint, --json), and use the delivery's Python functions.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from components.errors import InvalidArgs
from tricloud.model.base import EXIT_FAILED, EXIT_GATE, EXIT_USAGE, Context, DeliveryError, GateRefused
from tricloud.model.cli import Cloud, CloudArg, EndpointOpt, JsonOpt, OutputsOpt, StackOpt, build_context
from tricloud.monitor.cli import err, monitor_app


def _run(command: str, as_json: bool, action: Callable[[], dict[str, Any]]) -> None:
    try:
        result = action()
    except InvalidArgs as e:
        err.print(f"[bold red]error:[/] [bold]{e.field}[/] = {e.value!r}: {e.reason}", highlight=False)
        _emit(as_json, {"ok": False, "command": command, "error": str(e), "field": e.field})
        raise typer.Exit(EXIT_USAGE) from None
    except GateRefused as e:
        err.print(f"[bold red]refused:[/] {e}", highlight=False)
        _emit(as_json, {"ok": False, "command": command, "refused": str(e), "decision": e.decision})
        raise typer.Exit(EXIT_GATE) from None
    except DeliveryError as e:
        err.print(f"[bold red]failed:[/] {e}", highlight=False)
        _emit(as_json, {"ok": False, "command": command, "error": str(e)})
        raise typer.Exit(EXIT_FAILED) from None
    except typer.Exit:
        raise
    except Exception as e:
        tail = "".join(traceback.format_exception(e)[-3:]).strip()
        err.print(
            f"[bold red]unexpected failure:[/] {type(e).__name__}: {e}\n[dim]{tail}[/]", highlight=False
        )
        _emit(as_json, {"ok": False, "command": command, "error": f"{type(e).__name__}: {e}"})
        raise typer.Exit(EXIT_FAILED) from None
    err.print(f"[green]✓[/] {command}: {result.get('summary', '')}", highlight=False)
    _emit(as_json, {"ok": True, "command": command, **result})


def _emit(as_json: bool, doc: dict[str, Any]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")


def _delivery(ctx: Context) -> Any:
    from tricloud.model import cli as model_cli

    return model_cli.make_delivery(ctx)


@monitor_app.command("reference")
def reference(
    cloud: Cloud = CloudArg,
    stack: str = StackOpt,
    outputs: Path | None = OutputsOpt,
    endpoint: str | None = EndpointOpt,
    as_json: bool = JsonOpt,
    version: str | None = typer.Option(
        None, "--version", help="Registered version (default: the serving one)."
    ),
) -> None:
    """Publish a registered version's reference profile where the drift job finds it (after `model register`)."""
    from tricloud.monitor.retrain import publish_reference

    def action() -> dict[str, Any]:
        ctx = build_context(cloud, stack, outputs, endpoint)
        d = _delivery(ctx)
        label = version or d.expected_label()
        if label is None:
            raise InvalidArgs("--version", None, "nothing is serving yet: name a registered version")
        v = _find(d, label)
        uri = publish_reference(ctx, d, v)
        return {"version": v.number, "label": v.label, "reference": uri, "summary": f"{v.label} -> {uri}"}

    _run("reference", as_json, action)


def _find(d: Any, label_or_number: str) -> Any:
    for v in d.versions():
        if label_or_number in (v.number, v.label, v.version):
            return v
    raise InvalidArgs("--version", label_or_number, "no registered version has this number or label")


@monitor_app.command("job")
def job(
    cloud: Cloud = CloudArg,
    stack: str = StackOpt,
    outputs: Path | None = OutputsOpt,
    endpoint: str | None = EndpointOpt,
    as_json: bool = JsonOpt,
    end: str | None = typer.Option(None, "--end", help="Window end, ISO 8601 (default: now)."),
    publish: bool = typer.Option(True, help="Publish the metrics to the cloud's monitoring service."),
) -> None:
    """Run the stack's drift job now, from this machine, over the last window (what the schedule runs)."""
    from tricloud.monitor.stackjob import run_stack_job

    def action() -> dict[str, Any]:
        ctx = build_context(cloud, stack, outputs, endpoint)
        when = None
        if end:
            from app.monitor.job import parse_time

            try:
                when = parse_time(end)
            except ValueError as exc:
                raise InvalidArgs("--end", end, str(exc)) from None
        summary = run_stack_job(ctx, _delivery(ctx), end=when, publish=publish)
        return {**summary, "summary": f"{summary['status']} over {summary['window']['rows']} rows"}

    _run("job", as_json, action)


@monitor_app.command("retrain")
def retrain_cmd(
    cloud: Cloud = CloudArg,
    stack: str = StackOpt,
    outputs: Path | None = OutputsOpt,
    endpoint: str | None = EndpointOpt,
    as_json: bool = JsonOpt,
    reason: str = typer.Option("drift alarm", "--reason", help="Recorded in the retrain ledger."),
) -> None:
    """What a drift alarm starts (the deploy workflow runs it): loop guard, then train -> register -> approve ->
    rollout. Exit 3 when the guard (cooldown, cap) or a delivery gate says no."""
    from tricloud.monitor.retrain import retrain

    def action() -> dict[str, Any]:
        ctx = build_context(cloud, stack, outputs, endpoint)
        return retrain(ctx, _delivery(ctx), reason=reason, now=dt.datetime.now(dt.UTC))

    _run("retrain", as_json, action)


@monitor_app.command("scenario")
def scenario(
    cloud: Cloud = CloudArg,
    rows: int = typer.Option(1000, "--rows", min=200, max=20000, help="Captured rows per traffic window."),
    seed: int = typer.Option(11, "--seed", help="Seed of the generated traffic."),
    as_json: bool = JsonOpt,
) -> None:
    """The offline AWS scenario: in-distribution traffic (no alarm), shifted traffic (capture -> drift job -> alarm
    -> guarded retrain -> new version serving). Prints each step; exit 0 when every step did what it should."""
    from tricloud.monitor.scenario import ScenarioError, run_scenario

    if cloud is not Cloud.aws:
        err.print(
            f"[bold red]error:[/] [bold]cloud[/] = {cloud.value!r}: the offline scenario runs on aws only"
        )
        raise typer.Exit(EXIT_USAGE)
    try:
        doc = run_scenario(rows=rows, seed=seed, say=lambda line: err.print(line, highlight=False))
    except ScenarioError as exc:
        err.print(f"[bold red]scenario failed:[/] {exc}", highlight=False)
        _emit(as_json, {"ok": False, "error": str(exc)})
        raise typer.Exit(EXIT_FAILED) from None
    _emit(as_json, {"ok": True, **doc})

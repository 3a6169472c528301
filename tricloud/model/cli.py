"""`tricloud model`: train -> register -> approve -> rollout -> smoke (-> rollback), and status, on every cloud.

Same verbs and options everywhere; `--json` prints one JSON document on stdout (CI reads it), the human story goes
to stderr. Exit codes: 0 success, 2 bad usage or config (one red line naming the key and value), 3 a gate said no
(approval refused, canary rolled back, smoke failed; the decision and its numbers are printed), 1 anything else.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import traceback
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from components.errors import InvalidArgs
from tricloud.model.base import EXIT_FAILED, EXIT_GATE, EXIT_USAGE, Context, DeliveryError, GateRefused

model_app = typer.Typer(
    help="Deliver the model: train, register, approve, roll out (canary), smoke-test, roll back, status.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
API_URL_ENV = "TRICLOUD_API_URL"  # offline: the local gateway `tricloud emulate aws` prints


class Cloud(StrEnum):
    aws = "aws"
    azure = "azure"
    gcp = "gcp"


CloudArg = typer.Argument(..., help="aws, azure or gcp.", show_default=False)
StackOpt = typer.Option(
    "dev", "--stack", "-s", help="Reads stacks/<cloud>/Pulumi.<stack>.yaml for every setting."
)
OutputsOpt = typer.Option(
    None,
    "--outputs",
    help="Stack outputs JSON (`pulumi stack output --json`); default: ask Pulumi (or the local state).",
)
EndpointOpt = typer.Option(
    None, "--endpoint", help="The emulator (offline AWS), as `tricloud emulate aws --endpoint`."
)
JsonOpt = typer.Option(False, "--json", help="One JSON document on stdout for machines.")


def build_context(cloud: Cloud, stack: str, outputs: Path | None, endpoint: str | None) -> Context:
    from tricloud.config import parse
    from tricloud.inventory import project_name, stack_config
    from tricloud.model.base import git_commit, load_outputs

    if endpoint is not None and cloud is not Cloud.aws:
        raise InvalidArgs(
            "--endpoint", endpoint, f"only aws has an offline emulator; {cloud.value} runs on the cloud"
        )
    # `org/dev` (a Pulumi Cloud stack reference, as CI passes it) reads Pulumi.dev.yaml; the program sees "dev".
    short = stack.rsplit("/", 1)[-1]
    values = {
        k: v
        for k, v in stack_config(cloud.value, short).items()
        if not (isinstance(v, dict) and "secure" in v)
    }
    config = parse(cloud.value, values)
    return Context(
        cloud=cloud.value,
        stack=short,
        stack_ref=stack,
        project=project_name(cloud.value),
        config=config,
        outputs=load_outputs(cloud.value, stack, outputs, endpoint),  # the full reference for `pulumi`
        endpoint=endpoint,
        report=lambda line: err.print(f"[dim]·[/] {line}", markup=True, highlight=False),
        git_commit=git_commit(),
    )


def delivery_for(ctx: Context) -> Any:
    """The cloud's delivery (same methods on every cloud); SDKs are imported only for the cloud asked for."""
    if ctx.cloud == "aws":
        from tricloud.model.aws import AwsDelivery

        return AwsDelivery(ctx)
    if ctx.cloud == "azure":
        from tricloud.model.azure import AzureDelivery

        return AzureDelivery(ctx)
    from tricloud.model.gcp import GcpDelivery

    return GcpDelivery(ctx)


Action = Callable[..., dict[str, Any]]

# Tests replace this to inject fakes (an emulator-backed context, a fake SDK transport).
make_delivery: Callable[[Context], Any] = delivery_for


def _emit(as_json: bool, doc: dict[str, Any]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")


def run(
    verb: str,
    cloud: Cloud,
    stack: str,
    outputs: Path | None,
    endpoint: str | None,
    as_json: bool,
    action: Callable[[Any, Context], dict[str, Any]],
) -> None:
    """Build the context, run one verb, map the outcome to the exit code and the output."""
    try:
        ctx = build_context(cloud, stack, outputs, endpoint)
        result = action(make_delivery(ctx), ctx)
    except InvalidArgs as e:
        err.print(f"[bold red]error:[/] [bold]{e.field}[/] = {e.value!r}: {e.reason}", highlight=False)
        _emit(as_json, {"ok": False, "command": verb, "error": str(e), "field": e.field})
        raise typer.Exit(EXIT_USAGE) from None
    except GateRefused as e:
        err.print(f"[bold red]refused:[/] {e}", highlight=False)
        if e.decision:
            err.print_json(json.dumps(e.decision, default=str))
        _emit(as_json, {"ok": False, "command": verb, "refused": str(e), "decision": e.decision})
        raise typer.Exit(EXIT_GATE) from None
    except DeliveryError as e:
        err.print(f"[bold red]failed:[/] {e}", highlight=False)
        _emit(as_json, {"ok": False, "command": verb, "error": str(e)})
        raise typer.Exit(EXIT_FAILED) from None
    except typer.Exit:
        raise
    except Exception as e:  # unexpected: the last frames help, a full traceback does not
        tail = "".join(traceback.format_exception(e)[-3:]).strip()
        err.print(
            f"[bold red]unexpected failure:[/] {type(e).__name__}: {e}\n[dim]{tail}[/]", highlight=False
        )
        _emit(as_json, {"ok": False, "command": verb, "error": f"{type(e).__name__}: {e}"})
        raise typer.Exit(EXIT_FAILED) from None
    err.print(f"[green]✓[/] {verb}: {result.get('summary') or _short(result)}", highlight=False)
    _emit(as_json, {"ok": True, "command": verb, **result})


def _short(result: dict[str, Any]) -> str:
    keys = ("job_name", "version", "label", "artifact", "serving")
    return ", ".join(f"{k} {result[k]}" for k in keys if result.get(k))


COMMON = [
    inspect.Parameter("cloud", inspect.Parameter.KEYWORD_ONLY, default=CloudArg, annotation=Cloud),
    inspect.Parameter("stack", inspect.Parameter.KEYWORD_ONLY, default=StackOpt, annotation=str),
    inspect.Parameter("outputs", inspect.Parameter.KEYWORD_ONLY, default=OutputsOpt, annotation=Path | None),
    inspect.Parameter("endpoint", inspect.Parameter.KEYWORD_ONLY, default=EndpointOpt, annotation=str | None),
    inspect.Parameter("as_json", inspect.Parameter.KEYWORD_ONLY, default=JsonOpt, annotation=bool),
]


def verb(name: str, extra: dict[str, tuple[Any, Any]] | None = None) -> Callable[[Action], Action]:
    """Register `action(delivery, ctx, **extra)` as `tricloud model <name>` with the common options first."""

    def deco(action: Action) -> Action:
        params = [
            inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=opt, annotation=ann)
            for k, (ann, opt) in (extra or {}).items()
        ]

        def command(**kw: Any) -> None:
            common = {k: kw.pop(k) for k in ("cloud", "stack", "outputs", "endpoint", "as_json")}
            run(name, *common.values(), lambda d, ctx: action(d, ctx, **kw))

        command.__signature__ = inspect.Signature([*COMMON, *params])  # type: ignore[attr-defined]
        command.__doc__ = action.__doc__
        model_app.command(name)(command)
        return action

    return deco


@verb(
    "train",
    {
        "image_tag": (
            str | None,
            typer.Option(
                None,
                "--image-tag",
                help="Image tag to train with (default: training_image_uri's), pinned by digest.",
            ),
        )
    },
)
def _train(d: Any, ctx: Context, image_tag: str | None) -> dict[str, Any]:
    """Submit the training job with the stack's settings (spot, max runtime, hyperparameters, instance type) and
    wait for it; prints the job name and the artifact."""
    result = d.train(image_tag)
    return {**result, "job": result["job_name"]}  # `.job` is what the deploy workflow reads


@verb(
    "register",
    {
        "job": (
            str | None,
            typer.Option(None, "--job", help="A completed training job (what `train` printed)."),
        ),
        "artifact": (
            str | None,
            typer.Option(None, "--artifact", help="Or an artifact URI (model.tar.gz / folder)."),
        ),
    },
)
def _register(d: Any, ctx: Context, job: str | None, artifact: str | None) -> dict[str, Any]:
    """Register an artifact in the stack's model registry with its sha256, image digest, held-out metrics,
    training data and git commit (status: pending approval)."""
    v = d.register(job=job, artifact=artifact)
    return {**v.as_dict(), "summary": f"version {v.number} ({v.label}), {v.status}"}


VersionOpt = typer.Option(None, "--version", help="Version number or id (default: the newest that fits).")


@verb("approve", {"version": (str | None, VersionOpt)})
def _approve(d: Any, ctx: Context, version: str | None) -> dict[str, Any]:
    """Champion/challenger on the held-out set plus absolute floors (tricloud:delivery); the decision and its
    numbers are stored with the version. Exit 3 when refused."""
    record = d.approve(version)
    return {**record, "summary": f"version {record['version']} approved: " + "; ".join(record["reasons"])}


@verb("rollout", {"version": (str | None, VersionOpt)})
def _rollout(d: Any, ctx: Context, version: str | None) -> dict[str, Any]:
    """Make an approved version the serving one through the endpoint's canary, with real held-out traffic during
    the bake; on a rollback the previous version is restored and the command exits 3 with the reason."""
    return d.rollout(version)


@verb(
    "smoke",
    {
        "expect_version": (
            str | None,
            typer.Option(
                None, "--expect-version", help="model_version the API must answer (default: the serving one)."
            ),
        ),
        "max_latency_ms": (
            int | None,
            typer.Option(
                None, "--max-latency-ms", min=1, help="Per request (default: delivery.smoke_max_latency_ms)."
            ),
        ),
    },
)
def _smoke(d: Any, ctx: Context, expect_version: str | None, max_latency_ms: int | None) -> dict[str, Any]:
    """POST real listings to the public API with the stack's caller auth; fail (exit 3) on any fallback answer,
    an unexpected model_version or a latency over the threshold."""
    from tricloud.model.smoke import auth_headers, run_smoke, sigv4_signer

    settings = ctx.config.delivery
    signer = None
    if ctx.cloud == "aws" and ctx.config.api.auth.value == "platform":
        signer = sigv4_signer(ctx.config.region, d.clients.credentials())
    expected = expect_version or d.expected_label()
    local = getattr(d, "local_api_url", lambda: None)()  # offline: the serving process's gateway
    result = run_smoke(
        os.environ.get(API_URL_ENV) or local or ctx.output("api_url"),
        requests=settings.smoke_requests,
        max_latency_ms=max_latency_ms or settings.smoke_max_latency_ms,
        expect_version=expected,
        headers=auth_headers(ctx.cloud, ctx.config.api.auth, os.environ),
        signer=signer,
        report=ctx.report,
    )
    numbers = {**result.numbers(), "expected_version": expected}
    if not result.ok:
        raise GateRefused(f"smoke test failed: {result.failures[0]}", numbers)
    return {**numbers, "summary": f"{result.passed}/{result.requests} passed, model {expected or 'any'}"}


@verb("rollback")
def _rollback(d: Any, ctx: Context) -> dict[str, Any]:
    """Back to the previous serving version (or the newest other approved one), on demand."""
    return d.rollback()


@verb("status")
def _status(d: Any, ctx: Context) -> dict[str, Any]:
    """Which version serves where, which is approved, what is in canary."""
    doc = d.status()
    serving = doc.get("serving") or {}
    return {
        **doc,
        "summary": f"serving {serving.get('label') or 'the bootstrap model'}; latest approved version "
        f"{doc.get('latest_approved')}; in canary: {doc.get('in_canary')}",
    }


@model_app.command("demo")
def demo(
    cloud: Cloud = CloudArg,
    stack: str = StackOpt,
    rows: int = typer.Option(
        5000, "--rows", min=500, max=200_000, help="Listings generated into the raw zone."
    ),
    steady_rps: float = typer.Option(
        4.0,
        "--steady-rps",
        min=0.5,
        max=50,
        help="Requests/s of the steady API client during the deliveries.",
    ),
    as_json: bool = JsonOpt,
) -> None:
    """The offline delivery scenario (aws): versions 1 and 2 rolled out through the emulated canary, a far worse
    model refused at approval, a broken serving image rolled back at canary; exit 0 when every step behaved."""
    from rich.markup import escape
    from rich.table import Table

    from tricloud.emulate.cloudwatch import time_factor
    from tricloud.model.demo import Demo, Step

    if cloud is not Cloud.aws:
        err.print(
            f"[bold red]error:[/] [bold]cloud[/] = {cloud.value!r}: the offline delivery demo runs on aws only "
            "(Azure and GCP delivery is tested against faked SDK transports: docs/model-delivery.md)",
            highlight=False,
        )
        raise typer.Exit(EXIT_USAGE)
    try:
        factor = time_factor()
    except InvalidArgs as e:
        err.print(f"[bold red]error:[/] [bold]{e.field}[/] = {e.value!r}: {e.reason}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None

    def on_step(s: Step) -> None:
        mark = "[green]✓[/]" if s.as_expected else "[bold red]✗[/]"
        told = "" if s.outcome == "ok" else f" (exit {s.exit_code}, {s.outcome}; expected: {s.expected})"
        err.print(f"{mark} {escape(s.name):<34} {s.seconds:6.2f} s{told}  {escape(s.summary[:300])}")

    err.print(f"[dim]time runs {factor:g}x faster offline: one emulated minute per {60 / factor:g} s[/]")
    runner = Demo(
        stack=stack,
        rows=rows,
        steady_rps=steady_rps,
        report=lambda line: err.print(f"[dim]  · {escape(line)}[/]", highlight=False),
        on_step=on_step,
        on_phase=lambda name, detail, secs: err.print(
            f"[green]✓[/] {name:<34} {secs:6.2f} s  {escape(detail)}"
        ),
    )
    try:
        result = runner.run()
    except InvalidArgs as e:
        err.print(f"[bold red]error:[/] [bold]{e.field}[/] = {e.value!r}: {e.reason}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    except Exception as e:
        err.print(f"[bold red]failed:[/] {type(e).__name__}: {escape(str(e))}", highlight=False)
        raise typer.Exit(EXIT_FAILED) from None
    table = Table(title="canary deployments", show_lines=False)
    for col in ("new configuration", "outcome", "canary %", "emulated min", "real s", "alarm fired"):
        table.add_column(col, overflow="fold")
    for d in result.deployments:
        table.add_row(
            d["new_config"],
            d["outcome"],
            f"{d['canary_percent']:g}",
            f"{d['emulated_s'] / 60:.1f}",
            f"{d['real_s']:.1f}",
            ", ".join(d["fired"]) or "-",
        )
    err.print(table)
    for line in result.deviations:
        err.print(f"[yellow]deviation:[/] {escape(line)}")
    s = result.steady
    err.print(
        f"steady API client: {s['requests']} requests, status {s['status']}, {s['fallback']} rule-based fallback "
        f"answers ({result.steady_outside_canary['fallback']} outside the broken canary's bake)"
    )
    verdict = "[green]every step behaved as expected[/]" if result.ok else "[bold red]a step misbehaved[/]"
    err.print(
        f"serving at the end: [bold]{result.serving}[/] (expected {result.expected_serving}); {verdict}"
    )
    _emit(as_json, result.as_dict())
    if not result.ok:
        raise typer.Exit(EXIT_FAILED)

"""`tricloud emulate aws`, `tricloud destroy aws --local` and `tricloud logs aws`: the whole platform offline.

Lifecycle: by default the run starts moto in this process, applies the stack, runs data -> Spark -> training ->
endpoint -> gateway, makes one real prediction, then destroys everything and stops every process it started.
With `--endpoint URL` (a moto server that outlives the run) the resources and the state file stay, so a later
`emulate` re-applies incrementally and `destroy --local` removes them.

Every failure a user can meet prints one red line (what failed) and one hint, and exits with status 2; `--debug`
shows the traceback instead. Another cloud's `emulate <cloud>` command reuses `fail`, `guarded` and `print_notes`.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

emulate_app = typer.Typer(
    help="Run a stack offline: emulators for the control plane, local processes for the compute.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()


@emulate_app.callback()
def _group() -> None:
    """Run a stack offline (a group even with one cloud, so `emulate aws` reads the same everywhere)."""


class Backend(StrEnum):
    moto = "moto"
    localstack = "localstack"


def fail(problem: str, fix: str, code: int = 2) -> None:
    first = problem.strip().splitlines()[0] if problem.strip() else "failed"
    err.print(f"[bold red]error:[/] {escape(first)}", soft_wrap=True)
    err.print(f"[red]->[/] {escape(fix)}", soft_wrap=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def guarded(debug: bool, fix: str) -> Iterator[None]:
    """Any exception becomes one red line and exit 2 (the traceback only with --debug)."""
    try:
        yield
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:
        if debug:
            raise
        fail(f"{type(exc).__name__}: {exc}", fix)


def print_notes(title: str, notes: list[str]) -> None:
    for note in notes:
        err.print(f"[yellow]{title}:[/] {escape(note)}", soft_wrap=True)


def _shown(path: Any) -> str:
    from tricloud.inventory import REPO_ROOT

    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def curl_example(url: str, region: str) -> str:
    from tricloud.emulate.platform import SAMPLE
    from tricloud.engine.emulator import ACCESS_KEY_ID, SECRET_ACCESS_KEY

    body = json.dumps({"instances": [SAMPLE]})
    return (
        f"curl -s --aws-sigv4 'aws:amz:{region}:execute-api' --user '{ACCESS_KEY_ID}:{SECRET_ACCESS_KEY}' "
        f"-H 'content-type: application/json' -d '{body}' {url}/predict"
    )


def _deviations(res: Any) -> None:
    if not res.deviations:
        return
    dev = Table(title="where the emulator differs from AWS (recorded in the state file)", show_lines=False)
    dev.add_column("resource", style="cyan")
    dev.add_column("deviation", style="yellow")
    seen: set[str] = set()
    for typ, name, msg in res.deviations:
        key = f"{typ.split(':')[-1]}:{msg}"
        if key not in seen:
            seen.add(key)
            dev.add_row(f"{typ.split(':')[-1]} {name}", msg)
    err.print(dev)


@emulate_app.command("aws")
def emulate_aws(
    stack: str = typer.Option(
        "dev", "--stack", "-s", help="Stack name: reads stacks/aws/Pulumi.<stack>.yaml."
    ),
    serve: bool = typer.Option(False, "--serve", help="Keep the gateway serving until Ctrl-C."),
    endpoint: str | None = typer.Option(
        None,
        "--endpoint",
        help="A running moto server (e.g. http://127.0.0.1:5000); resources and state persist.",
    ),
    backend: Backend = typer.Option(
        Backend.moto,
        "--backend",
        help="localstack: S3, IAM, KMS, CloudWatch, Logs on LocalStack; the rest on moto.",
    ),
    port: int = typer.Option(0, "--port", help="Gateway port on 127.0.0.1 (0: any free port)."),
    rows: int = typer.Option(5000, "--rows", min=100, max=2_000_000, help="Listings to generate."),
    fresh: bool = typer.Option(False, "--fresh", help="Discard a stale state file left by a crashed run."),
    apply_only: bool = typer.Option(
        False, "--apply-only", help="Apply the stack and stop (no data, Spark, training or serving)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a machine-readable summary on stdout."),
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of a failure."),
) -> None:
    """Apply stacks/aws to emulators and serve predictions end to end: lake, Spark, training, endpoint, API."""
    from tricloud.emulate.platform import Options, Platform, PlatformError
    from tricloud.emulate.processes import reap
    from tricloud.engine import Emulator, EmulatorError, StaleState, State, StateError, UnhandledResourceType
    from tricloud.engine.state import default_path
    from tricloud.inventory import REPO_ROOT, stack_config

    if port and not _port_free(port):
        fail(
            f"port {port} on 127.0.0.1 is already in use",
            "pick another with --port, or --port 0 for any free port",
        )
    if shutil.which("java") is None and not apply_only:
        fail(
            "Java is not installed: the Spark feature job needs a JRE 17",
            "apt-get install openjdk-17-jre-headless",
        )
    try:
        region = str(stack_config("aws", stack).get("aws:region", "ap-south-1"))
    except ValueError as exc:
        fail(str(exc), "pass --stack with a stack that has stacks/aws/Pulumi.<stack>.yaml")
    state_path = default_path(REPO_ROOT, "aws", stack)
    if fresh:
        with guarded(debug, f"delete {state_path} by hand"):
            print_notes("cleaned", reap(State.load(state_path)))
        state_path.unlink(missing_ok=True)
    try:
        emu = Emulator.start(region, endpoint=endpoint, backend=backend.value)
    except EmulatorError as exc:
        fail(str(exc), "start it, or drop --endpoint/--backend to use the in-process moto")
    keep = endpoint is not None
    platform: Platform | None = None
    summary: dict[str, Any] = {}
    try:
        with guarded(debug, "fix the cause and run again: the state file lets the apply resume"):
            try:
                platform = Platform(
                    emu, Options(stack=stack, rows=rows, gateway_port=port, state_path=state_path)
                )
                print_notes("cleaned up after an earlier run", platform.reaped)
                platform.on_phase = lambda name, detail, secs: err.print(
                    f"[green]✓[/] {name:<17} {secs:6.2f} s  {escape(detail)}"
                )
                summary = _run(platform, region, apply_only=apply_only, serve=serve)
            except StaleState as exc:
                fail(str(exc), "or pass --fresh to discard the file")
            except UnhandledResourceType as exc:
                fail(
                    str(exc),
                    "the state file keeps what was created; `tricloud destroy aws --local` removes it",
                )
            except (StateError, PlatformError, EmulatorError) as exc:
                fail(str(exc), "fix the cause and run again: the state file lets the apply resume")
    finally:
        if platform is not None:
            platform.close()
            if platform.engine is not None and platform.engine.started and not keep:
                try:
                    result = platform.engine.destroy()
                    if result.count(
                        "delete"
                    ):  # an apply refused before its first resource has nothing to report
                        err.print(
                            f"[dim]destroyed {result.count('delete')} resources in {result.seconds:.1f} s[/]"
                        )
                except Exception as exc:
                    err.print(f"[red]destroy failed: {escape(str(exc))}[/]")
        emu.stop()
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")


def _run(platform: Any, region: str, *, apply_only: bool, serve: bool) -> dict[str, Any]:
    with Progress(
        TextColumn("[bold]apply[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=None)

        def on_event(e: Any) -> None:
            if e.action != "record":
                progress.update(
                    task,
                    advance=1,
                    description=f"{e.action} {e.type.split(':')[-1]} {e.name} ({e.seconds * 1000:.0f} ms)",
                )

        if not apply_only:
            platform.prestart_spark()  # the JVM starts while the stack is applied
        platform.apply(on_event)
    res = platform.apply_result
    assert res is not None
    print_notes("recovered", [f"{t.split(':')[-1]} {n}: {m}" for t, n, m in res.recovered])
    _deviations(res)
    summary: dict[str, Any] = {
        "apply": res.summary(),
        "recovered": [{"type": t, "name": n, "message": m} for t, n, m in res.recovered],
        "deviations": [{"type": t, "name": n, "message": m} for t, n, m in res.deviations],
        "outputs": {k: str(v) for k, v in res.outputs.items()},
    }
    summary["iam"] = _print_iam(platform)
    if apply_only:
        return summary
    platform.upload_raw()
    platform.run_spark()
    from tricloud.query.demo import print_example

    print_example(platform, err)  # the demo's lake query: average price per city, from the emulated lake
    platform.train()
    platform.serve()
    platform.start_gateway()
    body = platform.smoke()
    url = platform.gateway_url
    summary.update(
        api_url=url,
        stack_api_url=res.outputs.get("api_url"),
        prediction=body,
        timings_seconds={k: round(v, 3) for k, v in platform.timings.items()},
        logs={k: str(v) for k, v in platform.gateway.log_files.items()},
    )
    err.print(f"\n[bold]API[/] {url}   (stack output api_url: {res.outputs.get('api_url')})")
    err.print("[bold]try it[/] (POST /predict needs an IAM signature, as on AWS):")
    err.print(curl_example(url, region), markup=False, highlight=False, soft_wrap=True)
    err.print(f"[bold]prediction[/] {body['predictions'][0]:,.0f} INR from model {body.get('model_version')}")
    for fn, path in platform.gateway.log_files.items():
        err.print(
            f"[bold]logs[/] of {fn} (audit lines, errors): {path}  (`tricloud logs aws`)", soft_wrap=True
        )
    if serve:
        from tricloud.emulate.canary import CanaryDeployer, DeploymentEngine

        # This process owns the fleets: it runs the blue/green canary of a rollout made from another terminal.
        def said(line: str) -> None:
            err.print(f"[dim]deployment:[/] {escape(line)}")

        deployments = DeploymentEngine(CanaryDeployer(platform, report=said), report=said).start()
        err.print(
            f"[dim]model rollouts (`tricloud model rollout aws --endpoint {platform.emulator.moto_url}`) run "
            "their canary here; serving; Ctrl-C to stop and clean up[/]"
        )
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
        try:
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait()
        finally:
            deployments.close()
    return summary


@emulate_app.command("run-as", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run_as(
    ctx: typer.Context,
    role: str = typer.Argument(..., help="One of the stack's roles: its name or ARN."),
    stack: str = typer.Option("dev", "--stack", "-s"),
    principal: str | None = typer.Option(
        None,
        "--principal",
        help="Who assumes the role: a service (sagemaker.amazonaws.com) or federated:<provider ARN>. "
        "Default: the one principal its trust policy names.",
    ),
    claims: list[str] = typer.Option(
        [],
        "--claim",
        help="KEY=VALUE context its trust conditions read, e.g. a web identity token's "
        "token.actions.githubusercontent.com:sub=repo:OWNER/REPO:environment:NAME (repeatable).",
    ),
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of a failure."),
) -> None:
    """Run a command as one of the stack's roles against its running emulator (a `--serve` run, or a deployment
    kept with `--endpoint`), with IAM enforced: `tricloud emulate run-as ROLE -- COMMAND [ARGS...]`. The command
    gets the role's session and the emulator's endpoints in the standard AWS_* variables; its exit status is ours."""
    import os
    import subprocess

    from tricloud.engine import State, iam
    from tricloud.engine.emulator import SIGN_AS_ENV, reachable
    from tricloud.engine.state import default_path
    from tricloud.inventory import REPO_ROOT

    command = list(ctx.args)
    if not command:
        fail("no command given", "tricloud emulate run-as ROLE -- COMMAND [ARGS...]")
    context: dict[str, str] = {}
    for claim in claims:
        key, sep, value = claim.partition("=")
        if not sep or not key:
            fail(
                f"--claim {claim!r}: expected KEY=VALUE",
                "e.g. --claim token.actions.githubusercontent.com:aud=sts.amazonaws.com",
            )
        context[key] = value
    path = default_path(REPO_ROOT, "aws", stack)
    with guarded(debug, f"the state file {path} may be damaged: look at it, or delete it"):
        state = State.load(path)
    url = state.emulator.get("moto_url")
    if not url or not reachable(url):
        fail(
            f"stack {stack!r} has no running emulator ({_shown(path)}: {url or 'no deployment'})",
            "start one: `tricloud emulate aws --serve` (another terminal) or `--endpoint URL`",
        )
    emu = _state_emulator(state, url, "start the emulator the state was written for")
    with emu, guarded(debug, "check the role name and its trust policy (`tricloud inventory aws`)"):
        arn = role if role.startswith("arn:") else emu.client("iam").get_role(RoleName=role)["Role"]["Arn"]
        who = _principal(emu, arn, principal)
        try:
            session = emu.assume_role(arn, who, context=context)
        except iam.IamError as exc:
            fail(str(exc), "pass --principal (and --claim for its trust conditions)")
    keep = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # SIGN_AS_ENV: a tricloud command inside (`tricloud model ... --endpoint`) signs as this session too.
    env = {**keep, **emu.env(), **session.env(), SIGN_AS_ENV: "environment"}
    err.print(f"[dim]as {session.session_arn} (assumed by {next(iter(who.values()))})[/]", highlight=False)
    raise typer.Exit(subprocess.run(command, env=env, check=False).returncode)


def _state_emulator(state: Any, url: str, fix: str) -> Any:
    """The emulator a state file was written against, at `url` (IAM enforced, as when it was applied)."""
    from tricloud.engine import Emulator, EmulatorError

    try:
        return Emulator.start(
            state.emulator.get("region", "ap-south-1"),
            endpoint=url,
            backend=state.emulator.get("backend", "moto"),
            localstack_url=state.emulator.get("localstack_url"),
        )
    except EmulatorError as exc:
        fail(str(exc), fix)


def _principal(emu: Any, role_arn: str, given: str | None) -> dict[str, str]:
    if given:
        if given.startswith("federated:"):
            return {"Federated": given.removeprefix("federated:")}
        return {"Service": given}
    trust = emu.client("iam").get_role(RoleName=role_arn.rsplit("/", 1)[-1])["Role"][
        "AssumeRolePolicyDocument"
    ]
    found = [
        {kind: name}
        for st in trust.get("Statement", [])
        if st.get("Effect") == "Allow" and isinstance(st.get("Principal"), dict)
        for kind, names in st["Principal"].items()
        if kind in ("Service", "Federated")
        for name in (names if isinstance(names, list) else [names])
    ]
    if len(found) != 1:
        fail(
            f"{role_arn}: its trust policy names {len(found)} service or federated principals",
            "pass --principal SERVICE or --principal federated:<provider ARN>",
        )
    return found[0]


def _print_iam(platform: Any) -> dict[str, Any]:
    """Tell the learner that IAM is enforced, who runs as which role, and where a denial would show."""
    from tricloud.engine import iam
    from tricloud.engine.emulator import LOCALSTACK_SERVICES

    emu = platform.emulator
    if not emu.enforce_iam:
        err.print("[yellow]IAM is not enforced: every call is allowed[/]")
        return {"enforced": False}
    ids = platform.identities()
    err.print(
        f"[bold]IAM enforced[/]: moto authenticates and authorizes every call; the stack was applied by IAM user "
        f"{iam.DEPLOYER}, and each workload runs as its role:"
    )
    for workload, (role, service) in ids.items():
        err.print(f"  {workload:<10} {role.rsplit('/', 1)[-1]}  (assumed by {service})", highlight=False)
    where = _shown(platform.denials_log)
    err.print(
        f"  a denied call fails its phase naming the action and the resource, and is logged to {where} "
        "(`tricloud logs aws`)",
        soft_wrap=True,
    )
    if emu.backend == "localstack":
        err.print(
            f"[yellow]  not on LocalStack: its free core does not evaluate IAM (ENFORCE_IAM is a LocalStack Pro "
            f"feature), so {', '.join(sorted(LOCALSTACK_SERVICES))} calls are allowed for anyone[/]",
            soft_wrap=True,
        )
    return {
        "enforced": True,
        "deployer": iam.DEPLOYER,
        "roles": {w: {"role": r, "assumed_by": s} for w, (r, s) in ids.items()},
        "denials_log": str(platform.denials_log),
        "not_enforced_on": sorted(LOCALSTACK_SERVICES) if emu.backend == "localstack" else [],
    }


def destroy(
    cloud: str = typer.Argument(..., help="aws"),
    local: bool = typer.Option(False, "--local", help="Destroy the emulated (offline) deployment."),
    stack: str = typer.Option("dev", "--stack", "-s"),
    endpoint: str | None = typer.Option(
        None, "--endpoint", help="Override the emulator URL recorded in the state."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of a failure."),
) -> None:
    """Delete an emulated deployment in reverse dependency order, what a killed run left (processes, folders,
    half-made resources), and what carries the stack's names or tags; then check the emulator is empty."""
    from tricloud.emulate.processes import reap
    from tricloud.engine import Engine, State
    from tricloud.engine.emulator import reachable
    from tricloud.engine.leftovers import leftovers
    from tricloud.engine.state import default_path
    from tricloud.inventory import REPO_ROOT

    if cloud != "aws":
        fail(f"cloud = {cloud!r}: only aws has a local engine", "use `tricloud destroy aws --local`")
    if not local:
        fail(
            "only --local is supported here",
            "a real deployment is destroyed with `pulumi destroy` in stacks/aws",
        )
    path = default_path(REPO_ROOT, cloud, stack)
    with guarded(debug, f"the state file {path} may be damaged: look at it, or delete it"):
        state = State.load(path)
        cleaned = reap(state)
        if state.run.get("pid") and not cleaned and (state.processes or state.workdirs):
            fail(
                f"stack {stack!r} is in use by a running tricloud process (pid {state.run['pid']})",
                "stop it first (Ctrl-C in its terminal)",
            )
        print_notes("stopped/removed (left by an earlier run)", cleaned)
        url = endpoint or state.emulator.get("moto_url")
        if not state.entries and not state.pending and not endpoint:
            err.print(f"nothing to destroy: {_shown(path)} has no resources")
            path.unlink(missing_ok=True)
            return
        if not endpoint and (state.emulator.get("in_process") or not url or not reachable(url)):
            err.print(
                f"[yellow]the emulator of {_shown(path)} ({url}) is gone, and its "
                f"{len(state.entries)} resources with it: forgetting the state file[/]"
            )
            path.unlink(missing_ok=True)
            return
    emu = _state_emulator(
        state, url, "start the emulator the state was written for, or delete the state file"
    )
    with emu, guarded(debug, "run it again: a destroy resumes where it stopped"):
        result = Engine(emu, stack=stack, state_path=path).destroy()
        left = leftovers(emu)
    print_notes("removed", [f"{t.split(':')[-1]} {n}: {m}" for t, n, m in result.recovered])
    err.print(f"[green]destroyed {result.count('delete')} resources in {result.seconds:.1f} s[/]")
    if left:
        err.print(
            f"[yellow]still in the emulator (not this stack's): {escape(json.dumps(left))}[/]", soft_wrap=True
        )
    else:
        err.print("the emulator is empty (buckets, roles, keys, functions, endpoints, apps, apis, alarms...)")


def logs(
    cloud: str = typer.Argument(..., help="aws"),
    stack: str = typer.Option("dev", "--stack", "-s"),
    lines: int = typer.Option(50, "--lines", "-n", min=1, help="How many of the last lines to print."),
    audit_only: bool = typer.Option(
        False, "--audit", help="Only the handler's audit lines (one per prediction)."
    ),
) -> None:
    """Print the emulated functions' logs (handler audit lines, errors, START/END/REPORT) of the last run."""
    from tricloud.engine.state import default_path
    from tricloud.inventory import REPO_ROOT

    if cloud != "aws":
        fail(f"cloud = {cloud!r}: only aws runs functions offline", "use `tricloud logs aws`")
    folder = default_path(REPO_ROOT, cloud, stack).parent / "logs" / f"{cloud}-{stack}"
    files = sorted(folder.glob("*.log")) if folder.is_dir() else []
    if not files:
        fail(f"no function logs under {folder}", "run `tricloud emulate aws` first")
    for f in files:
        text = f.read_text(encoding="utf-8", errors="replace").splitlines()
        if audit_only:
            # Text log format: the audit JSON as it is; JSON log format: escaped inside the line's "message".
            text = [ln for ln in text if '"event":"prediction"' in ln or '\\"event\\":\\"prediction\\"' in ln]
        err.print(f"[bold]{f.stem}[/] ({f})", soft_wrap=True)
        for ln in text[-lines:]:
            out.print(ln, markup=False, highlight=False, soft_wrap=True)


# `emulate azure` and `emulate gcp` (the serving halves under their real hosts) live in tricloud/emulate/hosts.
from tricloud.emulate.hosts.cli import register as _register_hosts  # noqa: E402

_register_hosts(emulate_app)


def main() -> None:  # pragma: no cover - `python -m tricloud.emulate.cli` for development
    emulate_app()


if __name__ == "__main__":  # pragma: no cover
    main()

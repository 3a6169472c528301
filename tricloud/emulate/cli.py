"""`tricloud emulate aws` and `tricloud destroy aws --local`: the whole platform offline, on loopback.

Lifecycle: by default the run starts moto in this process, applies the stack, runs data -> Spark -> training ->
endpoint -> gateway, makes one real prediction, then destroys everything and stops every process it started.
With `--endpoint URL` (a moto server that outlives the run) the resources and the state file stay, so a later
`emulate` re-applies incrementally and `destroy --local` removes them.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import socket
import sys
import threading
from enum import StrEnum
from typing import Any

import typer
from rich.console import Console
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
    err.print(f"[bold red]error:[/] {problem}\n[red]->[/] {fix}")
    raise typer.Exit(code)


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
    as_json: bool = typer.Option(False, "--json", help="Print a machine-readable summary on stdout."),
) -> None:
    """Apply stacks/aws to emulators and serve predictions end to end: lake, Spark, training, endpoint, API."""
    from tricloud.emulate.platform import Options, Platform, PlatformError
    from tricloud.engine import Emulator, EmulatorError, StaleState, StateError, UnhandledResourceType
    from tricloud.engine.state import default_path
    from tricloud.inventory import REPO_ROOT, stack_config
    from tricloud.query.demo import print_example

    if port and not _port_free(port):
        fail(
            f"port {port} on 127.0.0.1 is already in use",
            "pick another with --port, or --port 0 for any free port",
        )
    if shutil.which("java") is None:
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
        state_path.unlink(missing_ok=True)
    try:
        emu = Emulator.start(region, endpoint=endpoint, backend=backend.value)
    except EmulatorError as exc:
        fail(str(exc), "start it, or drop --endpoint/--backend to use the in-process moto")
    keep = endpoint is not None
    platform = Platform(emu, Options(stack=stack, rows=rows, gateway_port=port, state_path=state_path))
    platform.on_phase = lambda name, detail, secs: err.print(
        f"[green]✓[/] {name:<17} {secs:6.2f} s  {detail}"
    )
    summary: dict[str, Any] = {}
    try:
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

            platform.apply(on_event)
        res = platform.apply_result
        assert res is not None
        if res.deviations:
            dev = Table(
                title="where the emulator differs from AWS (recorded in the state file)", show_lines=False
            )
            dev.add_column("resource", style="cyan")
            dev.add_column("deviation", style="yellow")
            seen: set[str] = set()
            for typ, name, msg in res.deviations:
                key = f"{typ.split(':')[-1]}:{msg}"
                if key not in seen:
                    seen.add(key)
                    dev.add_row(f"{typ.split(':')[-1]} {name}", msg)
            err.print(dev)
        platform.upload_raw()
        platform.run_spark()
        print_example(platform, err)  # the demo's lake query: average price per city, from the emulated lake
        platform.train()
        platform.serve()
        platform.start_gateway()
        body = platform.smoke()
        url = platform.gateway_url
        summary = {
            "api_url": url,
            "stack_api_url": res.outputs.get("api_url"),
            "prediction": body,
            "apply": res.summary(),
            "timings_seconds": {k: round(v, 3) for k, v in platform.timings.items()},
            "deviations": [{"type": t, "name": n, "message": m} for t, n, m in res.deviations],
            "outputs": {k: str(v) for k, v in res.outputs.items()},
        }
        err.print(f"\n[bold]API[/] {url}   (stack output api_url: {res.outputs.get('api_url')})")
        err.print("[bold]try it[/] (POST /predict needs an IAM signature, as on AWS):")
        err.print(curl_example(url, region), markup=False, highlight=False, soft_wrap=True)
        err.print(
            f"[bold]prediction[/] {body['predictions'][0]:,.0f} INR from model {body.get('model_version')}"
        )
        if serve:
            err.print("[dim]serving; Ctrl-C to stop and clean up[/]")
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *a: stop.set())
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait()
    except StaleState as exc:
        fail(str(exc), "or pass --fresh to discard the file")
    except UnhandledResourceType as exc:
        fail(str(exc), "the state file keeps what was created; `tricloud destroy aws --local` removes it")
    except (StateError, PlatformError, EmulatorError) as exc:
        fail(str(exc), "fix the cause and run again: the state file lets the apply resume")
    finally:
        platform.close()
        if platform.engine is not None and platform.engine.started and not keep:
            try:
                result = platform.engine.destroy()
                if result.count("delete"):  # an apply refused before its first resource has nothing to report
                    err.print(
                        f"[dim]destroyed {result.count('delete')} resources in {result.seconds:.1f} s[/]"
                    )
            except Exception as exc:
                err.print(f"[red]destroy failed: {exc}[/]")
        emu.stop()
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")


def destroy(
    cloud: str = typer.Argument(..., help="aws"),
    local: bool = typer.Option(False, "--local", help="Destroy the emulated (offline) deployment."),
    stack: str = typer.Option("dev", "--stack", "-s"),
    endpoint: str | None = typer.Option(
        None, "--endpoint", help="Override the emulator URL recorded in the state."
    ),
) -> None:
    """Delete an emulated deployment in reverse dependency order and check the emulator is empty."""
    from tricloud.engine import Emulator, EmulatorError, Engine, State
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
    state = State.load(path)
    if not state.entries:
        err.print(f"nothing to destroy: {path.relative_to(REPO_ROOT)} has no resources")
        path.unlink(missing_ok=True)
        return
    url = endpoint or state.emulator.get("moto_url")
    if state.emulator.get("in_process") or not url or not reachable(url):
        err.print(
            f"[yellow]the emulator of {path.relative_to(REPO_ROOT)} ({url}) is gone, and its "
            f"{len(state.entries)} resources with it: forgetting the state file[/]"
        )
        path.unlink()
        return
    try:
        emu = Emulator.start(
            state.emulator.get("region", "ap-south-1"),
            endpoint=url,
            backend=state.emulator.get("backend", "moto"),
            localstack_url=state.emulator.get("localstack_url"),
        )
    except EmulatorError as exc:
        fail(str(exc), "start the emulator the state was written for, or delete the state file")
    with emu:
        result = Engine(emu, stack=stack, state_path=path).destroy()
        left = leftovers(emu)
    err.print(f"[green]destroyed {result.count('delete')} resources in {result.seconds:.1f} s[/]")
    if left:
        err.print(f"[yellow]still in the emulator (not created by this stack?): {json.dumps(left)}[/]")
    else:
        err.print("the emulator is empty (buckets, roles, keys, functions, endpoints, apps, apis, alarms...)")


def main() -> None:  # pragma: no cover - `python -m tricloud.emulate.cli` for development
    emulate_app()


if __name__ == "__main__":  # pragma: no cover
    main()

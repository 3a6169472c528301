"""`tricloud emulate azure` and `tricloud emulate gcp`: the serving half of each stack, offline, under real hosts.

Registered on the `emulate` group by `register()` (one hook in tricloud/emulate/cli.py). Same output as `emulate
aws`: each phase with its time, where the emulation differs from the cloud, a `curl` line, a real prediction; then
every process is stopped by PID and the run's temporary folder removed (`--serve` keeps it up until Ctrl-C).
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

err = Console(stderr=True)

STACK = typer.Option("dev", "--stack", "-s", help="Stack name: reads stacks/<cloud>/Pulumi.<stack>.yaml.")
ROWS = typer.Option(5000, "--rows", min=100, max=2_000_000, help="Listings to generate.")
SERVE = typer.Option(False, "--serve", help="Keep the function serving until Ctrl-C.")
AS_JSON = typer.Option(False, "--json", help="Print a machine-readable summary on stdout.")


def _fail(problem: str, fix: str) -> None:
    err.print(f"[bold red]error:[/] {problem}\n[red]->[/] {fix}")
    raise typer.Exit(2)


def curl_line(platform: Any) -> str:
    from tricloud.emulate.hosts.platform import SAMPLE

    body = json.dumps({"instances": [SAMPLE]})
    if platform.cloud == "azure":
        auth = f"-H 'x-functions-key: {platform.host.function_key}' "
        url = platform.predict_url()
    else:
        auth, url = "", f"{platform.function_host.url}/predict"
    return f"curl -s {auth}-H 'content-type: application/json' -d '{body}' {url}"


def run(cloud: str, stack: str, rows: int, serve: bool, as_json: bool) -> None:
    from components.errors import InvalidArgs
    from tricloud.emulate.hosts.platform import HostPlatformError, Options

    if cloud == "azure":
        from tricloud.emulate.hosts.azure import AzurePlatform as Platform
    else:
        from tricloud.emulate.hosts.gcp import GcpPlatform as Platform  # type: ignore[assignment]

    platform = Platform(Options(stack=stack, rows=rows))
    platform.on_phase = lambda name, detail, secs: err.print(
        f"[green]✓[/] {name:<17} {secs:6.2f} s  {detail}"
    )
    summary: dict[str, Any] = {}
    try:
        body = platform.run()
        dev = Table(title=f"where this run differs from {cloud.upper()}", show_lines=False)
        dev.add_column("part", style="cyan")
        dev.add_column("deviation", style="yellow")
        for part, detail in platform.deviations:
            dev.add_row(part, detail)
        err.print(dev)
        fallback = platform.details["fallback"]
        url = platform.predict_url() if cloud == "azure" else f"{platform.function_host.url}/predict"
        err.print(f"\n[bold]API[/] {url}   (stack output api_url: {platform.outputs.get('api_url')})")
        err.print("[bold]try it[/]:")
        err.print(curl_line(platform), markup=False, highlight=False, soft_wrap=True)
        err.print(f"[bold]prediction[/] {body['predictions'][0]:,.0f} INR from model {body['model_version']}")
        err.print(
            f"[bold]fallback[/] with the endpoint down: {fallback['response']['predictions'][0]:,.0f} INR "
            f"({fallback['response']['model_version']}); its audit line:"
        )
        err.print(json.dumps(fallback["audit"][-1]), markup=False, highlight=False, soft_wrap=True)
        summary = {
            "cloud": cloud,
            "workdir": str(platform.workdir),  # removed on exit; tests check nothing is left in it
            "api_url": url,
            "stack_api_url": platform.outputs.get("api_url"),
            "prediction": body,
            "fallback": fallback["response"],
            "audit": fallback["audit"],
            "timings_seconds": {k: round(v, 3) for k, v in platform.timings.items()},
            "deviations": [{"part": p, "deviation": d} for p, d in platform.deviations],
        }
        if serve:
            err.print("[dim]serving; Ctrl-C to stop and clean up[/]")
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *a: stop.set())
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait()
    except InvalidArgs as exc:
        _fail(str(exc), f"fix stacks/{cloud}/Pulumi.{stack}.yaml")
    except HostPlatformError as exc:
        _fail(str(exc), "fix the cause and run again (nothing is kept between runs)")
    finally:
        platform.close()
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")


def emulate_azure(stack: str = STACK, rows: int = ROWS, serve: bool = SERVE, as_json: bool = AS_JSON) -> None:
    """Serve stacks/azure offline: Azurite, the image as Azure ML runs it, the Function App under the Python worker.

    Trains with the Azure ML command job contract, serves with Azure ML's model mount behind a key-authenticated
    scoring URI, and sends one prediction and one fallback through the function.
    """
    run("azure", stack, rows, serve, as_json)


def emulate_gcp(stack: str = STACK, rows: int = ROWS, serve: bool = SERVE, as_json: bool = AS_JSON) -> None:
    """Serve stacks/gcp offline: the GCS emulator, the image as Vertex runs it, the function under functions-framework.

    Trains as a Vertex custom job, serves with Vertex's AIP_* environment behind a loopback Vertex API (token from a
    metadata server), and sends one prediction and one fallback through the function.
    """
    run("gcp", stack, rows, serve, as_json)


def register(app: typer.Typer) -> None:
    app.command("azure")(emulate_azure)
    app.command("gcp")(emulate_gcp)

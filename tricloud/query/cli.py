"""`tricloud query aws "SQL"`: Athena-dialect SQL over the emulated lake, in the stack's workgroup.

Where the lake comes from, in this order:
1. `--endpoint URL`, or the emulator recorded in `.tricloud/aws-<stack>.json` while it still answers: a
   `tricloud emulate aws --serve` session (another terminal) or an `--endpoint` moto server. Queries take well
   under a second there.
2. Otherwise (for example after `make demo`, which tears its lake down): a throwaway lake is built for this one
   query, as the demo builds it (apply the stack into an in-process moto, generate the data, run the Spark job,
   register the table), queried, and destroyed. About half a minute, mostly Spark.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

err = Console(stderr=True)
out = Console()


class QueryCloud(StrEnum):
    aws = "aws"
    azure = "azure"
    gcp = "gcp"


def fail(problem: str, fix: str = "", code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {problem}" + (f"\n[red]->[/] {fix}" if fix else ""), highlight=False)
    raise typer.Exit(code)


def running_lake(stack: str, endpoint: str | None) -> tuple[Any, dict[str, Any]] | None:
    """(emulator, stack outputs) of a lake that is up, or None."""
    from tricloud.engine import Emulator, EmulatorError, State
    from tricloud.engine.emulator import reachable
    from tricloud.engine.state import default_path
    from tricloud.inventory import REPO_ROOT

    state = State.load(default_path(REPO_ROOT, "aws", stack))
    url = endpoint or state.emulator.get("moto_url")
    if not url or not reachable(url):
        if endpoint:
            fail(f"--endpoint {endpoint}: no emulator answers there", "start it, or drop --endpoint")
        return None
    if "query_endpoint" not in state.outputs:
        if endpoint:
            fail(
                f"{endpoint} answers, but no applied stack is recorded for it in .tricloud/aws-{stack}.json",
                f"apply it first: tricloud emulate aws --endpoint {endpoint}",
            )
        return None
    try:
        emu = Emulator.start(str(state.emulator.get("region", "ap-south-1")), endpoint=url)
    except EmulatorError as exc:
        fail(str(exc))
    return emu, dict(state.outputs)


def throwaway_lake(stack: str) -> tuple[Any, Any]:
    """A lake built for one query: in-process moto, the stack applied, data, Spark, the table registered."""
    from tricloud.emulate.platform import Options, Platform
    from tricloud.engine import Emulator
    from tricloud.inventory import stack_config

    if shutil.which("java") is None:
        fail(
            "no emulated lake is running, and building one needs Java for Spark",
            "apt-get install openjdk-17-jre-headless",
        )
    region = str(stack_config("aws", stack).get("aws:region", "ap-south-1"))
    err.print(
        "[yellow]no emulated lake is running[/] (keep one with [bold]tricloud emulate aws --serve[/] in another "
        "terminal for fast queries): building a throwaway lake for this query (apply, data, Spark; ~30 s)"
    )
    emu = Emulator.start(region)
    state_dir = Path(tempfile.mkdtemp(prefix="tricloud-query-"))
    platform = Platform(emu, Options(stack=stack, state_path=state_dir / "state.json"))
    platform.on_phase = lambda name, detail, secs: err.print(f"[green]✓[/] {name:<8} {secs:6.2f} s  {detail}")
    try:
        platform.apply()
        platform.upload_raw()
        platform.run_spark()  # registers the curated table at its end (tricloud.query.demo.register_run)
    except Exception as exc:  # a phase failed: stop what was started, then say which phase and why
        _teardown(platform, emu)
        fail(f"building the throwaway lake failed: {exc}")
    return emu, platform


def query(
    cloud: QueryCloud = typer.Argument(..., help="aws (Azure and GCP: see docs/query.md)"),
    sql: str = typer.Argument(
        ..., help="Athena (Trino) SQL, one SELECT query; tables default to the lake's database."
    ),
    stack: str = typer.Option(
        "dev", "--stack", "-s", help="Stack name: reads stacks/aws/Pulumi.<stack>.yaml."
    ),
    endpoint: str | None = typer.Option(
        None,
        "--endpoint",
        help="The moto server holding the applied stack (default: the one in the state file).",
    ),
    database: str | None = typer.Option(
        None, "--database", "-d", help="Default database (default: the lake's)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the execution and its rows as JSON on stdout."),
) -> None:
    """Run Athena SQL over the emulated lake: the stack's Glue catalog and workgroup, DuckDB over its S3."""
    from tricloud.query.catalog import session
    from tricloud.query.demo import render
    from tricloud.query.engine import QueryFailed

    if cloud is not QueryCloud.aws:
        fail(
            f"cloud = {cloud.value!r}: offline SQL runs on the AWS emulation only",
            "on Azure and GCP run the same query with Synapse or BigQuery (docs/query.md)",
        )
    lake = running_lake(stack, endpoint)
    platform = None
    if lake is None:
        emu, platform = throwaway_lake(stack)
        outputs = platform.outputs
    else:
        emu, outputs = lake
    try:
        result = session(emu, outputs, database).run(sql)
    except QueryFailed as exc:
        if as_json:
            doc = {
                "QueryExecutionId": exc.query_execution_id,
                "State": exc.state,
                "StateChangeReason": exc.reason,
            }
            sys.stdout.write(json.dumps({**doc, "Detail": exc.detail}, indent=2) + "\n")
        fail(f"query {exc.state}: {exc.reason}" + (f" ({exc.detail})" if exc.detail else ""))
    finally:
        if platform is not None:
            _teardown(platform, emu)
        elif lake is not None:
            emu.stop()
    if as_json:
        sys.stdout.write(json.dumps(result.as_json(), indent=2, default=str) + "\n")
        return
    out.print(render(result))
    err.print(
        f"[dim]{len(result.rows)} rows; {result.data_scanned_bytes:,} bytes scanned in workgroup {result.workgroup} "
        f"(query {result.query_execution_id}); results: {result.output_location}[/]",
        highlight=False,
    )


def _teardown(platform: Any, emu: Any) -> None:
    platform.close()
    try:
        if platform.engine is not None and platform.engine.started:
            platform.engine.destroy()
    finally:
        emu.stop()

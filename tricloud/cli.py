"""The `tricloud` command line: inventory, data, cost, pricing, emulate, destroy, model.

Each group lives next to the code it drives; this module only assembles them and turns the errors users can fix
(bad config, a bad option) into one red line with exit code 2 instead of a traceback.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum

import typer
from rich.console import Console
from rich.table import Table

from components.errors import InvalidArgs

app = typer.Typer(
    name="tricloud",
    help="One ML platform on AWS, Azure and GCP: inventories, offline emulation, cost reports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
err = Console(stderr=True)
out = Console()


class Cloud(StrEnum):
    aws = "aws"
    azure = "azure"
    gcp = "gcp"


@app.command()
def inventory(
    cloud: Cloud = typer.Argument(
        None, help="The stack to inventory: aws, azure or gcp.", show_default=False
    ),
    stack: str = typer.Option(
        "dev", "--stack", "-s", help="Stack name: reads stacks/<cloud>/Pulumi.<stack>.yaml."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the machine-readable inventory."),
    matrix: bool = typer.Option(
        False, "--matrix", help="Print the concept-by-cloud table of resource types."
    ),
) -> None:
    """Run a stack program under Pulumi mocks (no CLI, no cloud) and list every resource it registers."""
    if matrix:
        from tricloud import matrix as mx

        table = mx.concept_matrix(stack)
        out.print(
            mx.render_markdown(table) if not as_json else json.dumps(table, indent=2, sort_keys=True),
            markup=False,
            highlight=False,
        )
        return
    if cloud is None:
        raise typer.BadParameter("give a cloud (aws, azure, gcp) or --matrix", param_hint="CLOUD")
    from tricloud.inventory import build_inventory

    with err.status(f"Running stacks/{cloud.value} under Pulumi mocks..."):
        inv = build_inventory(cloud.value, stack)
    if as_json:
        sys.stdout.write(json.dumps(inv, indent=2, sort_keys=True) + "\n")
        return
    table = Table(
        title=f"tricloud {cloud.value} / {stack} ({inv.get('region', '')}): {len(inv['resources'])} resources"
    )
    table.add_column("type", style="cyan")
    table.add_column("name")
    table.add_column("parent", style="dim")
    for r in inv["resources"]:
        table.add_row(r["type"], r["name"], r["parent"] or "")
    out.print(table)
    outputs = Table(title="outputs")
    outputs.add_column("name", style="green")
    outputs.add_column("value", overflow="fold")
    for k, v in sorted(inv["outputs"].items()):
        outputs.add_row(k, str(v))
    out.print(outputs)


def _register_groups() -> None:
    """Sub-commands owned by their packages."""
    from tricloud.data_cli import app as data_app

    app.add_typer(data_app, name="data", help="Generate the demo data set (Indian house listings).")
    from tricloud.cost.cli import cost_app, pricing_app
    from tricloud.emulate.cli import destroy, emulate_app, logs

    app.add_typer(cost_app, name="cost")
    app.add_typer(pricing_app, name="pricing")
    app.add_typer(emulate_app, name="emulate")
    app.command("destroy")(destroy)
    app.command("logs")(logs)
    from tricloud.policy.cli import policy_app

    app.add_typer(policy_app, name="policy")
    from tricloud.query.cli import query

    app.command("query")(query)
    from tricloud.model.cli import model_app

    app.add_typer(model_app, name="model")
    from tricloud.monitor.cli import monitor_app

    app.add_typer(monitor_app, name="monitor")
    from tricloud.scripts import app as script_app

    app.add_typer(script_app, name="script")


_register_groups()


def main() -> None:
    try:
        app()
    except InvalidArgs as e:
        err.print(f"[bold red]error:[/] invalid configuration: [bold]{e.field}[/] = {e.value!r}: {e.reason}")
        sys.exit(2)

"""`tricloud policy check aws|azure|gcp` and `tricloud policy list`: the policy pack, offline.

`check` exits 1 when a mandatory policy is violated (a finding no `tricloud:policy` exception excuses), 2 on an
invalid config, 0 otherwise; advisory findings are printed but never fail it.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from tricloud.policy.model import CLOUDS, MANDATORY

if TYPE_CHECKING:
    from tricloud.policy.evaluate import Report

policy_app = typer.Typer(
    help="Security policies (checkov IDs, CIS controls): check a stack offline, list the catalogue.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()

PolicyCloud = StrEnum("PolicyCloud", {c: c for c in CLOUDS})  # type: ignore[misc]


@policy_app.command("check")
def check(
    cloud: PolicyCloud = typer.Argument(..., help="The stack to check: aws, azure or gcp."),  # type: ignore[valid-type]
    stack: str = typer.Option(
        "dev", "--stack", "-s", help="Stack name: reads stacks/<cloud>/Pulumi.<stack>.yaml."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the machine-readable report."),
) -> None:
    """Evaluate the policy pack on a stack's resources offline (Pulumi mocks, no CLI, no cloud)."""
    from tricloud.policy.evaluate import check_stack

    with err.status(f"Running stacks/{cloud.value} under Pulumi mocks and evaluating its policies..."):
        report = check_stack(cloud.value, stack)
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict(), indent=2, sort_keys=True) + "\n")
    else:
        render(report)
    raise typer.Exit(1 if report.mandatory else 0)


def render(report: Report) -> None:
    title = f"tricloud {report.cloud} / {report.stack}: {len(report.policies)} policies on {report.resources} resources"
    if report.violations:
        table = Table(title=title)
        table.add_column("level")
        table.add_column("policy", style="cyan")
        table.add_column("resource")
        table.add_column("finding", overflow="fold")
        table.add_column("checkov / CIS", style="dim", overflow="fold")
        for v in report.violations:
            level = "[bold red]mandatory[/]" if v.level == MANDATORY else "[yellow]advisory[/]"
            refs = ", ".join([*v.checkov, *([v.cis] if v.cis else [])])
            table.add_row(level, v.policy, v.resource, v.message, refs)
        out.print(table)
        fixes = Table(title="remediation", show_header=False)
        for policy, remediation in sorted({(v.policy, v.remediation) for v in report.violations}):
            fixes.add_row(f"[cyan]{policy}[/]", remediation)
        out.print(fixes)
    else:
        out.print(f"[bold]{title}[/]: no findings")
    if report.excused:
        excused = Table(title="exceptions (tricloud:policy)")
        excused.add_column("policy", style="cyan")
        excused.add_column("resource")
        excused.add_column("finding", overflow="fold")
        excused.add_column("reason", overflow="fold")
        for e in report.excused:
            excused.add_row(e.policy, e.resource, e.message, e.reason)
        out.print(excused)
    for e in report.unused_exceptions:
        err.print(
            f"[yellow]warning:[/] exception {e.policy} on {e.resource}"
            f"{f' ({e.item})' if e.item else ''} excuses nothing any more: remove it from tricloud:policy"
        )
    mandatory, advisory = len(report.mandatory), len(report.advisory)
    verdict = "[bold red]FAILED[/]" if mandatory else "[bold green]passed[/]"
    out.print(
        f"{verdict}: {mandatory} mandatory, {advisory} advisory, {len(report.excused)} excused; "
        f"{len(report.passed())}/{len(report.policies)} policies without findings"
    )


@policy_app.command("list")
def list_policies(
    cloud: PolicyCloud | None = typer.Option(None, "--cloud", help="Only this cloud's policies."),  # type: ignore[valid-type]
    markdown: bool = typer.Option(False, "--markdown", help="Print the Markdown table of docs/security.md."),
    as_json: bool = typer.Option(False, "--json", help="Print the catalogue as JSON."),
) -> None:
    """The policy catalogue: id, level, checkov IDs, CIS control, what it checks and how to fix it."""
    from tricloud.policy.catalog import catalogue, markdown_table

    rules = catalogue(cloud.value if cloud else None)
    if markdown:
        sys.stdout.write(markdown_table(rules))
        return
    if as_json:
        sys.stdout.write(json.dumps(rules, indent=2) + "\n")
        return
    table = Table(title=f"{len(rules)} policies")
    for column in ("id", "level", "checkov", "CIS", "checks"):
        table.add_column(column, overflow="fold")
    for r in rules:
        table.add_row(r["id"], r["level"], ", ".join(r["checkov"]), r["cis"] or "", r["title"])
    out.print(table)

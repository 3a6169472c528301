"""`tricloud monitor`: drift on your own files, the stack's drift job, reference publishing, guarded retraining,
and the offline AWS scenario (docs/monitoring.md).

Exit codes: 0 done (no drift), 3 drift or degraded performance found (`drift`) or a guard said no (`retrain`),
2 bad usage, config or mismatched schemas (one red line naming the field or column), 1 anything else.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from components.errors import InvalidArgs

monitor_app = typer.Typer(
    help="Watch the model: drift on your files, the drift job, references, guarded retraining, offline scenario.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_FOUND = 0, 1, 2, 3


def _fail(field: str, value: Any, reason: str, as_json: bool, command: str) -> None:
    err.print(f"[bold red]error:[/] [bold]{field}[/] = {value!r}: {reason}", highlight=False, soft_wrap=True)
    if as_json:
        sys.stdout.write(
            json.dumps({"ok": False, "command": command, "field": field, "error": reason}) + "\n"
        )
    raise typer.Exit(EXIT_USAGE)


def print_result(summary: dict[str, Any]) -> None:
    table = Table(title=f"drift: {summary['status']} ({summary['rows']} rows)", title_justify="left")
    for col in ("field", "kind", "test", "statistic", "p (Holm)", "effect", "drifted"):
        table.add_column(col, justify="left" if col in ("field", "kind", "test") else "right")
    rows = list(summary["features"]) + ([summary["prediction"]] if summary.get("prediction") else [])
    for f in rows:
        table.add_row(
            f["name"], f["kind"], f["test"], f"{f['statistic']:.4f}", f"{f['p_adjusted']:.3g}",
            f"{f['effect']:.3f}", "[bold red]yes[/]" if f["drifted"] else "no",
        )  # fmt: skip
    err.print(table)
    perf = summary.get("performance") or {}
    if perf.get("metrics"):
        err.print(f"ground truth: {perf['matched_rows']} rows, MAPE {perf['metrics']['mape']:.3f} "
                  f"(limit {perf.get('mape_limit')}): {perf['status']}")  # fmt: skip


@monitor_app.command("drift")
def drift(
    reference: Path = typer.Option(
        ..., "--reference", help="reference.json, model folder/model.tar.gz, or data."
    ),
    current: Path = typer.Option(..., "--current", help="Capture files or CSV/Parquet/JSON-lines rows."),
    html: Path | None = typer.Option(None, "--html", help="Write the HTML report here."),
    as_json: bool = typer.Option(False, "--json", help="Print the JSON summary on stdout."),
    alpha: float = typer.Option(0.05, help="Family-wise false-alarm rate (Holm-Bonferroni)."),
    numeric_effect: float = typer.Option(0.1, help="Wasserstein distance in reference SDs that counts."),
    categorical_effect: float = typer.Option(0.1, help="Jensen-Shannon distance that counts."),
    min_rows: int = typer.Option(200, help="Fewer current rows: not judged."),
    ground_truth: Path | None = typer.Option(None, "--ground-truth", help="request_id,row,price_inr rows."),
) -> None:
    """Compare a current window with a reference; exit 3 when drift (or degraded performance) is found."""
    from app.monitor import performance
    from app.monitor.drift import Thresholds, compare
    from app.monitor.profile import SchemaMismatch
    from app.monitor.report import render_html, summarize
    from tricloud.monitor.files import load_current, load_reference

    thresholds = Thresholds(alpha, numeric_effect, categorical_effect, min_rows)
    try:
        thresholds.check()
    except ValueError as exc:
        _fail("thresholds", None, str(exc), as_json, "drift")
    try:
        profile = load_reference(reference)
    except (SchemaMismatch, json.JSONDecodeError, OSError, ValueError) as exc:
        _fail("--reference", str(reference), str(exc), as_json, "drift")
    try:
        window = load_current(current, profile)
    except (SchemaMismatch, OSError, ValueError) as exc:
        _fail("--current", str(current), f"does not match the reference: {exc}", as_json, "drift")
    perf = None
    if ground_truth is not None:
        try:
            truth = performance.ground_truth_from_bytes(ground_truth.read_bytes(), ground_truth.name)
        except (OSError, ValueError) as exc:
            _fail("--ground-truth", str(ground_truth), str(exc), as_json, "drift")
        perf = performance.check(window, truth, profile.metrics)
    result = compare(profile, window, thresholds)
    summary = summarize(profile, window, result, performance=perf, source=str(current))
    if html is not None:
        html.write_text(render_html(profile, window, summary), encoding="utf-8")
        err.print(f"report: {html}")
    print_result(summary)
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
    found = summary["alarm"]
    err.print(("[bold red]drift found[/]: " + ", ".join(summary["drifted_features"] or ["prediction"]))
              if found else f"[green]no drift[/] ({summary['status']})")  # fmt: skip
    raise typer.Exit(EXIT_FOUND if found else EXIT_OK)


def register_more() -> None:
    """The stack-facing commands live in their own modules (imported lazily: they pull boto3 and the engine)."""
    from tricloud.monitor import commands  # noqa: F401


try:
    register_more()
except ImportError as exc:  # pragma: no cover - a broken install should still offer `drift`
    err.print(f"[yellow]tricloud monitor: stack commands unavailable ({exc})[/]")


def _invalid(e: InvalidArgs, as_json: bool, command: str) -> None:
    _fail(e.field, e.value, e.reason, as_json, command)

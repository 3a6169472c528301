"""``tricloud data ...``: synthetic Indian house listings for the demo platform."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Generate synthetic Indian house listings (CSV or Parquet) for the demo model.")
console = Console()
err_console = Console(stderr=True)


@app.callback()
def _group() -> None:
    """Keep ``generate`` a named subcommand even while it is the only one."""


@app.command()
def generate(
    rows: int = typer.Option(10_000, "--rows", help="number of listings to write"),
    out: Path = typer.Option(..., "--out", help="output file; .csv or .parquet decides the format"),
    seed: int = typer.Option(42, "--seed", help="random seed; the same seed gives the same file"),
    malformed_fraction: float = typer.Option(
        0.0, "--malformed-fraction", help="share of deliberately broken rows (0-1) to exercise validation"
    ),
) -> None:
    """Write ROWS listings (city, tier, area, rooms, age, floor, parking, furnishing, metro, price)."""
    if rows < 1 or rows > 50_000_000:
        _fail("--rows", rows, "must be between 1 and 50000000")
    if not 0.0 <= malformed_fraction <= 1.0:
        _fail("--malformed-fraction", malformed_fraction, "must be between 0 and 1")
    if out.suffix.lower() not in (".csv", ".parquet", ".pq"):
        _fail("--out", str(out), "must end in .csv or .parquet")

    from app.data import generate as make
    from app.data import write_listings

    frame = make(rows, seed=seed, malformed_fraction=malformed_fraction)
    path = write_listings(frame, out)
    table = Table(title=f"{rows} listings -> {path}", show_header=True)
    table.add_column("city")
    table.add_column("rows", justify="right")
    table.add_column("median price (INR)", justify="right")
    prices = frame["price_inr"].map(lambda v: v if isinstance(v, int | float) else None).astype(float)
    cities = frame["city"].map(lambda c: c if isinstance(c, str) else "(missing)")
    for city, group in prices.groupby(cities):
        table.add_row(str(city), str(len(group)), f"{group.median():,.0f}" if group.notna().any() else "-")
    console.print(table)
    console.print(
        f"seed {seed}, malformed rows {round(rows * malformed_fraction)} ({malformed_fraction:.1%}), "
        f"format {path.suffix.lstrip('.')}"
    )


def _fail(option: str, value: object, message: str) -> None:
    err_console.print(f"[red]error:[/red] {option} {message}, got {value!r}")
    raise typer.Exit(code=2)

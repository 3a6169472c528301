"""Typer apps for the main CLI: `tricloud cost [...]`, `tricloud cost diff`, `tricloud pricing refresh`.

The lead wires them in with `app.add_typer(cost_app, name="cost")` and
`app.add_typer(pricing_app, name="pricing")`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from tricloud.cost.catalogs import Catalog, CatalogError, load_catalog
from tricloud.cost.diff import DiffInputError, diff_reports, load_report_or_inventory, render_diff_markdown
from tricloud.cost.estimator import (
    CLOUDS,
    REGION_SETS,
    InventoryError,
    InventoryLoader,
    default_loader,
    estimate_clouds,
)
from tricloud.cost.profile import ProfileError, UsageProfile, load_profile
from tricloud.cost.refresh import RefreshError, refresh, save_catalog
from tricloud.cost.render import FORMATS, render
from tricloud.cost.report import build_report

cost_app = typer.Typer(
    help="Monthly cost of the stacks on AWS, Azure and GCP from the pricing catalog and a usage profile.",
    no_args_is_help=False,
)
pricing_app = typer.Typer(help="Maintain the pricing catalog (tricloud/cost/catalog).")

CloudsOpt = Annotated[str, typer.Option("--clouds", help="Comma-separated clouds: aws,azure,gcp.")]
RegionSetOpt = Annotated[
    str, typer.Option("--region-set", help="india (Mumbai/Central India/asia-south1) or us.")
]
ProfileOpt = Annotated[str, typer.Option("--profile", help="learner, startup, production, or a YAML file.")]
StackOpt = Annotated[str, typer.Option("--stack", help="Stack whose inventory is built.")]
InventoryOpt = Annotated[
    list[Path] | None,
    typer.Option("--inventory", help="Inventory JSON file(s) to price instead of building the stacks."),
]
CatalogOpt = Annotated[
    Path | None, typer.Option("--catalog", help="Catalog directory (default: the shipped one).")
]
OutOpt = Annotated[
    Path | None, typer.Option("--out", help="Write the output to this file instead of stdout.")
]
ProxyOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--proxy-region",
        help="CLOUD=REGION: price meters missing in the region set from this region instead (repeatable). "
        "Opt-in: every such figure is marked ~ and named in the notes.",
    ),
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _parse_clouds(value: str) -> list[str]:
    clouds = [c.strip() for c in value.split(",") if c.strip()]
    bad = [c for c in clouds if c not in CLOUDS]
    if not clouds or bad:
        raise _fail(f"--clouds must be a comma-separated subset of {','.join(CLOUDS)}, got {value!r}")
    return clouds


def _check_choice(option: str, value: str, choices: tuple[str, ...] | list[str]) -> None:
    if value not in choices:
        raise _fail(f"{option} must be one of {', '.join(choices)}, got {value!r}")


def _inventory_loader(files: list[Path] | None) -> InventoryLoader:
    if not files:
        return default_loader
    by_cloud: dict[str, dict[str, Any]] = {}
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise _fail(f"--inventory {path}: cannot read JSON ({exc})") from exc
        if not isinstance(data, dict) or data.get("cloud") not in CLOUDS:
            raise _fail(f"--inventory {path}: expected an inventory with 'cloud' in {CLOUDS}")
        by_cloud[data["cloud"]] = data

    def load(cloud: str, stack: str) -> dict[str, Any]:
        if cloud not in by_cloud:
            raise FileNotFoundError(f"no --inventory file given for {cloud}")
        return by_cloud[cloud]

    return load


def _parse_proxies(values: list[str] | None) -> dict[str, str]:
    proxies: dict[str, str] = {}
    for value in values or []:
        cloud, sep, region = value.partition("=")
        if not sep or cloud.strip() not in CLOUDS or not region.strip():
            raise _fail(
                f"--proxy-region must be CLOUD=REGION with CLOUD one of {', '.join(CLOUDS)}, got {value!r}"
            )
        proxies[cloud.strip()] = region.strip()
    return proxies


def _setup(profile: str, catalog_dir: Path | None, inr_rate: float | None, inr_rate_date: str | None,
           region_set: str) -> tuple[UsageProfile, Catalog]:  # fmt: skip
    _check_choice("--region-set", region_set, sorted(REGION_SETS))
    if inr_rate is not None and inr_rate <= 0:
        raise _fail(f"--inr-rate must be > 0, got {inr_rate}")
    try:
        usage = load_profile(profile)
        catalog = load_catalog(catalog_dir).with_fx(inr_rate, inr_rate_date)
    except (ProfileError, CatalogError) as exc:
        raise _fail(str(exc)) from exc
    return usage, catalog


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}", err=True)


def current_report(clouds: str, region_set: str, profile: str, stack: str, inventory: list[Path] | None,
                   catalog_dir: Path | None, inr_rate: float | None = None, inr_rate_date: str | None = None,
                   free_tier: bool | None = None, proxy_region: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
    selected = _parse_clouds(clouds)
    proxies = _parse_proxies(proxy_region)
    usage, catalog = _setup(profile, catalog_dir, inr_rate, inr_rate_date, region_set)
    loader = _inventory_loader(inventory)
    try:
        estimates = estimate_clouds(
            selected, region_set, catalog, usage, stack=stack, loader=loader,
            always_free=None if free_tier is None else free_tier, new_account=None if free_tier is None else free_tier,
            proxy_regions=proxies,
        )  # fmt: skip
    except InventoryError as exc:
        raise _fail(str(exc)) from exc
    return build_report(
        estimates, profile=usage, catalog=catalog, region_set=region_set, proxy_regions=proxies
    )


@cost_app.callback(invoke_without_command=True)
def cost(
    ctx: typer.Context,
    clouds: CloudsOpt = "aws,azure,gcp",
    region_set: RegionSetOpt = "india",
    profile: ProfileOpt = "startup",
    fmt: Annotated[str, typer.Option("--format", help=f"One of {', '.join(FORMATS)}.")] = "table",
    out: OutOpt = None,
    stack: StackOpt = "dev",
    inventory: InventoryOpt = None,
    catalog_dir: CatalogOpt = None,
    inr_rate: Annotated[
        float | None, typer.Option("--inr-rate", help="INR per USD (default: catalog fx.yaml).")
    ] = None,
    inr_rate_date: Annotated[str | None, typer.Option("--inr-rate-date", help="Date of --inr-rate.")] = None,
    free_tier: Annotated[
        bool | None,
        typer.Option(
            "--free-tier/--no-free-tier",
            help="Apply all free tiers, always-free and first-12-months (default: as the profile says).",
        ),
    ] = None,
    proxy_region: ProxyOpt = None,
) -> None:
    """Monthly cost per cloud: a summary, the comparison per concept, and the cost of every resource.

    A figure that includes a missing price is shown as a lower bound and is never marked cheapest.
    """
    if ctx.invoked_subcommand is not None:
        return
    _check_choice("--format", fmt, FORMATS)
    report = current_report(
        clouds,
        region_set,
        profile,
        stack,
        inventory,
        catalog_dir,
        inr_rate,
        inr_rate_date,
        free_tier,
        proxy_region,
    )
    _emit(render(report, fmt), out)


@cost_app.command("diff")
def cost_diff(
    base: Annotated[
        Path, typer.Option("--base", help="Previous JSON report, or an inventory JSON (one or a list).")
    ],
    head: Annotated[
        Path | None, typer.Option("--head", help="Report/inventory to compare (default: the stacks now).")
    ] = None,
    clouds: CloudsOpt = "aws,azure,gcp",
    region_set: RegionSetOpt = "india",
    profile: ProfileOpt = "startup",
    stack: StackOpt = "dev",
    inventory: InventoryOpt = None,
    catalog_dir: CatalogOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="markdown or json.")] = "markdown",
    out: OutOpt = None,
) -> None:
    """Monthly cost change per cloud, resource and cost component (absolute and percent), as Markdown for a
    pull-request comment; figures with missing prices keep their lower-bound marker."""
    _check_choice("--format", fmt, ("markdown", "json"))
    usage, catalog = _setup(profile, catalog_dir, None, None, region_set)
    try:
        base_report = load_report_or_inventory(base, catalog=catalog, profile=usage, region_set=region_set)
        if head is not None:
            head_report = load_report_or_inventory(
                head, catalog=catalog, profile=usage, region_set=region_set
            )
        else:
            head_report = current_report(clouds, region_set, profile, stack, inventory, catalog_dir)
    except (DiffInputError, InventoryError) as exc:
        raise _fail(str(exc)) from exc
    result = diff_reports(base_report, head_report)
    _emit(render_diff_markdown(result) if fmt == "markdown" else json.dumps(result, indent=2) + "\n", out)


@pricing_app.callback()
def pricing() -> None:
    """Maintain the pricing catalog."""


@pricing_app.command("refresh")
def pricing_refresh(
    cloud: Annotated[
        list[str] | None, typer.Option("--cloud", help="Cloud to refresh (repeatable; default all).")
    ] = None,
    catalog_dir: CatalogOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Fetch and parse, but do not write the catalog.")
    ] = False,
) -> None:
    """Update catalog entries from the AWS Price List, Azure Retail Prices and GCP Cloud Billing Catalog APIs."""
    clouds = cloud or list(CLOUDS)
    for c in clouds:
        _check_choice("--cloud", c, CLOUDS)
    try:
        catalog = load_catalog(catalog_dir)
    except CatalogError as exc:
        raise _fail(str(exc)) from exc
    try:
        results = refresh(catalog, clouds)
    except RefreshError as exc:
        raise _fail(str(exc)) from exc
    failed = False
    for name, result in results.items():
        typer.echo(
            f"{name}: {len(result.updated)} updated, {len(result.skipped)} skipped, {len(result.errors)} errors"
        )
        for entry_id, reason in result.errors:
            typer.echo(f"  error {entry_id}: {reason}", err=True)
        for entry_id, reason in result.skipped:
            typer.echo(f"  skipped {entry_id}: {reason}")
        failed = failed or bool(result.errors)
    if not dry_run and any(r.updated for r in results.values()):
        save_catalog(catalog, [c for c, r in results.items() if r.updated])
        typer.echo("catalog written")
    if failed:
        raise typer.Exit(code=1)

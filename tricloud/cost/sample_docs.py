"""Regenerate the generated parts of docs/costs.md: the sample reports and the catalog table.

Run `python -m tricloud.cost.sample_docs` after the stacks, the pricers or the catalog change
(`--check` only compares, exit 1 when stale; tests/cost/test_sample_docs.py does the same). It builds
each stack's inventory once, prices it for both region sets and the three shipped profiles, and
rewrites only the text between the `<!-- ... start -->` / `<!-- ... end -->` markers.
"""

from __future__ import annotations

import re
import sys
from functools import cache
from pathlib import Path
from typing import Any

from tricloud.cost.catalogs import Catalog, load_catalog
from tricloud.cost.estimator import CLOUDS, REGION_SETS, InventoryLoader, default_loader, estimate_clouds
from tricloud.cost.profile import builtin_profiles, load_profile
from tricloud.cost.render import render_markdown
from tricloud.cost.report import build_report

DOC = Path(__file__).resolve().parents[2] / "docs" / "costs.md"
PROFILE_ORDER = ("learner", "startup", "production")
WAREHOUSE_SAMPLE = ("us", "startup")  # the optional Warehouse, priced once in the region set with AWS's price


@cache
def _inventory(cloud: str, stack: str) -> dict[str, Any]:
    return default_loader(cloud, stack)


def sample_reports(catalog: Catalog, stack: str = "dev", loader: InventoryLoader = _inventory) -> str:
    parts: list[str] = []
    names = [p for p in PROFILE_ORDER if p in builtin_profiles()]
    for region_set in REGION_SETS:
        parts.append(f"### Region set `{region_set}`\n")
        for name in names:
            profile = load_profile(name)
            estimates = estimate_clouds(CLOUDS, region_set, catalog, profile, stack=stack, loader=loader)
            report = build_report(estimates, profile=profile, catalog=catalog, region_set=region_set)
            body = render_markdown(report).replace(
                "### tricloud monthly cost", "#### tricloud monthly cost", 1
            )
            parts.append(
                f"`tricloud cost --region-set {region_set} --profile {name} --format markdown`\n\n{body}"
            )
    return "\n".join(parts)


@cache
def _inventory_with_warehouse(cloud: str, stack: str) -> dict[str, Any]:
    from tricloud.config import with_optional_enabled
    from tricloud.inventory import build_inventory, stack_config

    return build_inventory(cloud, stack, config=with_optional_enabled(stack_config(cloud, stack)))


def warehouse_sample(
    catalog: Catalog, stack: str = "dev", loader: InventoryLoader = _inventory_with_warehouse
) -> str:
    """One report with `tricloud:warehouse.enabled: true` on every stack."""
    region_set, name = WAREHOUSE_SAMPLE
    profile = load_profile(name)
    estimates = estimate_clouds(CLOUDS, region_set, catalog, profile, stack=stack, loader=loader)
    report = build_report(estimates, profile=profile, catalog=catalog, region_set=region_set)
    body = render_markdown(report).replace("### tricloud monthly cost", "#### tricloud monthly cost", 1)
    return (
        f"`tricloud:warehouse: {{enabled: true}}` in each stack's config, then "
        f"`tricloud cost --region-set {region_set} --profile {name} --format markdown`\n\n{body}"
    )


def catalog_table(catalog: Catalog) -> str:
    rows = [
        "| Entry | Unit | USD (tiers) | Free tier | Source | Record | Effective | Read |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for entry in sorted(catalog.entries.values(), key=lambda e: e.id):
        tiers = "; ".join(
            f"{t.usd:g}" + ("" if len(entry.tiers) == 1 else f" from {t.start:g}") for t in entry.tiers
        )
        free = f"{entry.free_tier.quantity:g} ({entry.free_tier.kind})" if entry.free_tier else ""
        rows.append(
            f"| `{entry.id}` | {entry.unit} | {tiers} | {free} | <{entry.source.url}> | {entry.source.record_id or ''} "
            f"| {entry.effective_date or 'not stated'} | {entry.read_date} |"
        )
    if catalog.wanted:
        rows += [
            "",
            "Wanted (used by the stacks, price not read yet; `tricloud pricing refresh` reads them):",
            "",
        ]
        rows += [f"- `{w.id}` ({w.unit}): {', '.join(f'{k}={v}' for k, v in w.refresh.items())}"
                 for w in sorted(catalog.wanted.values(), key=lambda w: w.id)]  # fmt: skip
    fx = catalog.fx
    rows.append("")
    rows.append(f"Exchange rate: {fx.usd_inr} INR per USD, as of {fx.as_of}. {fx.source}")
    return "\n".join(rows) + "\n"


def replace_between(text: str, marker: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {marker}:start -->\n).*?(<!-- {marker}:end -->)", re.S)
    if not pattern.search(text):
        raise ValueError(f"{DOC.name}: markers '<!-- {marker}:start/end -->' not found")
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)


def generated_doc(text: str, catalog: Catalog, loader: InventoryLoader = _inventory) -> str:
    """docs/costs.md with its generated sections rebuilt from the stacks and the catalog."""
    text = replace_between(text, "cost-samples", sample_reports(catalog, loader=loader))
    text = replace_between(text, "cost-warehouse", warehouse_sample(catalog))
    return replace_between(text, "cost-catalog", catalog_table(catalog))


def main(argv: list[str] | None = None) -> int:
    check = "--check" in (sys.argv[1:] if argv is None else argv)
    current = DOC.read_text(encoding="utf-8")
    text = generated_doc(current, load_catalog())
    if check:
        if text != current:
            print(f"{DOC.name} is stale: run `python -m tricloud.cost.sample_docs`", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text, encoding="utf-8")
    print(f"updated {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

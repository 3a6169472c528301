"""Monthly cost difference between a base and a head report, as Markdown for a pull request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tricloud.cost.catalogs import Catalog
from tricloud.cost.estimator import estimate_inventory
from tricloud.cost.profile import UsageProfile
from tricloud.cost.report import build_report, money

EPSILON = 0.005  # half a cent: smaller deltas are rounding, not changes


class DiffInputError(ValueError):
    """The base file is neither a cost report nor an inventory."""


def load_report_or_inventory(
    path: Path, *, catalog: Catalog, profile: UsageProfile, region_set: str
) -> dict[str, Any]:
    """A saved JSON report as is, or an inventory (one or a list) estimated with this profile."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DiffInputError(f"base file '{path}': cannot read JSON ({exc})") from exc
    if isinstance(data, dict) and "clouds" in data and "version" in data:
        return data
    inventories = data if isinstance(data, list) else [data]
    if not all(isinstance(i, dict) and "cloud" in i and "resources" in i for i in inventories):
        raise DiffInputError(
            f"base file '{path}': expected a cost report (keys 'version', 'clouds') or an inventory "
            "(keys 'cloud', 'resources')"
        )
    estimates = [estimate_inventory(i, catalog, profile, region_set=region_set) for i in inventories]
    return build_report(estimates, profile=profile, catalog=catalog, region_set=region_set)


def _resources(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (cloud["cloud"], res["name"]): res
        for cloud in report["clouds"]
        if cloud["status"] == "ok"
        for res in cloud["resources"]
    }


def _concepts(report: dict[str, Any]) -> dict[tuple[str, str], float]:
    return {
        (cloud["cloud"], row["concept"]): row["monthlyCost"]
        for cloud in report["clouds"]
        if cloud["status"] == "ok"
        for row in cloud["concepts"]
    }


def _totals(report: dict[str, Any]) -> dict[str, float]:
    return {c["cloud"]: c["totalMonthlyCost"] for c in report["clouds"] if c["status"] == "ok"}


def diff_reports(base: dict[str, Any], head: dict[str, Any]) -> dict[str, Any]:
    """Per cloud, per concept and per resource monthly deltas (head minus base), USD."""
    base_res, head_res = _resources(base), _resources(head)
    resources = []
    for key in sorted(set(base_res) | set(head_res)):
        before = base_res[key]["monthlyCost"] if key in base_res else 0.0
        after = head_res[key]["monthlyCost"] if key in head_res else 0.0
        change = "added" if key not in base_res else "removed" if key not in head_res else "changed"
        if change == "changed" and abs(after - before) < EPSILON:
            continue
        resources.append(
            {"cloud": key[0], "name": key[1], "change": change, "base": before, "head": after, "delta": after - before,
             "type": (head_res.get(key) or base_res[key])["type"]}
        )  # fmt: skip
    base_c, head_c = _concepts(base), _concepts(head)
    concepts = [
        {"cloud": k[0], "concept": k[1], "base": base_c.get(k, 0.0), "head": head_c.get(k, 0.0),
         "delta": head_c.get(k, 0.0) - base_c.get(k, 0.0)}
        for k in sorted(set(base_c) | set(head_c))
        if abs(head_c.get(k, 0.0) - base_c.get(k, 0.0)) >= EPSILON
    ]  # fmt: skip
    base_t, head_t = _totals(base), _totals(head)
    clouds = [
        {"cloud": c, "base": base_t.get(c), "head": head_t.get(c),
         "delta": None if c not in base_t or c not in head_t else head_t[c] - base_t[c]}
        for c in sorted(set(base_t) | set(head_t))
    ]  # fmt: skip
    return {
        "clouds": clouds,
        "concepts": concepts,
        "resources": resources,
        "pricesNotFound": {
            "base": base["summary"]["pricesNotFound"],
            "head": head["summary"]["pricesNotFound"],
        },
        "profile": head["profile"]["name"],
        "regionSet": head["regionSet"],
    }


def signed(value: float | None) -> str:
    if value is None:
        return "n/a"
    if abs(value) < EPSILON:
        return "$0.00"
    return ("+" if value > 0 else "-") + money(abs(value))


def render_diff_markdown(diff: dict[str, Any]) -> str:
    out = [
        f"### tricloud cost diff (profile '{diff['profile']}', region set '{diff['regionSet']}', USD/month)",
        "",
    ]
    out += ["| Cloud | Base | Head | Delta |", "|---|---:|---:|---:|"]
    out += [
        f"| {c['cloud']} | {money(c['base'])} | {money(c['head'])} | **{signed(c['delta'])}** |"
        for c in diff["clouds"]
    ]
    if diff["concepts"]:
        out += [
            "",
            "#### By concept",
            "",
            "| Cloud | Concept | Base | Head | Delta |",
            "|---|---|---:|---:|---:|",
        ]
        out += [
            f"| {c['cloud']} | {c['concept']} | {money(c['base'])} | {money(c['head'])} | {signed(c['delta'])} |"
            for c in diff["concepts"]
        ]
    if diff["resources"]:
        out += [
            "",
            "#### By resource",
            "",
            "| Cloud | Resource | Type | Change | Delta |",
            "|---|---|---|---|---:|",
        ]
        out += [
            f"| {r['cloud']} | `{r['name']}` | `{r['type']}` | {r['change']} | {signed(r['delta'])} |"
            for r in diff["resources"]
        ]
    else:
        out += ["", "No resource changed its monthly cost."]
    nf = diff["pricesNotFound"]
    out += [
        "",
        f"Prices not found: base {nf['base']}, head {nf['head']} (totals with missing prices are lower bounds).",
    ]
    return "\n".join(out) + "\n"

"""Monthly cost difference between a base and a head report, as Markdown for a pull request.

Per cloud, per resource and per cost component: base, head, absolute and percent change. A figure
that includes a missing price keeps its lower-bound marker (≥) on either side, and a change computed
from such a figure is marked as not exact (?).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tricloud.cost.catalogs import Catalog
from tricloud.cost.estimator import estimate_clouds, estimate_inventory
from tricloud.cost.profile import UsageProfile
from tricloud.cost.report import build_report, money, qty_text

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
        if data["version"] == "1":
            return _from_version_1(data)
        if data["version"] != "2":
            raise DiffInputError(
                f"base file '{path}': unknown report version {data['version']!r} (expected '2')"
            )
        return data
    inventories = data if isinstance(data, list) else [data]
    if not all(isinstance(i, dict) and "cloud" in i and "resources" in i for i in inventories):
        raise DiffInputError(
            f"base file '{path}': expected a cost report (keys 'version', 'clouds') or an inventory "
            "(keys 'cloud', 'resources')"
        )
    if len(inventories) == 1:
        estimates = [estimate_inventory(inventories[0], catalog, profile, region_set=region_set)]
    else:
        by_cloud = {i["cloud"]: i for i in inventories}
        estimates = estimate_clouds(
            list(by_cloud), region_set, catalog, profile, loader=lambda c, s: by_cloud[c]
        )
    return build_report(estimates, profile=profile, catalog=catalog, region_set=region_set)


def _from_version_1(report: dict[str, Any]) -> dict[str, Any]:
    """A version 1 report (as the base branch may still write it) in the shape the diff reads: version 1
    put the priced sum in totalMonthlyCost / monthlyCost even when prices were missing."""
    for cloud in report["clouds"]:
        cloud.setdefault("pricedMonthlyCost", cloud.get("totalMonthlyCost"))
        for res in cloud.get("resources", []):
            res.setdefault("pricedMonthlyCost", res.get("monthlyCost") or 0.0)
    return report


def _figure(value: float | None, missing: int) -> dict[str, Any]:
    return {"value": value, "missing": missing}


def _change(base: dict[str, Any] | None, head: dict[str, Any] | None) -> dict[str, Any]:
    """base/head figures (None when absent), delta, percent, and whether the delta is exact."""
    before = base["value"] if base else 0.0
    after = head["value"] if head else 0.0
    delta = (after or 0.0) - (before or 0.0)
    exact = not ((base and base["missing"]) or (head and head["missing"]))
    percent = None if not base or not before else delta / before * 100
    return {"base": base, "head": head, "delta": delta, "percent": percent, "exact": exact}


def _components(res: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    if res is None:
        return {}
    return {c["name"]: c for c in res["costComponents"]}


def _component_fig(comp: dict[str, Any] | None) -> dict[str, Any] | None:
    if comp is None:
        return None
    return {**_figure(comp["monthlyCost"] or 0.0, 0 if comp["priceFound"] else 1), "quantity": comp["monthlyQuantity"],
            "unit": comp["unit"]}  # fmt: skip


def diff_reports(base: dict[str, Any], head: dict[str, Any]) -> dict[str, Any]:
    """Per cloud, per resource and per cost component monthly changes (head minus base), USD."""

    def index(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
        return {
            (c["cloud"], r["name"]): r
            for c in report["clouds"]
            if c["status"] == "ok"
            for r in c["resources"]
        }

    def totals(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {c["cloud"]: _figure(c["pricedMonthlyCost"], c["pricesNotFound"]) for c in report["clouds"]
                if c["status"] == "ok"}  # fmt: skip

    base_res, head_res = index(base), index(head)
    resources = []
    for key in sorted(set(base_res) | set(head_res)):
        old, new = base_res.get(key), head_res.get(key)
        components = []
        for name in sorted(set(_components(old)) | set(_components(new))):
            change = _change(
                _component_fig(_components(old).get(name)), _component_fig(_components(new).get(name))
            )
            moved = change["base"] is None or change["head"] is None or abs(change["delta"]) >= EPSILON
            flipped = (change["base"] or {}).get("missing") != (change["head"] or {}).get("missing")
            if moved or flipped:
                components.append({"name": name, **change})
        change = _change(
            None if old is None else _figure(old["pricedMonthlyCost"], old["pricesNotFound"]),
            None if new is None else _figure(new["pricedMonthlyCost"], new["pricesNotFound"]),
        )
        kind = "added" if old is None else "removed" if new is None else "changed"
        if kind == "changed" and not components:
            continue
        resources.append({"cloud": key[0], "name": key[1], "type": (new or old or {})["type"], "change": kind,
                          **change, "components": components})  # fmt: skip
    base_t, head_t = totals(base), totals(head)
    clouds = [
        {"cloud": c, **_change(base_t.get(c), head_t.get(c))} for c in sorted(set(base_t) | set(head_t))
    ]
    return {
        "clouds": clouds,
        "resources": resources,
        "pricesNotFound": {
            "base": base["summary"]["pricesNotFound"],
            "head": head["summary"]["pricesNotFound"],
        },
        "profile": head["profile"]["name"],
        "regionSet": head["regionSet"],
    }


def figure_text(fig: dict[str, Any] | None) -> str:
    if fig is None:
        return "-"
    if fig["missing"]:
        return "?" if abs(fig["value"] or 0.0) < EPSILON else f"≥ {money(fig['value'])}"
    return money(fig["value"])


def signed(value: float) -> str:
    if abs(value) < EPSILON:
        return "$0.00"
    return ("+" if value > 0 else "-") + money(abs(value))


def change_text(change: dict[str, Any]) -> str:
    """'+$1.00 (+32%)'; '?' appended when either side includes a missing price (not exact), and a bare '?'
    when only missing prices changed: an unknown change is never shown as $0.00."""
    if not change["exact"] and abs(change["delta"]) < EPSILON:
        return "?" + (" (new)" if change["base"] is None else "")
    text = signed(change["delta"])
    if change["percent"] is not None and abs(change["delta"]) >= EPSILON:
        text += f" ({change['percent']:+.0f}%)"
    elif change["base"] is None:
        text += " (new)"
    return text + ("" if change["exact"] else " ?")


def render_diff_markdown(diff: dict[str, Any]) -> str:
    out = [
        f"### tricloud cost diff (profile '{diff['profile']}', region set '{diff['regionSet']}', USD/month)",
        "",
        "| Cloud | Base | Head | Change |",
        "|---|---:|---:|---:|",
    ]
    out += [
        f"| {c['cloud']} | {figure_text(c['base'])} | {figure_text(c['head'])} | **{change_text(c)}** |"
        for c in diff["clouds"]
    ]
    if diff["resources"]:
        out += ["", "#### By resource and cost component", "",
                "| Cloud | Resource / component | Change | Base | Head | Delta |", "|---|---|---|---:|---:|---:|"]  # fmt: skip
        for r in diff["resources"]:
            out.append(f"| {r['cloud']} | `{r['name']}` (`{r['type']}`) | {r['change']} | {figure_text(r['base'])} | "
                       f"{figure_text(r['head'])} | {change_text(r)} |")  # fmt: skip
            for c in r["components"]:
                qty = "" if c["head"] is None else f" ({qty_text(c['head']['quantity'])} {c['head']['unit']})"
                out.append(f"| | └─ {c['name']}{qty} | | {figure_text(c['base'])} | {figure_text(c['head'])} | "
                           f"{change_text(c)} |")  # fmt: skip
    else:
        out += ["", "No resource changed its monthly cost."]
    nf = diff["pricesNotFound"]
    out += [
        "",
        f"Prices missing: base {nf['base']}, head {nf['head']}. ≥ marks a figure that leaves out missing prices "
        "(a lower bound); ? marks a change computed from such a figure (not exact).",
    ]
    return "\n".join(out) + "\n"

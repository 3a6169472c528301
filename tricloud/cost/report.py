"""Cost reports: one JSON document (schema in schema/report.schema.json), built from the estimates.

Two rules are decided here for every format to follow: a figure that includes a missing price is
reported as unknown (null in JSON) with its priced part beside it, never as $0.00; and a cloud is
cheapest only where its figure is complete and below every other cloud's figure, lower bounds included.
The summary lines every format shows first are written here too. Renderers: tricloud/cost/render.py.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tricloud.cost.catalogs import Catalog
from tricloud.cost.model import CloudEstimate
from tricloud.cost.profile import UsageProfile

REPORT_VERSION = "2"
SCHEMA_PATH = Path(__file__).parent / "schema" / "report.schema.json"
CENT = 0.005  # below half a cent a lower bound has nothing to show: it reads "?", never "$0.00"


def _r(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def qty_text(value: float) -> str:
    """2,000,000 / 1,666.67 / 0.25: quantities a reader can check by hand."""
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.2f}" if abs(value) >= 100 else f"{value:.4g}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def money(value: float | None, symbol: str = "$") -> str:
    if value is None:
        return "n/a"
    if value and abs(value) < 0.01:
        return f"{symbol}{value:.4f}"
    return f"{symbol}{value:,.2f}"


# ----------------------------------------------------------------------------------- building
def _missing_labels(
    components: list[tuple[str, dict[str, Any]]], unmapped: list[dict[str, Any]]
) -> list[str]:
    """'CloudWatch alarm metrics x5', 'SNS notifications': what a figure leaves out, grouped by name."""
    counts: dict[str, int] = {}
    for _, comp in components:
        counts[comp["name"]] = counts.get(comp["name"], 0) + 1
    for res in unmapped:
        label = f"unsupported {res['type']}"
        counts[label] = counts.get(label, 0) + 1
    return [name if n == 1 else f"{name} x{n}" for name, n in counts.items()]


def _dominant(resources: list[dict[str, Any]], total: float) -> list[dict[str, Any]]:
    """Cost components grouped by name, largest first: what the money goes to."""
    groups: dict[str, dict[str, Any]] = {}
    for res in resources:
        for comp in res["costComponents"]:
            if comp["monthlyCost"]:
                group = groups.setdefault(
                    comp["name"], {"name": comp["name"], "monthlyCost": 0.0, "resources": 0}
                )
                group["monthlyCost"] += comp["monthlyCost"]
                group["resources"] += 1
    ranked = sorted(groups.values(), key=lambda g: (-g["monthlyCost"], g["name"]))[:3]
    return [
        {
            **g,
            "monthlyCost": round(g["monthlyCost"], 6),
            "share": round(g["monthlyCost"] / total, 4) if total else 0.0,
        }
        for g in ranked
    ]


def _known(value: float | None, missing: int, digits: int = 6) -> float | None:
    """A figure for JSON: null when a price in it is missing (its priced part is reported beside it)."""
    return None if missing or value is None else round(value, digits)


def _cloud_doc(est: CloudEstimate, rate: float) -> dict[str, Any]:
    if est.status != "ok":
        return {"cloud": est.cloud, "status": est.status, "reason": est.reason, "stack": est.stack,
                "region": est.region, "totalMonthlyCost": None, "pricedMonthlyCost": None, "pricesNotFound": 0,
                "pricesNeeded": 0, "concepts": [], "resources": []}  # fmt: skip
    resources = [r.to_json() for r in est.resources]
    concepts = []
    for name, (cost, idle) in est.concept_totals().items():
        members = [r for r in resources if r["concept"] == name]
        missing = [(r["name"], c) for r in members for c in r["costComponents"] if not c["priceFound"]]
        unmapped = [r for r in members if r["status"] == "unmapped"]
        idle_missing = sum(r["idlePricesNotFound"] for r in members)
        concepts.append({
            "concept": name, "monthlyCost": _known(cost, len(missing) + len(unmapped)), "pricedMonthlyCost": _r(cost),
            "idleMonthlyCost": _known(idle, idle_missing), "pricedIdleMonthlyCost": _r(idle),
            "pricesNotFound": len(missing) + len(unmapped), "missing": _missing_labels(missing, unmapped),
            "pricesProxied": sum(1 for r in members for c in r["costComponents"] if c["proxyRegion"]),
        })  # fmt: skip
    statuses = [r["status"] for r in resources]
    all_missing = [(r["name"], c) for r in resources for c in r["costComponents"] if not c["priceFound"]]
    all_unmapped = [r for r in resources if r["status"] == "unmapped"]
    missing, idle_missing = est.prices_not_found, est.idle_prices_not_found
    usage = est.total_usd - est.idle_usd
    nxt = est.next_million_predictions_usd
    return {
        "cloud": est.cloud,
        "status": est.status,
        "reason": est.reason,
        "stack": est.stack,
        "region": est.region,
        "totalMonthlyCost": _known(est.total_usd, missing),
        "pricedMonthlyCost": _r(est.total_usd),
        "totalMonthlyCostInr": _known(est.total_usd * rate, missing, 2),
        "pricedMonthlyCostInr": _r(est.total_usd * rate, 2),
        "idleMonthlyCost": _known(est.idle_usd, idle_missing),
        "pricedIdleMonthlyCost": _r(est.idle_usd),
        "usageMonthlyCost": _known(usage, missing - idle_missing),
        "pricedUsageMonthlyCost": _r(usage),
        "predictionsPerMonth": est.predictions_per_month,
        "nextMillionPredictionsCost": _known(nxt, est.next_million_prices_not_found),
        "pricedNextMillionPredictionsCost": _r(nxt),
        "nextMillionPricesNotFound": est.next_million_prices_not_found,
        "pricesNotFound": missing,
        "idlePricesNotFound": idle_missing,
        "pricesNeeded": sum(len(r["costComponents"]) for r in resources) + statuses.count("unmapped"),
        "pricesProxied": sum(1 for r in resources for c in r["costComponents"] if c["proxyRegion"]),
        "missing": _missing_labels(all_missing, all_unmapped),
        "counts": {
            "estimated": statuses.count("priced"),
            "free": statuses.count("free"),
            "unsupported": statuses.count("unmapped"),
            "components": statuses.count("component"),
        },
        "notes": list(est.notes),
        "dominant": _dominant(resources, est.total_usd),
        "concepts": concepts,
        "resources": resources,
    }


def figure_status(cloud: dict[str, Any]) -> str:
    """complete | lower-bound | no-estimate | missing (the stack could not be built)."""
    if cloud["status"] != "ok":
        return "missing"
    if not cloud["pricesNotFound"]:
        return "complete"
    return "no-estimate" if cloud["pricesNotFound"] >= cloud["pricesNeeded"] else "lower-bound"


def cheapest(figures: dict[str, tuple[float, bool]]) -> str | None:
    """The cloud whose figure is complete and strictly below every other figure (lower bounds count as
    what they are: the real figure can only be higher). None when no cloud qualifies."""
    if len(figures) < 2:
        return None
    for cloud, (value, complete) in figures.items():
        others = [v for c, (v, _) in figures.items() if c != cloud]
        if complete and all(value < other - CENT / 10 for other in others):
            return cloud
    return None


def _summary_lines(report: dict[str, Any], profile: UsageProfile) -> list[str]:
    api, spark, train = profile.api, profile.spark, profile.training
    lines = [
        f"Profile '{profile.name}' in the {report['regionSet']} region set: {api.requests_per_month:,.0f} requests a "
        f"month, {spark.job_hours_per_month:g} Spark job-hours, {train.hours_per_month:g} training hour(s), "
        f"{sum(profile.lake.gb.values()):g} GB in the lake."
    ]
    for cloud in report["clouds"]:
        lines.append(cloud_line(cloud))
    lines.append(_verdict(report))
    return lines


def cloud_line(cloud: dict[str, Any]) -> str:
    status, name = figure_status(cloud), f"{cloud['cloud']} ({cloud['region']})"
    if status == "missing":
        return f"{name}: not priced, the stack could not be built ({cloud['reason']})."
    if status == "no-estimate":
        return (
            f"{name}: no estimate. All {cloud['pricesNotFound']} prices it needs are missing from the catalog for "
            f"{cloud['region']}, so this cloud cannot be compared (`tricloud pricing refresh --cloud {cloud['cloud']}` "
            f"reads them; `--proxy-region {cloud['cloud']}=<region>` prices them from another region, marked ~)."
        )
    total, idle = cloud["pricedMonthlyCost"], cloud["pricedIdleMonthlyCost"]
    idle_text = money(idle) if not cloud["idlePricesNotFound"] else f"at least {money(idle)}"
    top = cloud["dominant"][0] if cloud["dominant"] else None
    dominant = ""
    if top:
        what = top["name"] + (f" ({top['resources']} resources)" if top["resources"] > 1 else "")
        part = "of the priced part" if status == "lower-bound" else "of it"
        dominant = f" {what}: {top['share']:.0%} {part}."
    proxied = (
        f" {cloud['pricesProxied']} prices taken from another region (~)." if cloud["pricesProxied"] else ""
    )
    if status == "lower-bound":
        return (
            f"{name}: at least {money(total)} a month ({idle_text} idle, with no traffic); "
            f"{plural(cloud['pricesNotFound'], 'price')} missing ({', '.join(cloud['missing'][:4])}{', ...' if len(cloud['missing']) > 4 else ''}), so the "
            f"real figure is higher.{dominant}{proxied}"
        )
    return f"{name}: {money(total)} a month, {idle_text} of it idle (with no traffic).{dominant}{proxied}"


def _verdict(report: dict[str, Any]) -> str:
    best = report["summary"]["cheapestCloud"]
    ok = [c for c in report["clouds"] if c["status"] == "ok"]
    blocked = [c["cloud"] for c in ok if figure_status(c) != "complete"]
    unbuilt = [c["cloud"] for c in report["clouds"] if c["status"] != "ok"]
    if best:
        extra = f" (even counting only the priced part of {', '.join(blocked)})" if blocked else ""
        absent = f" Not compared: {', '.join(unbuilt)} (stack not built)." if unbuilt else ""
        return f"Cheapest in total: {best}{extra}.{absent}"
    if len(ok) < 2:
        return "Only one cloud was priced: nothing to compare."
    if blocked:
        return (
            f"No cloud is marked cheapest in total: the comparison is incomplete ({', '.join(blocked)} "
            "include missing prices) and no complete total is below all the others."
        )
    return "No cloud is marked cheapest in total: the lowest totals tie."


def _summary_cloud(cloud: dict[str, Any]) -> dict[str, Any]:
    keys = ("cloud", "region", "totalMonthlyCost", "pricedMonthlyCost", "pricesNotFound")
    return {
        **{k: cloud[k] for k in keys},
        "figure": figure_status(cloud),
        "idleMonthlyCost": cloud.get("idleMonthlyCost"),
        "dominant": cloud.get("dominant", []),
    }


def build_report(
    estimates: Sequence[CloudEstimate],
    *,
    profile: UsageProfile,
    catalog: Catalog,
    region_set: str,
    generated_at: datetime | None = None,
    proxy_regions: dict[str, str] | None = None,
) -> dict[str, Any]:
    rate = catalog.fx.usd_inr
    clouds = [_cloud_doc(est, rate) for est in estimates]
    ok = [c for c in clouds if c["status"] == "ok"]
    best = cheapest({c["cloud"]: (c["pricedMonthlyCost"], figure_status(c) == "complete") for c in ok})
    report: dict[str, Any] = {
        "version": REPORT_VERSION,
        "currency": "USD",
        "secondaryCurrency": {
            "code": "INR",
            "rate": rate,
            "asOf": catalog.fx.as_of,
            "source": catalog.fx.source,
        },
        "generatedAt": (generated_at or datetime.now(UTC)).isoformat(timespec="seconds"),
        "catalog": {"readDate": catalog.read_date, "entries": len(catalog.entries)},
        "profile": {"name": profile.name, "source": profile.source, "description": profile.description},
        "regionSet": region_set,
        "proxyRegions": dict(proxy_regions or {}),
        "summary": {
            "lines": [],
            "cheapestCloud": best,
            "comparisonComplete": len(ok) == len(clouds) and all(figure_status(c) == "complete" for c in ok),
            "pricesNotFound": sum(c["pricesNotFound"] for c in clouds),
            "missingClouds": [c["cloud"] for c in clouds if c["status"] == "missing"],
            "totalMonthlyCost": {c["cloud"]: c["totalMonthlyCost"] for c in ok},
            "clouds": [_summary_cloud(c) for c in clouds],
        },
        "clouds": clouds,
    }
    report["summary"]["lines"] = _summary_lines(report, profile)
    return report


def load_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))

"""Cost reports: one JSON document (schema in schema/report.schema.json) and renderers from it.

Every renderer reads the JSON document, so a saved report renders the same as a fresh one.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from tricloud.cost.catalogs import Catalog
from tricloud.cost.estimator import CONCEPTS
from tricloud.cost.model import CloudEstimate
from tricloud.cost.profile import UsageProfile

REPORT_VERSION = "1"
SCHEMA_PATH = Path(__file__).parent / "schema" / "report.schema.json"
FORMATS = ("table", "markdown", "html", "json", "csv")
LEGEND = (
    "* cheapest; +? includes prices not found, so the figure is a lower bound; *? cheapest lower bound "
    "(may change once the missing prices are in the catalog)"
)
CONCEPT_COLORS = {
    "DataLake": "#4e79a7",
    "SparkCluster": "#f28e2b",
    "TrainingJob": "#e15759",
    "ModelEndpoint": "#76b7b2",
    "ApiFrontend": "#59a14f",
    "Observability": "#edc948",
    "CiIdentity": "#b07aa1",
    "Other": "#9c755f",
}


def _r(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def build_report(
    estimates: Sequence[CloudEstimate],
    *,
    profile: UsageProfile,
    catalog: Catalog,
    region_set: str,
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    rate = catalog.fx.usd_inr
    clouds: list[dict[str, Any]] = []
    for est in estimates:
        concepts = est.concept_totals() if est.status == "ok" else {}
        clouds.append(
            {
                "cloud": est.cloud,
                "status": est.status,
                "reason": est.reason,
                "stack": est.stack,
                "region": est.region,
                "totalMonthlyCost": _r(est.total_usd) if est.status == "ok" else None,
                "totalMonthlyCostInr": _r(est.total_usd * rate, 2) if est.status == "ok" else None,
                "idleMonthlyCost": _r(est.idle_usd) if est.status == "ok" else None,
                "costPerMillionPredictions": _r(est.cost_per_million_predictions_usd)
                if est.status == "ok"
                else None,
                "predictionsPerMonth": est.predictions_per_month,
                "pricesNotFound": est.prices_not_found,
                "concepts": [
                    {
                        "concept": name,
                        "monthlyCost": _r(cost),
                        "idleMonthlyCost": _r(idle),
                        "pricesNotFound": sum(r.prices_not_found for r in est.resources if r.concept == name),
                    }
                    for name, (cost, idle) in concepts.items()
                ],
                "resources": [r.to_json() for r in est.resources],
            }
        )
    ok = [c for c in clouds if c["status"] == "ok"]
    cheapest = min(ok, key=lambda c: c["totalMonthlyCost"])["cloud"] if ok else None
    return {
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
        "clouds": clouds,
        "summary": {
            "cheapestCloud": cheapest,
            "pricesNotFound": sum(c["pricesNotFound"] for c in clouds),
            "missingClouds": [c["cloud"] for c in clouds if c["status"] == "missing"],
            "totalMonthlyCost": {c["cloud"]: c["totalMonthlyCost"] for c in ok},
        },
    }


# ------------------------------------------------------------------------------------ helpers
def money(value: float | None, symbol: str = "$") -> str:
    if value is None:
        return "n/a"
    if value and abs(value) < 0.01:
        return f"{symbol}{value:.4f}"
    return f"{symbol}{value:,.2f}"


def _concept_names(report: dict[str, Any]) -> list[str]:
    seen = {c["concept"] for cloud in report["clouds"] for c in cloud["concepts"]}
    ordered = [c for c in CONCEPTS if c in seen]
    return ordered + sorted(seen - set(ordered))


def concept_matrix(
    report: dict[str, Any],
) -> tuple[list[str], list[dict[str, Any]], dict[str, dict[str, float]]]:
    """(concept names, ok clouds, concept -> cloud -> USD)."""
    ok = [c for c in report["clouds"] if c["status"] == "ok"]
    names = _concept_names(report)
    matrix = {n: {c["cloud"]: 0.0 for c in ok} for n in names}
    for cloud in ok:
        for row in cloud["concepts"]:
            matrix[row["concept"]][cloud["cloud"]] = row["monthlyCost"]
    return names, ok, matrix


def _incomplete(report: dict[str, Any]) -> set[tuple[str, str]]:
    """(concept, cloud) cells that include a price not found."""
    return {
        (row["concept"], cloud["cloud"])
        for cloud in report["clouds"]
        for row in cloud["concepts"]
        if row.get("pricesNotFound")
    }


def _cell(report: dict[str, Any], name: str, cloud: str, value: float) -> str:
    return money(value) + (" +?" if (name, cloud) in _incomplete(report) else "")


def _total_cell(cloud: dict[str, Any]) -> str:
    return money(cloud["totalMonthlyCost"]) + (" +?" if cloud["pricesNotFound"] else "")


def _cheapest(values: dict[str, float]) -> str | None:
    """The strictly cheapest cloud; None for a single cloud or a tie at the minimum."""
    if len(values) < 2:
        return None
    low = min(values.values())
    winners = [k for k, v in values.items() if v == low]
    return winners[0] if len(winners) == 1 else None


def _mark(incomplete: bool) -> str:
    """Cheapest marker: '*' when the cheapest figure is complete, '*?' when it is a lower bound."""
    return "*?" if incomplete else "*"


def _summary_rows(report: dict[str, Any], ok: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    return [
        ("Idle (zero traffic)", [money(c["idleMonthlyCost"]) for c in ok]),
        ("Per 1M predictions", [money(c["costPerMillionPredictions"]) for c in ok]),
        ("Total (INR)", [money(c["totalMonthlyCostInr"], "₹") for c in ok]),
        ("Prices not found", [str(c["pricesNotFound"]) for c in ok]),
    ]


def _footnotes(report: dict[str, Any]) -> list[str]:
    notes = []
    for cloud in report["clouds"]:
        if cloud["status"] == "missing":
            notes.append(f"{cloud['cloud']}: missing ({cloud['reason']})")
        elif cloud["pricesNotFound"]:
            notes.append(
                f"{cloud['cloud']}: {cloud['pricesNotFound']} prices not found; its total is a lower bound"
            )
        if cloud["status"] == "ok" and cloud["reason"]:
            notes.append(f"{cloud['cloud']}: {cloud['reason']}")
    fx = report["secondaryCurrency"]
    notes.append(
        f"INR at {fx['rate']} per USD (as of {fx['asOf']}); catalog read {report['catalog']['readDate']}"
    )
    return notes


def _title(report: dict[str, Any]) -> str:
    return f"tricloud monthly cost, profile '{report['profile']['name']}', region set '{report['regionSet']}' (USD)"


# ----------------------------------------------------------------------------------- renderers
def render_table(report: dict[str, Any], width: int = 120) -> str:
    names, ok, matrix = concept_matrix(report)
    console = Console(file=io.StringIO(), record=True, width=width, force_terminal=False, color_system=None)
    if not ok:
        console.print(_title(report), markup=False)
        console.print("No cloud could be priced.", markup=False)
        for note in _footnotes(report):
            console.print(f"- {note}", markup=False, highlight=False)
        return console.export_text()
    table = Table(title=_title(report), show_lines=False)
    table.add_column("Concept")
    for cloud in ok:
        table.add_column(f"{cloud['cloud']} ({cloud['region']})", justify="right")
    for name in names:
        best = _cheapest(matrix[name])
        table.add_row(
            name,
            *[
                f"[bold green]{_cell(report, name, c['cloud'], matrix[name][c['cloud']])} "
                f"{_mark((name, c['cloud']) in _incomplete(report))}[/]"
                if c["cloud"] == best
                else _cell(report, name, c["cloud"], matrix[name][c["cloud"]])
                for c in ok
            ],
        )
    totals = {c["cloud"]: c["totalMonthlyCost"] for c in ok}
    best = _cheapest(totals)
    table.add_row(
        "[bold]Total[/]",
        *[
            f"[bold green]{_total_cell(c)} {_mark(bool(c['pricesNotFound']))}[/]"
            if c["cloud"] == best
            else _total_cell(c)
            for c in ok
        ],
        end_section=True,
    )
    for label, cells in _summary_rows(report, ok):
        table.add_row(label, *cells)
    console.print(table)
    console.print(LEGEND, markup=False, highlight=False)
    for note in _footnotes(report):
        console.print(f"- {note}", markup=False, highlight=False)
    return console.export_text()


def render_markdown(report: dict[str, Any]) -> str:
    names, ok, matrix = concept_matrix(report)
    out = [f"### {_title(report)}", ""]
    if ok:
        out.append("| Concept | " + " | ".join(f"{c['cloud']} ({c['region']})" for c in ok) + " |")
        out.append("|---|" + "---:|" * len(ok))
        for name in names:
            best = _cheapest(matrix[name])
            cells = [
                f"**{_cell(report, name, c['cloud'], matrix[name][c['cloud']])}** "
                f"{_mark((name, c['cloud']) in _incomplete(report))}"
                if c["cloud"] == best
                else _cell(report, name, c["cloud"], matrix[name][c["cloud"]])
                for c in ok
            ]
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        totals = {c["cloud"]: c["totalMonthlyCost"] for c in ok}
        best = _cheapest(totals)
        out.append(
            "| **Total** | "
            + " | ".join(
                f"**{_total_cell(c)}** {_mark(bool(c['pricesNotFound']))}"
                if c["cloud"] == best
                else _total_cell(c)
                for c in ok
            )
            + " |"
        )
        for label, cells in _summary_rows(report, ok):
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        out.append("")
        out.append(LEGEND.replace("*", "\\*") + ".")
    out.append("")
    out += [f"- {n}" for n in _footnotes(report)]
    missing = [
        (cloud["cloud"], res["name"], comp["name"], comp["note"])
        for cloud in ok
        for res in cloud["resources"]
        for comp in res["costComponents"]
        if not comp["priceFound"]
    ] + [
        (cloud["cloud"], res["name"], res["type"], res["reason"])
        for cloud in ok
        for res in cloud["resources"]
        if res["status"] == "unmapped"
    ]
    if missing:
        out += ["", "<details><summary>Prices not found</summary>", "", "| Cloud | Resource | Component | Note |",
                "|---|---|---|---|"]  # fmt: skip
        out += [f"| {c} | {r} | {n} | {note} |" for c, r, n, note in missing]
        out += ["", "</details>"]
    return "\n".join(out) + "\n"


def _svg_chart(report: dict[str, Any]) -> str:
    names, ok, matrix = concept_matrix(report)
    if not ok:
        return ""
    bar_w, gap, height, top, left = 90, 50, 260, 20, 70
    peak = max((c["totalMonthlyCost"] for c in ok), default=0.0) or 1.0
    width = left + len(ok) * (bar_w + gap) + 190
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 60}" role="img" '
        f'aria-label="Monthly cost per cloud, stacked by concept">'
    ]
    parts.append(
        f'<line x1="{left}" y1="{top + height}" x2="{left + len(ok) * (bar_w + gap)}" y2="{top + height}" stroke="#333"/>'
    )
    for i, cloud in enumerate(ok):
        x = left + gap / 2 + i * (bar_w + gap)
        y = top + height
        for name in names:
            value = matrix[name][cloud["cloud"]]
            h = height * value / peak
            if h <= 0:
                continue
            y -= h
            title = html.escape(f"{cloud['cloud']} {name}: {money(value)}")
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w}" height="{h:.1f}" fill="{CONCEPT_COLORS.get(name, "#999")}">'
                f"<title>{title}</title></rect>"
            )
        parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + height + 18}" text-anchor="middle" font-size="13">{html.escape(cloud["cloud"])}</text>')  # fmt: skip
        parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="12">{html.escape(money(cloud["totalMonthlyCost"]))}</text>')  # fmt: skip
    legend_x = left + len(ok) * (bar_w + gap) + 10
    for j, name in enumerate(names):
        parts.append(f'<rect x="{legend_x}" y="{top + j * 20}" width="12" height="12" fill="{CONCEPT_COLORS.get(name, "#999")}"/>')  # fmt: skip
        parts.append(
            f'<text x="{legend_x + 18}" y="{top + j * 20 + 11}" font-size="12">{html.escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: dict[str, Any]) -> str:
    names, ok, matrix = concept_matrix(report)
    esc = html.escape
    rows = []
    for name in names:
        best = _cheapest(matrix[name])
        cells = "".join(
            f'<td class="num{" best" if c["cloud"] == best else ""}">{esc(_cell(report, name, c["cloud"], matrix[name][c["cloud"]]))}</td>'
            for c in ok
        )
        rows.append(f"<tr><th>{esc(name)}</th>{cells}</tr>")
    totals = {c["cloud"]: c["totalMonthlyCost"] for c in ok}
    best = _cheapest(totals)
    cells = "".join(
        f'<td class="num{" best" if c["cloud"] == best else ""}"><b>{esc(_total_cell(c))}</b></td>'
        for c in ok
    )
    rows.append(f"<tr class='total'><th>Total</th>{cells}</tr>")
    for label, values in _summary_rows(report, ok):
        rows.append(
            f"<tr><th>{esc(label)}</th>" + "".join(f'<td class="num">{esc(v)}</td>' for v in values) + "</tr>"
        )
    head = "".join(f"<th>{esc(c['cloud'])} ({esc(c['region'])})</th>" for c in ok)
    notes = "".join(f"<li>{esc(n)}</li>" for n in _footnotes(report))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(_title(report))}</title><style>"
        "body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
        "th,td{border:1px solid #ccc;padding:4px 10px}td.num{text-align:right}"
        "td.best{background:#e3f4e1;font-weight:bold}tr.total{border-top:2px solid #333}"
        "</style></head><body>"
        f"<h1>{esc(_title(report))}</h1>"
        f"<table><thead><tr><th>Concept</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f"<p>Highlighted: cheapest per row. {esc(LEGEND)}.</p>"
        f"<h2>Monthly cost by concept</h2>{_svg_chart(report)}"
        f"<ul>{notes}</ul>"
        f"<p>Generated {esc(report['generatedAt'])}.</p></body></html>\n"
    )


CSV_FIELDS = (
    "cloud", "region", "concept", "resource", "type", "status", "component", "unit", "monthly_quantity",
    "unit_price_usd", "monthly_cost_usd", "monthly_cost_inr", "usage_based", "price_found", "catalog_entry_id",
    "source", "note",
)  # fmt: skip


def render_csv(report: dict[str, Any]) -> str:
    rate = report["secondaryCurrency"]["rate"]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for cloud in report["clouds"]:
        if cloud["status"] != "ok":
            writer.writerow(
                {
                    "cloud": cloud["cloud"],
                    "region": cloud["region"],
                    "status": "missing",
                    "note": cloud["reason"],
                }
            )
            continue
        for res in cloud["resources"]:
            base = {"cloud": cloud["cloud"], "region": cloud["region"], "concept": res["concept"],
                    "resource": res["name"], "type": res["type"], "status": res["status"]}  # fmt: skip
            if not res["costComponents"]:
                writer.writerow({**base, "note": res["reason"], "price_found": res["status"] != "unmapped"})
            for comp in res["costComponents"]:
                cost = comp["monthlyCost"]
                writer.writerow({
                    **base, "component": comp["name"], "unit": comp["unit"], "monthly_quantity": comp["monthlyQuantity"],
                    "unit_price_usd": comp["price"], "monthly_cost_usd": cost,
                    "monthly_cost_inr": None if cost is None else round(cost * rate, 4),
                    "usage_based": comp["usageBased"], "price_found": comp["priceFound"],
                    "catalog_entry_id": comp["catalogEntryId"], "source": comp["source"], "note": comp["note"],
                })  # fmt: skip
    return buf.getvalue()


def render(report: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2) + "\n"
    renderers = {"table": render_table, "markdown": render_markdown, "html": render_html, "csv": render_csv}
    if fmt not in renderers:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    return renderers[fmt](report)


def load_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))

"""Renderers of a cost report: table (Rich), Markdown, HTML (with an SVG chart), JSON and CSV.

Every renderer reads the JSON document (tricloud/cost/report.py), so a saved report renders the same as
a fresh one. Cells are built once (`comparison`, `breakdown`) and only formatted per output: a figure
with a missing price reads "≥ $X + N missing: ..." or "? N missing", never $0.00, and the cheapest
mark comes from the document's own rule.
"""

from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tricloud.cost.estimator import CONCEPTS
from tricloud.cost.report import CENT, cheapest, cloud_line, figure_status, money, qty_text
from tricloud.cost.units import price_text

FORMATS = ("table", "markdown", "html", "json", "csv")
LEGEND = (
    "* cheapest: every price in the figure was found and it is below every other cloud's figure, "
    "lower bounds included. ≥ at least: the figure leaves out the prices listed as missing. "
    "? no figure: every price in it is missing. ~ includes prices taken from another region (--proxy-region)"
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


# ----------------------------------------------------------------------------- the comparison
@dataclass(frozen=True)
class Cell:
    value: float | None
    missing: int = 0  # prices missing in this figure
    labels: tuple[str, ...] = ()
    proxied: bool = False
    best: bool = False
    symbol: str = "$"

    @property
    def complete(self) -> bool:
        return not self.missing


def cell_text(cell: Cell, *, compact: bool = False) -> str:
    """'$9.51', '≥ $3.19 + 13 missing: ...', '? 25 missing: ...'; never a bare $0.00 for a missing price."""
    if cell.value is None:
        return "n/a"
    mark = ("~" if cell.proxied else "") + (" *" if cell.best else "")
    if cell.complete:
        return money(cell.value, cell.symbol) + mark
    what = f"{cell.missing} missing" if cell.missing > 1 or not cell.labels else "1 missing"
    if cell.labels and not compact:
        shown = ", ".join(cell.labels[:3]) + (", ..." if len(cell.labels) > 3 else "")
        what += f": {shown}"
    if abs(cell.value) < CENT:
        return f"? {what}{mark}"
    return f"≥ {money(cell.value, cell.symbol)} + {what}{mark}"


@dataclass(frozen=True)
class Row:
    label: str
    cells: tuple[Cell, ...]
    kind: str = "concept"  # concept | total | extra


def comparison(report: dict[str, Any]) -> tuple[list[dict[str, Any]], list[Row]]:
    """(priced clouds, rows): per concept, the total, and idle / usage / next 1M / INR / counts."""
    ok = [c for c in report["clouds"] if c["status"] == "ok"]
    seen = {row["concept"] for c in ok for row in c["concepts"]}
    names = [n for n in CONCEPTS if n in seen] + sorted(seen - set(CONCEPTS))
    rows: list[Row] = []
    for name in names:
        raw = {}
        for c in ok:
            row = next((r for r in c["concepts"] if r["concept"] == name), None)
            raw[c["cloud"]] = row or {
                "pricedMonthlyCost": 0.0,
                "pricesNotFound": 0,
                "missing": [],
                "pricesProxied": 0,
            }
        best = cheapest({k: (v["pricedMonthlyCost"], not v["pricesNotFound"]) for k, v in raw.items()})
        rows.append(Row(name, tuple(
            Cell(v["pricedMonthlyCost"], v["pricesNotFound"], tuple(v["missing"]), bool(v["pricesProxied"]), k == best)
            for k, v in raw.items()
        )))  # fmt: skip
    best = report["summary"]["cheapestCloud"]
    rows.append(Row("Total", tuple(
        Cell(c["pricedMonthlyCost"], c["pricesNotFound"], tuple(c["missing"]), bool(c["pricesProxied"]),
             c["cloud"] == best) for c in ok), "total"))  # fmt: skip
    rows.append(Row("Idle (zero traffic)", tuple(
        Cell(c["pricedIdleMonthlyCost"], c["idlePricesNotFound"]) for c in ok), "extra"))  # fmt: skip
    rows.append(Row("Usage (at the profile's traffic)", tuple(
        Cell(c["pricedUsageMonthlyCost"], c["pricesNotFound"] - c["idlePricesNotFound"]) for c in ok), "extra"))  # fmt: skip
    rows.append(Row("Next 1M predictions add", tuple(
        Cell(c["pricedNextMillionPredictionsCost"], c["nextMillionPricesNotFound"]) for c in ok), "extra"))  # fmt: skip
    rows.append(Row("Total (INR)", tuple(
        Cell(c["pricedMonthlyCostInr"], c["pricesNotFound"], symbol="₹") for c in ok), "extra"))  # fmt: skip
    return ok, rows


def count_line(cloud: dict[str, Any]) -> str:
    n = cloud["counts"]
    total = n["estimated"] + n["free"] + n["unsupported"]
    return (
        f"{total} cloud resources: {n['estimated']} estimated, {n['free']} free, {n['unsupported']} unsupported; "
        f"{cloud['pricesNotFound']} of {cloud['pricesNeeded']} prices missing"
    )


def baseline_usage(cloud: dict[str, Any]) -> str:
    """Infracost's split: baseline (bills with no traffic) and usage (scales with the profile)."""
    base = Cell(cloud["pricedIdleMonthlyCost"], cloud["idlePricesNotFound"])
    usage = Cell(cloud["pricedUsageMonthlyCost"], cloud["pricesNotFound"] - cloud["idlePricesNotFound"])
    return f"baseline {cell_text(base, compact=True)}, usage {cell_text(usage, compact=True)}"


def _notes(report: dict[str, Any]) -> list[str]:
    notes = []
    ok = [c for c in report["clouds"] if c["status"] == "ok"]
    shared = (
        [n for n in (ok[0]["notes"] if ok else []) if all(n in c["notes"] for c in ok)] if len(ok) > 1 else []
    )
    for cloud in report["clouds"]:
        if cloud["status"] == "missing":
            notes.append(f"{cloud['cloud']}: missing ({cloud['reason']})")
            continue
        notes.append(f"{cloud['cloud']}: {count_line(cloud)}")
        if cloud["reason"]:
            notes.append(f"{cloud['cloud']}: {cloud['reason']}")
        notes += [f"{cloud['cloud']}: {n}" for n in cloud["notes"] if n not in shared]
    notes += shared
    fx = report["secondaryCurrency"]
    notes.append(
        f"INR at {fx['rate']} per USD (as of {fx['asOf']}); catalog read {report['catalog']['readDate']}"
    )
    notes.append(
        "Next 1M predictions: what one more million predictions a month would add at this traffic "
        "(free tiers and price tiers included), not the total divided by the predictions"
    )
    return notes


def _title(report: dict[str, Any]) -> str:
    return f"tricloud monthly cost, profile '{report['profile']['name']}', region set '{report['regionSet']}' (USD)"


# ----------------------------------------------------------------------------- the breakdown
@dataclass(frozen=True)
class Line:
    """One line of the per-resource breakdown, as text every format shows the same way."""

    resource: str
    type: str
    component: str
    quantity: str
    unit: str
    price: str
    cost: str
    note: str
    missing: bool


def breakdown(cloud: dict[str, Any]) -> list[Line]:
    """Priced and unsupported resources with their cost components (free resources are only counted)."""
    lines = []
    for res in sorted(cloud["resources"], key=lambda r: (r["concept"], r["name"])):
        if res["status"] == "unmapped":
            lines.append(Line(res["name"], res["type"], "(unsupported type)", "", "", "price missing", "?",
                              res["reason"], True))  # fmt: skip
        for comp in res["costComponents"]:
            lines.append(_line(res, comp))
    return lines


def _line(res: dict[str, Any], comp: dict[str, Any]) -> Line:
    qty, unit, found = comp["monthlyQuantity"], comp["unit"], comp["priceFound"]
    no_usage = comp["usageBased"] and not qty
    if not found:
        cost = "? (depends on usage)" if no_usage else "?"
        return Line(res["name"], res["type"], comp["name"], qty_text(qty), unit, "price missing", cost,
                    comp["note"], True)  # fmt: skip
    price = price_text(comp["listPrice"] if comp["listPrice"] is not None else comp["price"], unit)
    if no_usage:
        cost = f"depends on usage: {price}"
    else:
        cost = money(comp["monthlyCost"]) + ("~" if comp["proxyRegion"] else "")
        if comp["freeQuantity"]:
            cost += (
                " (free tier)"
                if not comp["monthlyCost"]
                else f" (after {qty_text(comp['freeQuantity'])} free)"
            )
    return Line(res["name"], res["type"], comp["name"], qty_text(qty), unit, price, cost, comp["note"], False)


def missing_list(report: dict[str, Any]) -> list[tuple[str, Line]]:
    return [(c["cloud"], line) for c in report["clouds"] if c["status"] == "ok" for line in breakdown(c)
            if line.missing]  # fmt: skip


# ----------------------------------------------------------------------------------- renderers
def render_table(report: dict[str, Any], width: int = 140) -> str:
    ok, rows = comparison(report)
    console = Console(file=io.StringIO(), record=True, width=width, force_terminal=False, color_system=None)

    def say(text: str = "") -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=False)

    say(_title(report))
    say()
    say("Summary")
    for line in report["summary"]["lines"]:
        say(f"- {line}")
    say()
    if ok:
        table = Table(title="Monthly cost per concept", show_lines=False)
        table.add_column("Concept")
        for cloud in ok:
            table.add_column(f"{cloud['cloud']} ({cloud['region']})", justify="right", overflow="fold")
        for row in rows:
            cells = [escape(cell_text(c)) for c in row.cells]
            if row.kind == "total":
                table.add_row("[bold]Total[/]", *cells, end_section=True)
            else:
                table.add_row(escape(row.label), *cells)
        console.print(table)
        say(LEGEND + ".")
    say()
    for note in _notes(report):
        say(f"- {note}")
    for cloud in ok:
        say()
        tree = Table(title=f"{cloud['cloud']} ({cloud['region']}): cost per resource", show_lines=False)
        for col, justify in (("Name", "left"), ("Monthly qty", "right"), ("Unit", "left"), ("Unit price", "left"),
                             ("Monthly cost", "right")):  # fmt: skip
            tree.add_column(col, justify=justify, overflow="fold")  # type: ignore[arg-type]
        current = None
        lines = breakdown(cloud)
        for i, line in enumerate(lines):
            if line.resource != current:
                current = line.resource
                tree.add_row(escape(f"{line.resource} ({line.type})"), "", "", "", "")
            last = i + 1 == len(lines) or lines[i + 1].resource != current
            tree.add_row(escape(("└─ " if last else "├─ ") + line.component), line.quantity, escape(line.unit),
                         escape(line.price), escape(line.cost))  # fmt: skip
        total = Cell(cloud["pricedMonthlyCost"], cloud["pricesNotFound"], tuple(cloud["missing"]))
        tree.add_row("[bold]Total[/]", "", "", "", escape(cell_text(total, compact=True)), end_section=True)
        console.print(tree)
        say(f"{count_line(cloud)}; {baseline_usage(cloud)}")
    missing = missing_list(report)
    if missing:
        say()
        say("Prices missing (never counted as $0):")
        for cloud_name, line in missing:
            say(f"- {cloud_name} {line.resource} / {line.component}: {line.note}")
    return console.export_text()


def render_markdown(report: dict[str, Any]) -> str:
    ok, rows = comparison(report)
    out = [f"### {_title(report)}", "", "**Summary**", ""]
    out += [f"- {line}" for line in report["summary"]["lines"]]
    out.append("")
    if ok:
        out.append("| Concept | " + " | ".join(f"{c['cloud']} ({c['region']})" for c in ok) + " |")
        out.append("|---|" + "---:|" * len(ok))
        for row in rows:
            cells = [_md(cell_text(c)) for c in row.cells]
            cells = [f"**{t}**" if c.best else t for t, c in zip(cells, row.cells, strict=True)]
            label = "**Total**" if row.kind == "total" else row.label
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        out += ["", _md(LEGEND) + "."]
    out.append("")
    out += [f"- {_md(n)}" for n in _notes(report)]
    for cloud in ok:
        out += ["", f"<details><summary>{cloud['cloud']} ({cloud['region']}): cost per resource</summary>", "",
                "| Resource | Component | Monthly qty | Unit | Unit price | Monthly cost |",
                "|---|---|---:|---|---|---:|"]  # fmt: skip
        for line in breakdown(cloud):
            out.append(f"| `{line.resource}` | {_md(line.component)} | {line.quantity} | {line.unit} | "
                       f"{_md(line.price)} | {_md(line.cost)} |")  # fmt: skip
        out += ["", f"{count_line(cloud)}; {_md(baseline_usage(cloud))}.", "", "</details>"]
    missing = missing_list(report)
    if missing:
        out += ["", "<details><summary>Prices missing (never counted as $0)</summary>", "",
                "| Cloud | Resource | Component | Note |", "|---|---|---|---|"]  # fmt: skip
        out += [
            f"| {c} | {line.resource} | {_md(line.component)} | {_md(line.note)} |" for c, line in missing
        ]
        out += ["", "</details>"]
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("*", "\\*")


def _svg_chart(report: dict[str, Any]) -> str:
    """A stacked bar per cloud by concept. A lower bound gets a dashed cap saying what is missing; a cloud
    with no estimate gets a hatched box saying so, never an empty bar that reads as $0."""
    ok = [c for c in report["clouds"] if c["status"] == "ok"]
    if not ok:
        return ""
    names = [n for n in CONCEPTS if any(r["concept"] == n for c in ok for r in c["concepts"])]
    bar_w, gap, height, top, left = 110, 60, 260, 40, 40
    peak = max((c["pricedMonthlyCost"] for c in ok), default=0.0) or 1.0
    cap = 36  # height of the dashed "missing" cap and of the no-estimate box
    width = left + len(ok) * (bar_w + gap) + 190
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + top + 50}" role="img" '
        'aria-label="Monthly cost per cloud, stacked by concept">',
        '<defs><pattern id="hatch" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<line x1="0" y1="0" x2="0" y2="8" stroke="#999" stroke-width="2"/></pattern></defs>',
        f'<line x1="{left}" y1="{top + height}" x2="{left + len(ok) * (bar_w + gap)}" y2="{top + height}" stroke="#333"/>',
    ]
    esc = html.escape
    for i, cloud in enumerate(ok):
        x = left + gap / 2 + i * (bar_w + gap)
        y = float(top + height)
        status = figure_status(cloud)
        label_x = x + bar_w / 2
        if status == "no-estimate":
            parts.append(f'<rect x="{x:.1f}" y="{y - cap * 2:.1f}" width="{bar_w}" height="{cap * 2}" fill="url(#hatch)" '
                         f'stroke="#666" stroke-dasharray="4 3"><title>{esc(cloud["cloud"])}: no estimate</title></rect>')  # fmt: skip
            parts.append(f'<text x="{label_x:.1f}" y="{y - cap * 2 - 20:.1f}" text-anchor="middle" font-size="12">no estimate</text>')  # fmt: skip
            parts.append(f'<text x="{label_x:.1f}" y="{y - cap * 2 - 6:.1f}" text-anchor="middle" font-size="11">'
                         f'{cloud["pricesNotFound"]} prices missing</text>')  # fmt: skip
        else:
            for name in names:
                row = next((r for r in cloud["concepts"] if r["concept"] == name), None)
                value = row["pricedMonthlyCost"] if row else 0.0
                h = height * value / peak * (0.85 if status == "lower-bound" else 1.0)
                if h <= 0:
                    continue
                y -= h
                title = esc(
                    f"{cloud['cloud']} {name}: {money(value)}"
                    + (" or more" if row and row["pricesNotFound"] else "")
                )
                parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w}" height="{h:.1f}" '
                             f'fill="{CONCEPT_COLORS.get(name, "#999")}"><title>{title}</title></rect>')  # fmt: skip
            total = Cell(cloud["pricedMonthlyCost"], cloud["pricesNotFound"])
            if status == "lower-bound":
                y -= cap
                parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w}" height="{cap}" fill="none" stroke="#666" '
                             f'stroke-dasharray="4 3"><title>{esc(cloud["cloud"])}: {cloud["pricesNotFound"]} prices '
                             'missing</title></rect>')  # fmt: skip
                parts.append(f'<text x="{label_x:.1f}" y="{y + cap / 2 + 4:.1f}" text-anchor="middle" font-size="11">'
                             f'+{cloud["pricesNotFound"]} missing</text>')  # fmt: skip
            label = (
                ("≥ " if status == "lower-bound" else "")
                + money(total.value)
                + ("~" if cloud["pricesProxied"] else "")
            )
            parts.append(
                f'<text x="{label_x:.1f}" y="{y - 6:.1f}" text-anchor="middle" font-size="12">{esc(label)}</text>'
            )
        parts.append(f'<text x="{label_x:.1f}" y="{top + height + 18}" text-anchor="middle" font-size="13">'
                     f'{esc(cloud["cloud"])}</text>')  # fmt: skip
    legend_x = left + len(ok) * (bar_w + gap) + 10
    for j, name in enumerate(names):
        parts.append(f'<rect x="{legend_x}" y="{top + j * 20}" width="12" height="12" fill="{CONCEPT_COLORS.get(name, "#999")}"/>')  # fmt: skip
        parts.append(f'<text x="{legend_x + 18}" y="{top + j * 20 + 11}" font-size="12">{esc(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: dict[str, Any]) -> str:
    ok, rows = comparison(report)
    esc = html.escape
    body = [f"<h1>{esc(_title(report))}</h1>", "<h2>Summary</h2>", "<ul class='summary'>"]
    body += [f"<li>{esc(line)}</li>" for line in report["summary"]["lines"]]
    body.append("</ul>")
    if ok:
        head = "".join(f"<th>{esc(c['cloud'])} ({esc(c['region'])})</th>" for c in ok)
        trs = []
        for row in rows:
            tds = "".join(
                f'<td class="num{" best" if c.best else ""}{"" if c.complete else " partial"}">{esc(cell_text(c))}</td>'
                for c in row.cells
            )
            trs.append(
                f"<tr{' class=total' if row.kind == 'total' else ''}><th>{esc(row.label)}</th>{tds}</tr>"
            )
        body.append(
            f"<table class='compare'><thead><tr><th>Concept</th>{head}</tr></thead><tbody>{''.join(trs)}</tbody></table>"
        )
        body.append(f"<p>Highlighted: cheapest. {esc(LEGEND)}.</p>")
        body.append(f"<h2>Monthly cost by concept</h2>{_svg_chart(report)}")
    missing = missing_list(report)
    if missing:
        body.append("<h2>Prices missing (never counted as $0)</h2><ul class='missing'>")
        body += [f"<li>{esc(c)} <code>{esc(line.resource)}</code> {esc(line.component)}: {esc(line.note)}</li>"
                 for c, line in missing]  # fmt: skip
        body.append("</ul>")
    for cloud in ok:
        body.append(f"<h2>{esc(cloud['cloud'])} ({esc(cloud['region'])}): cost per resource</h2>")
        body.append("<table class='breakdown'><thead><tr><th>Resource</th><th>Component</th><th>Monthly qty</th>"
                    "<th>Unit</th><th>Unit price</th><th>Monthly cost</th></tr></thead><tbody>")  # fmt: skip
        for line in breakdown(cloud):
            cls = " class='missing'" if line.missing else ""
            body.append(f"<tr{cls}><td><code>{esc(line.resource)}</code></td><td>{esc(line.component)}</td>"
                        f"<td class='num'>{esc(line.quantity)}</td><td>{esc(line.unit)}</td><td>{esc(line.price)}</td>"
                        f"<td class='num' title='{esc(line.note)}'>{esc(line.cost)}</td></tr>")  # fmt: skip
        body.append(f"</tbody></table><p>{esc(count_line(cloud))}; {esc(baseline_usage(cloud))}.</p>")
    body.append("<h2>Notes</h2><ul>" + "".join(f"<li>{esc(n)}</li>" for n in _notes(report)) + "</ul>")
    body.append(f"<p>Generated {esc(report['generatedAt'])}.</p>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(_title(report))}</title><style>"
        "body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1em}"
        "th,td{border:1px solid #ccc;padding:4px 10px}td.num{text-align:right}"
        "td.best{background:#e3f4e1;font-weight:bold}td.partial{color:#8a5300;font-style:italic}"
        "tr.total{border-top:2px solid #333}tr.missing td{color:#8a5300}"
        "</style></head><body>" + "".join(body) + "</body></html>\n"
    )


CSV_FIELDS = (
    "row_type", "cloud", "region", "concept", "resource", "type", "status", "component", "unit", "monthly_quantity",
    "unit_price_usd", "monthly_cost_usd", "monthly_cost_inr", "usage_based", "price_found", "proxy_region",
    "free_quantity", "catalog_entry_id", "source", "note",
)  # fmt: skip


def render_csv(report: dict[str, Any]) -> str:
    """Summary rows first (row_type=summary: one per line of the summary, then one per cloud total, whose
    monthly_cost_usd is empty when the figure is not complete), then one row per cost component."""
    rate = report["secondaryCurrency"]["rate"]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for line in report["summary"]["lines"]:
        writer.writerow({"row_type": "summary", "note": line})
    for cloud in report["clouds"]:
        status = figure_status(cloud)
        complete = status == "complete"
        writer.writerow({
            "row_type": "summary", "cloud": cloud["cloud"], "region": cloud["region"], "status": status,
            "component": "total", "monthly_cost_usd": cloud["totalMonthlyCost"] if complete else None,
            "monthly_cost_inr": cloud.get("totalMonthlyCostInr") if complete else None,
            "price_found": complete,
            "note": cloud["reason"] if status == "missing" else cloud_line(cloud),
        })  # fmt: skip
    for cloud in report["clouds"]:
        for res in cloud["resources"]:
            base = {"row_type": "component", "cloud": cloud["cloud"], "region": cloud["region"],
                    "concept": res["concept"], "resource": res["name"], "type": res["type"], "status": res["status"]}  # fmt: skip
            if not res["costComponents"]:
                writer.writerow({**base, "note": res["reason"], "price_found": res["status"] != "unmapped"})
            for comp in res["costComponents"]:
                cost = comp["monthlyCost"]
                writer.writerow({
                    **base, "component": comp["name"], "unit": comp["unit"], "monthly_quantity": comp["monthlyQuantity"],
                    "unit_price_usd": comp["price"], "monthly_cost_usd": cost,
                    "monthly_cost_inr": None if cost is None else round(cost * rate, 4),
                    "usage_based": comp["usageBased"], "price_found": comp["priceFound"],
                    "proxy_region": comp["proxyRegion"], "free_quantity": comp["freeQuantity"],
                    "catalog_entry_id": comp["catalogEntryId"], "source": comp["source"], "note": comp["note"],
                })  # fmt: skip
    return buf.getvalue()


def render(report: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    renderers = {"table": render_table, "markdown": render_markdown, "html": render_html, "csv": render_csv}
    if fmt not in renderers:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    return renderers[fmt](report)

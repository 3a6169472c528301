"""No false winners and no missing price shown as $0.00, in every format, region set and profile.

For each (format, region set, profile, proxy) the report is built from the real stacks and rendered;
each format's comparison is parsed back into cells and checked against the JSON document's own counts:
- a cell whose figure includes a missing price is never marked cheapest, and says what is missing;
- a cell marked cheapest is complete and below every other cloud's figure in its row;
- no cell, summary line or breakdown line for a missing price reads $0.00.
"""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from tricloud.cost.catalogs import Catalog
from tricloud.cost.estimator import CLOUDS, REGION_SETS, estimate_clouds
from tricloud.cost.profile import builtin_profiles, load_profile
from tricloud.cost.render import FORMATS, render
from tricloud.cost.report import build_report

from .conftest import stack_inventory

ZERO = re.compile(r"[$₹]0\.00(?!\d)")
EXTRA_ROWS = (
    "Idle (zero traffic)",
    "Usage (at the profile's traffic)",
    "Next 1M predictions add",
    "Total (INR)",
)
PROXIES = (None, {"azure": "eastus"})


def _report(
    catalog: Catalog, region_set: str, profile_name: str, proxy: dict[str, str] | None
) -> dict[str, Any]:
    prof = load_profile(profile_name)
    estimates = estimate_clouds(
        CLOUDS, region_set, catalog, prof, loader=lambda c, s: stack_inventory(c), proxy_regions=proxy
    )
    return build_report(estimates, profile=prof, catalog=catalog, region_set=region_set, proxy_regions=proxy)


def _truth(report: dict[str, Any]) -> dict[tuple[str, str], tuple[float, int]]:
    """(row, cloud) -> (priced value, prices missing), straight from the JSON figures."""
    truth: dict[tuple[str, str], tuple[float, int]] = {}
    for c in report["clouds"]:
        for row in c["concepts"]:
            truth[(row["concept"], c["cloud"])] = (row["pricedMonthlyCost"], row["pricesNotFound"])
        truth[("Total", c["cloud"])] = (c["pricedMonthlyCost"], c["pricesNotFound"])
        truth[(EXTRA_ROWS[0], c["cloud"])] = (c["pricedIdleMonthlyCost"], c["idlePricesNotFound"])
        truth[(EXTRA_ROWS[1], c["cloud"])] = (
            c["pricedUsageMonthlyCost"],
            c["pricesNotFound"] - c["idlePricesNotFound"],
        )
        truth[(EXTRA_ROWS[2], c["cloud"])] = (
            c["pricedNextMillionPredictionsCost"],
            c["nextMillionPricesNotFound"],
        )
        truth[(EXTRA_ROWS[3], c["cloud"])] = (c["pricedMonthlyCostInr"], c["pricesNotFound"])
    return truth


# ------------------------------------------------------------------- parse each format's comparison
def _table_cells(text: str, clouds: list[str]) -> dict[tuple[str, str], tuple[str, bool]]:
    block = text[text.index("Monthly cost per concept") :]
    rows: list[list[str]] = []
    for line in block.splitlines():
        if line.startswith("└"):
            break
        if not line.startswith("│"):
            continue
        parts = [p.strip() for p in line.strip("│").split("│")]
        if parts[0]:
            rows.append(parts)
        else:  # a wrapped cell continues on the next line
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], parts, strict=True)]
    return {
        (r[0], cloud): (cell, cell.endswith(" *"))
        for r in rows
        for cloud, cell in zip(clouds, r[1:], strict=True)
    }


def _markdown_cells(text: str, clouds: list[str]) -> dict[tuple[str, str], tuple[str, bool]]:
    cells = {}
    header = next(line for line in text.splitlines() if line.startswith("| Concept |"))
    for line in text.splitlines()[text.splitlines().index(header) + 2 :]:
        if not line.startswith("| "):
            break
        parts = [p.strip() for p in re.split(r"(?<!\\)\|", line)[1:-1]]
        label = parts[0].strip("*")
        for cloud, cell in zip(clouds, parts[1:], strict=True):
            best = cell.startswith("**") and cell.endswith("\\***")
            cells[(label, cloud)] = (cell.replace("\\", "").strip("*").strip(), best)
    return cells


class _CompareTable(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[tuple[str, bool]]] = []
        self._in_table = self._in_cell = False
        self._best = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "table" and "compare" in classes:
            self._in_table = True
        elif self._in_table and tag == "tr":
            self.rows.append([])
        elif self._in_table and tag in ("td", "th"):
            self._in_cell, self._best = True, "best" in classes
            self.rows[-1].append(("", self._best))

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_table = False
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_cell and self.rows and self.rows[-1]:
            text, best = self.rows[-1][-1]
            self.rows[-1][-1] = (text + data, best)


def _html_cells(text: str, clouds: list[str]) -> dict[tuple[str, str], tuple[str, bool]]:
    parser = _CompareTable()
    parser.feed(text)
    return {
        (row[0][0], cloud): cell
        for row in parser.rows[1:]
        for cloud, cell in zip(clouds, row[1:], strict=True)
    }


PARSERS = {"table": _table_cells, "markdown": _markdown_cells, "html": _html_cells}


def _check_cells(cells: dict[tuple[str, str], tuple[str, bool]], report: dict[str, Any], fmt: str) -> None:
    truth = _truth(report)
    ok = [c["cloud"] for c in report["clouds"] if c["status"] == "ok"]
    assert {row for row, _ in cells} == {row for row, _ in truth}, fmt
    for (row, cloud), (text, best) in cells.items():
        value, missing = truth[(row, cloud)]
        where = f"{fmt} {row} {cloud}: {text!r}"
        if missing:
            assert not best, f"incomplete figure marked cheapest: {where}"
            assert "missing" in text and not ZERO.search(text), where
            assert text.startswith("≥") or text.startswith("?"), where
        if best:
            others = [truth[(row, c)][0] for c in ok if c != cloud]
            assert all(value < other for other in others), (
                f"cheapest is not below every other figure: {where}"
            )


def _check_json(report: dict[str, Any]) -> None:
    for c in report["clouds"]:
        if c["status"] != "ok":
            continue
        assert (c["totalMonthlyCost"] is None) == bool(c["pricesNotFound"])
        for row in c["concepts"]:
            assert (row["monthlyCost"] is None) == bool(row["pricesNotFound"])
        for r in c["resources"]:
            for comp in r["costComponents"]:
                assert comp["priceFound"] or comp["monthlyCost"] is None
    best = report["summary"]["cheapestCloud"]
    if best:
        summary = {c["cloud"]: c for c in report["summary"]["clouds"]}
        assert summary[best]["figure"] == "complete"
        assert all(summary[best]["pricedMonthlyCost"] < c["pricedMonthlyCost"] for k, c in summary.items()
                   if k != best and c["figure"] != "missing")  # fmt: skip


def _check_csv(text: str, report: dict[str, Any]) -> None:
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["row_type"] == "summary"  # the summary comes first
    for row in rows:
        if row["row_type"] == "summary" and row["component"] == "total" and row["status"] != "complete":
            assert row["monthly_cost_usd"] == "" and not ZERO.search(row["note"])
        if row["row_type"] == "component" and row["price_found"] == "False":
            assert row["monthly_cost_usd"] == "", row
    lines = [r["note"] for r in rows if r["row_type"] == "summary" and not r["cloud"]]
    assert lines == report["summary"]["lines"]


def _check_summary_and_breakdown(text: str, report: dict[str, Any], fmt: str) -> None:
    for c in report["clouds"]:
        if c["status"] == "ok" and c["pricesNotFound"] >= c["pricesNeeded"]:
            line = next(x for x in report["summary"]["lines"] if x.startswith(c["cloud"]))
            assert "no estimate" in line and not ZERO.search(line)
    if fmt in ("table", "markdown", "html"):
        # every line of the breakdown that carries "price missing" shows no dollar figure
        for line in text.splitlines():
            if "price missing" in line and fmt != "html":
                assert not ZERO.search(line), f"{fmt}: {line}"
        if fmt == "html":
            for row in re.findall(r"<tr class='missing'>.*?</tr>", text):
                assert not ZERO.search(row), row
    first = text.lstrip().splitlines()[:12] if fmt != "json" else []
    if fmt in ("table", "markdown"):
        assert any(report["summary"]["lines"][0] in line for line in first), (
            f"{fmt}: summary is not at the top"
        )


@pytest.mark.parametrize("proxy", PROXIES, ids=["no-proxy", "proxy-azure-eastus"])
@pytest.mark.parametrize("profile_name", builtin_profiles())
@pytest.mark.parametrize("region_set", sorted(REGION_SETS))
@pytest.mark.parametrize("fmt", FORMATS)
def test_no_false_winner_and_no_missing_price_as_zero(
    catalog: Catalog, fmt: str, region_set: str, profile_name: str, proxy: dict[str, str] | None
) -> None:
    report = _report(catalog, region_set, profile_name, proxy)
    text = render(report, fmt)
    clouds = [c["cloud"] for c in report["clouds"] if c["status"] == "ok"]
    if fmt in PARSERS:
        _check_cells(PARSERS[fmt](text, clouds), report, fmt)
    elif fmt == "json":
        _check_json(report)
    else:
        _check_csv(text, report)
    _check_summary_and_breakdown(text, report, fmt)


def test_the_matrix_covers_incomplete_and_complete_winners(catalog: Catalog) -> None:
    """The enumeration above is only worth something if it meets both cases: cells with missing prices that
    are the lowest in their row (a naive 'cheapest' would mark them) and complete cells that win."""
    lowest_incomplete = winners = 0
    for region_set in REGION_SETS:
        for name in builtin_profiles():
            truth = _truth(_report(catalog, region_set, name, None))
            for row in {r for r, _ in truth}:
                values = {c: truth[(row, c)] for r, c in truth if r == row}
                low = min(values, key=lambda c: values[c][0])
                if values[low][1]:
                    lowest_incomplete += 1
                elif all(values[low][0] < v for c, (v, _) in values.items() if c != low):
                    winners += 1
    assert lowest_incomplete >= 5 and winners >= 5

"""Report rendering in every format, and the JSON document against its shipped JSON Schema."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest

from tricloud.cost.catalogs import Catalog
from tricloud.cost.estimator import estimate_clouds, estimate_inventory
from tricloud.cost.profile import load_profile
from tricloud.cost.render import Cell, breakdown, cell_text, render
from tricloud.cost.report import build_report, cheapest, load_schema

from .conftest import fixture_loader, mini_inventory, profile, res

SVG = "{http://www.w3.org/2000/svg}"


def _loader_without_azure(cloud: str, stack: str) -> dict[str, Any]:
    if cloud == "azure":
        raise FileNotFoundError("stacks/azure has no program yet")
    return fixture_loader(cloud, stack)


@pytest.fixture
def report(catalog: Catalog) -> dict[str, Any]:
    prof = load_profile("startup")
    estimates = estimate_clouds(["aws", "azure", "gcp"], "us", catalog, prof, loader=_loader_without_azure)
    return build_report(estimates, profile=prof, catalog=catalog, region_set="us",
                        generated_at=datetime(2026, 11, 29, 10, 0, tzinfo=UTC))  # fmt: skip


@pytest.fixture
def india(catalog: Catalog) -> dict[str, Any]:
    """The fixture stacks in India: azure has no price at all, aws and gcp are lower bounds."""
    prof = load_profile("learner")
    estimates = estimate_clouds(["aws", "azure", "gcp"], "india", catalog, prof, loader=fixture_loader)
    return build_report(estimates, profile=prof, catalog=catalog, region_set="india")


def test_json_report_validates_against_the_schema(report: dict[str, Any], india: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(load_schema())
    for doc in (report, india):
        jsonschema.validate(json.loads(render(doc, "json")), load_schema())
    aws = report["clouds"][0]
    assert aws["totalMonthlyCostInr"] == pytest.approx(aws["totalMonthlyCost"] * 88.0, abs=0.01)
    assert report["summary"]["missingClouds"] == ["azure"]
    assert report["catalog"]["readDate"] == "2026-12-02"  # the newest entry's (Redshift Serverless)
    assert report["generatedAt"] == "2026-11-29T10:00:00+00:00"
    keys = list(json.loads(render(report, "json")))
    assert (
        keys.index("summary") == keys.index("clouds") - 1
    )  # the summary reads first, right before the detail


def test_schema_rejects_a_missing_price_reported_as_zero(india: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(india))
    missing = next(
        c for r in broken["clouds"][0]["resources"] for c in r["costComponents"] if not c["priceFound"]
    )
    missing["monthlyCost"] = "0"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, load_schema())
    del broken["clouds"][0]["pricedMonthlyCost"]
    with pytest.raises(jsonschema.ValidationError, match="pricedMonthlyCost"):
        jsonschema.validate(broken, load_schema())


def test_cheapest_needs_a_complete_figure_below_every_lower_bound() -> None:
    assert cheapest({"aws": (5.0, True), "gcp": (9.0, True)}) == "aws"
    assert cheapest({"aws": (5.0, True), "gcp": (6.0, False)}) == "aws"  # gcp is at least 6: aws is cheaper
    assert cheapest({"aws": (5.0, True), "gcp": (4.0, False)}) is None  # gcp might still be below 5
    assert cheapest({"aws": (5.0, True), "azure": (0.0, False)}) is None  # a cloud with no estimate blocks it
    assert cheapest({"aws": (3.0, False), "gcp": (9.0, True)}) is None  # the lowest figure is a lower bound
    assert cheapest({"aws": (5.0, True), "gcp": (5.0, True)}) is None  # a tie names no one
    assert cheapest({"aws": (5.0, True)}) is None


def test_cell_text_never_shows_a_missing_price_as_zero() -> None:
    assert cell_text(Cell(9.51)) == "$9.51"
    assert cell_text(Cell(9.51, best=True)) == "$9.51 *"
    assert cell_text(Cell(3.19, 2, ("dashboard", "alarm x5"))) == "≥ $3.19 + 2 missing: dashboard, alarm x5"
    assert cell_text(Cell(0.0, 25, ("a", "b", "c", "d"))) == "? 25 missing: a, b, c, ..."
    assert cell_text(Cell(0.001, 1, ("a",)), compact=True) == "? 1 missing"
    assert cell_text(Cell(1.0, proxied=True)) == "$1.00~"


def test_table_has_the_summary_first_then_comparison_and_breakdown(report: dict[str, Any]) -> None:
    text = render(report, "table")
    assert text.index("Summary") < text.index("Monthly cost per concept") < text.index("cost per resource")
    assert (
        "- aws (us-east-1): $" in text and "azure (eastus): not priced, the stack could not be built" in text
    )
    assert "Cheapest in total: aws" in text and "Not compared: azure" in text
    assert "Idle (zero traffic)" in text and "Next 1M predictions add" in text and "₹" in text
    assert "azure: missing (FileNotFoundError: stacks/azure has no program yet)" in text
    assert "├─ Lambda requests" in text and "└─ Lambda duration (arm64)" in text
    assert "cloud resources:" in text and "estimated," in text and "unsupported" in text


def test_markdown_lists_every_component_and_the_missing_prices(india: dict[str, Any]) -> None:
    text = render(india, "markdown")
    assert text.startswith("### tricloud monthly cost") and "**Summary**" in text.splitlines()[2]
    for concept in (
        "DataLake",
        "SparkCluster",
        "TrainingJob",
        "ModelEndpoint",
        "ApiFrontend",
        "Observability",
    ):
        assert f"| {concept} |" in text
    assert "<summary>Prices missing (never counted as $0)</summary>" in text
    # the fixture's api-handler: 10,000 requests in the free 1M (India, learner)
    assert (
        "| `api-handler` | Lambda requests | 10,000 | request | $0.20 per 1M request | $0.00 (free tier) |"
        in text
    )
    assert (
        "| `observability-dashboard` | CloudWatch dashboard | 1 | dashboard-month | price missing | ? |"
        in text
    )


def test_depends_on_usage_where_the_profile_has_none(catalog: Catalog) -> None:
    inv = mini_inventory("aws", res("aws:lambda/function:Function", "fn", memorySize=128.0))
    est = estimate_inventory(inv, catalog, profile(), region_set="us")
    report = build_report([est], profile=profile(), catalog=catalog, region_set="us")
    lines = {line.component: line for line in breakdown(report["clouds"][0])}
    assert lines["Lambda requests"].cost == "depends on usage: $0.20 per 1M request"
    assert lines["Lambda duration (x86_64)"].cost == "depends on usage: $0.0000166667 per GB-second"


def test_html_chart_marks_lower_bounds_and_no_estimate(india: dict[str, Any]) -> None:
    text = render(india, "html")
    assert text.startswith("<!DOCTYPE html>") and "<script" not in text and "<link" not in text
    assert text.index("<h2>Summary</h2>") < text.index("class='compare'")
    svg = ET.fromstring(text[text.index("<svg") : text.index("</svg>") + 6])
    titles = [
        el.find(f"{SVG}title").text for el in svg.iter(f"{SVG}rect") if el.find(f"{SVG}title") is not None
    ]  # type: ignore[union-attr]
    assert "azure: no estimate" in titles  # a hatched box, not an empty bar
    assert any(t.startswith("aws: ") and t.endswith("prices missing") for t in titles)  # the dashed cap
    labels = [el.text or "" for el in svg.iter(f"{SVG}text")]
    assert "no estimate" in labels and any(label.startswith("≥ $") for label in labels)
    assert "$0.00" not in labels
    assert "<h2>Prices missing (never counted as $0)</h2>" in text
    assert "<li>azure <code>" in text
    assert "<h2>aws (ap-south-1): cost per resource</h2>" in text


def test_csv_summary_rows_then_one_row_per_component(report: dict[str, Any]) -> None:
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    summary = [r for r in rows if r["row_type"] == "summary"]
    assert [r["note"] for r in summary[: len(report["summary"]["lines"])]] == report["summary"]["lines"]
    aws = [r for r in rows if r["cloud"] == "aws" and r["row_type"] == "component"]
    components = sum(max(1, len(res["costComponents"])) for res in report["clouds"][0]["resources"])
    assert len(aws) == components
    lam = next(r for r in aws if r["resource"] == "api-handler" and r["component"] == "Lambda requests")
    assert float(lam["monthly_cost_inr"]) == pytest.approx(float(lam["monthly_cost_usd"]) * 88.0, abs=1e-3)
    assert any(r["cloud"] == "azure" and r["status"] == "missing" for r in summary)


def test_unknown_format_is_rejected(report: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="got 'pdf'"):
        render(report, "pdf")

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
from tricloud.cost.estimator import estimate_clouds
from tricloud.cost.profile import load_profile
from tricloud.cost.report import build_report, load_schema, render

from .conftest import fixture_loader


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


def test_json_report_validates_against_the_schema(report: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(load_schema())
    jsonschema.validate(json.loads(render(report, "json")), load_schema())
    aws = report["clouds"][0]
    assert aws["totalMonthlyCostInr"] == pytest.approx(aws["totalMonthlyCost"] * 88.0, abs=0.01)
    assert report["summary"]["missingClouds"] == ["azure"]
    assert report["catalog"]["readDate"] == "2026-11-29"
    assert report["generatedAt"] == "2026-11-29T10:00:00+00:00"


def test_schema_rejects_a_report_without_totals(report: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(report))
    del broken["clouds"][0]["totalMonthlyCost"]
    with pytest.raises(jsonschema.ValidationError, match="totalMonthlyCost"):
        jsonschema.validate(broken, load_schema())


def test_table_marks_cheapest_and_reports_missing_cloud(report: dict[str, Any]) -> None:
    text = render(report, "table")
    assert "aws (us-east-1)" in text and "gcp (us-central1)" in text
    assert "Idle (zero traffic)" in text and "Per 1M predictions" in text and "₹" in text
    assert "azure: missing (FileNotFoundError: stacks/azure has no program yet)" in text
    total_line = next(line for line in text.splitlines() if line.lstrip("│ ").startswith("Total "))
    assert "*" in total_line  # one cloud is marked cheapest


def test_markdown_has_a_row_per_concept_and_the_missing_prices(report: dict[str, Any]) -> None:
    text = render(report, "markdown")
    for concept in (
        "DataLake",
        "SparkCluster",
        "TrainingJob",
        "ModelEndpoint",
        "ApiFrontend",
        "Observability",
    ):
        assert f"| {concept} |" in text
    assert "<summary>Prices not found</summary>" in text
    cloud, resource, component = next(
        (cl["cloud"], r["name"], c["name"])
        for cl in report["clouds"]
        for r in cl.get("resources", [])
        for c in r["costComponents"]
        if not c["priceFound"]
    )
    assert f"| {cloud} | {resource} | {component} |" in text


def test_html_is_self_contained_with_a_stacked_bar_per_cloud(report: dict[str, Any]) -> None:
    text = render(report, "html")
    assert text.startswith("<!DOCTYPE html>") and "http://" not in text.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    svg = text[text.index("<svg") : text.index("</svg>") + 6]
    root = ET.fromstring(svg)
    bars = [
        el
        for el in root.iter("{http://www.w3.org/2000/svg}rect")
        if el.find("{http://www.w3.org/2000/svg}title") is not None
    ]
    titles = {el.find("{http://www.w3.org/2000/svg}title").text.split(":")[0] for el in bars}  # type: ignore[union-attr]
    assert "aws DataLake" in titles and "gcp SparkCluster" in titles
    assert "<script" not in text and "<link" not in text


def test_csv_has_one_row_per_component_and_resource(report: dict[str, Any]) -> None:
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    aws = [r for r in rows if r["cloud"] == "aws"]
    components = sum(max(1, len(res["costComponents"])) for res in report["clouds"][0]["resources"])
    assert len(aws) == components
    lam = next(r for r in aws if r["resource"] == "api-handler" and r["component"] == "requests")
    assert float(lam["monthly_cost_inr"]) == pytest.approx(float(lam["monthly_cost_usd"]) * 88.0, abs=1e-3)
    assert any(r["cloud"] == "azure" and r["status"] == "missing" for r in rows)


def test_unknown_format_is_rejected(report: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="got 'pdf'"):
        render(report, "pdf")

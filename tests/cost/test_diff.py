"""Diff arithmetic between two inventories/reports: per resource and component, absolute and percent,
with the lower-bound markers of figures that include missing prices kept."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from tricloud.cost.catalogs import Catalog
from tricloud.cost.diff import DiffInputError, diff_reports, load_report_or_inventory, render_diff_markdown
from tricloud.cost.estimator import estimate_inventory
from tricloud.cost.report import build_report

from .conftest import inventory, profile

PROF = profile(api={"requests_per_month": 3e6, "mean_duration_ms": 1000}, lake={"gb": {"raw": 100}})
ARM = 0.0000133334  # Lambda Arm GB-second, us-east-1 (the fixture's handler is arm64)


def _report(inv: dict, catalog: Catalog, region_set: str = "us") -> dict:
    est = estimate_inventory(inv, catalog, PROF, region_set=region_set)
    return build_report([est], profile=PROF, catalog=catalog, region_set=region_set)


def test_memory_change_added_and_removed_resources(catalog: Catalog) -> None:
    base_inv = inventory("aws")
    head_inv = copy.deepcopy(base_inv)
    handler = next(r for r in head_inv["resources"] if r["name"] == "api-handler")
    handler["inputs"]["memorySize"] = 1024.0  # doubles GB-seconds
    head_inv["resources"] = [r for r in head_inv["resources"] if r["name"] != "observability-dashboard"]
    head_inv["resources"].append(
        {"type": "aws:kms/key:Key", "name": "lake-key-2", "parent": "lake", "inputs": {}}
    )
    diff = diff_reports(_report(base_inv, catalog), _report(head_inv, catalog))

    by_name = {r["name"]: r for r in diff["resources"]}
    handler = by_name["api-handler"]
    # 3M x 1 s x 0.5 GB = 1.5M GB-s -> 3M GB-s: +1.5M x $0.0000133334 = +$20.00, +100%
    assert handler["delta"] == pytest.approx(1.5e6 * ARM)
    duration = next(c for c in handler["components"] if c["name"] == "Lambda duration (arm64)")
    assert duration["percent"] == pytest.approx(100.0) and duration["exact"]
    assert [c["name"] for c in handler["components"]] == [
        "Lambda duration (arm64)"
    ]  # requests did not change
    assert by_name["observability-dashboard"]["change"] == "removed"
    assert by_name["observability-dashboard"]["delta"] == pytest.approx(-3.0)
    assert by_name["observability-dashboard"]["percent"] == pytest.approx(-100.0)
    assert by_name["lake-key-2"]["change"] == "added"
    assert by_name["lake-key-2"]["delta"] == pytest.approx(
        1.0
    )  # one key-month; the profile sends no KMS requests
    total = diff["clouds"][0]
    assert total["delta"] == pytest.approx(1.5e6 * ARM - 3.0 + 1.0) and total["exact"]
    assert "lake-raw" not in by_name  # unchanged resources are not listed

    text = render_diff_markdown(diff)
    assert (
        "| aws | `observability-dashboard` (`aws:cloudwatch/dashboard:Dashboard`) | removed | $3.00 | - | -$3.00 (-100%) |"
        in text
    )
    assert (
        "| | └─ Lambda duration (arm64) (3,000,000 GB-second) | | $20.00 | $40.00 | +$20.00 (+100%) |" in text
    )
    assert "| aws | `lake-key-2` (`aws:kms/key:Key`) | added | - | $1.00 | +$1.00 (new) |" in text


def test_lower_bound_markers_survive_the_diff(catalog: Catalog) -> None:
    # In the India region set the fixture's dashboard and alarms have no price: the totals are lower bounds.
    base_inv = inventory("aws")
    head_inv = copy.deepcopy(base_inv)
    head_inv["resources"].append(
        {"type": "aws:cloudwatch/metricAlarm:MetricAlarm", "name": "extra-alarm", "parent": "observability",
         "inputs": {"period": 60.0}}
    )  # fmt: skip
    diff = diff_reports(_report(base_inv, catalog, "india"), _report(head_inv, catalog, "india"))
    total = diff["clouds"][0]
    assert total["base"]["missing"] and total["head"]["missing"] == total["base"]["missing"] + 1
    assert not total["exact"]
    alarm = next(r for r in diff["resources"] if r["name"] == "extra-alarm")
    assert alarm["change"] == "added" and not alarm["exact"]
    text = render_diff_markdown(diff)
    line = next(row for row in text.splitlines() if row.startswith("| aws | ≥ $"))
    assert line.count("≥ $") == 2 and line.endswith("| **?** |")  # both lower bounds; the change is unknown
    assert (
        "| aws | `extra-alarm` (`aws:cloudwatch/metricAlarm:MetricAlarm`) | added | - | ? | ? (new) |" in text
    )
    assert "$0.00" not in line


def test_base_may_be_a_report_or_an_inventory(tmp_path: Path, catalog: Catalog) -> None:
    report_file = tmp_path / "report.json"
    report_file.write_text(json.dumps(_report(inventory("aws"), catalog)))
    inv_file = tmp_path / "inventory.json"
    inv_file.write_text(json.dumps(inventory("aws")))
    from_report = load_report_or_inventory(report_file, catalog=catalog, profile=PROF, region_set="us")
    from_inventory = load_report_or_inventory(inv_file, catalog=catalog, profile=PROF, region_set="us")
    assert diff_reports(from_report, from_inventory)["resources"] == []


def test_bad_base_file(tmp_path: Path, catalog: Catalog) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": 1}')
    with pytest.raises(DiffInputError, match="expected a cost report"):
        load_report_or_inventory(bad, catalog=catalog, profile=PROF, region_set="us")
    bad.write_text("not json")
    with pytest.raises(DiffInputError, match="cannot read JSON"):
        load_report_or_inventory(bad, catalog=catalog, profile=PROF, region_set="us")
    bad.write_text('{"version": "9", "clouds": []}')
    with pytest.raises(DiffInputError, match="unknown report version '9'"):
        load_report_or_inventory(bad, catalog=catalog, profile=PROF, region_set="us")


def test_a_version_1_base_report_still_diffs(tmp_path: Path, catalog: Catalog) -> None:
    """The pull-request workflow prices the base branch with its own code: the first diff after this change
    reads a version 1 report, whose totals were the priced sums whatever was missing."""
    v1 = {"version": "1", "profile": {"name": "test"}, "regionSet": "us", "summary": {"pricesNotFound": 1},
          "clouds": [{"cloud": "aws", "status": "ok", "totalMonthlyCost": 4.0, "pricesNotFound": 1, "resources": [
              {"name": "lake-key", "type": "aws:kms/key:Key", "monthlyCost": 1.0, "pricesNotFound": 0,
               "costComponents": [{"name": "key", "monthlyCost": 1.0, "priceFound": True,
                                   "monthlyQuantity": 1, "unit": "key-month"}]}]}]}  # fmt: skip
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(v1))
    base = load_report_or_inventory(path, catalog=catalog, profile=PROF, region_set="us")
    diff = diff_reports(base, _report(inventory("aws"), catalog))
    assert diff["clouds"][0]["base"] == {"value": 4.0, "missing": 1} and not diff["clouds"][0]["exact"]
    key = next(r for r in diff["resources"] if r["name"] == "lake-key")
    assert {c["name"] for c in key["components"]} == {"key", "KMS key", "KMS requests"}  # renamed since

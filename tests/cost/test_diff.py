"""Diff arithmetic between two inventories/reports, and its Markdown."""

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


def _report(inv: dict, catalog: Catalog) -> dict:
    return build_report([estimate_inventory(inv, catalog, PROF, region_set="us")], profile=PROF, catalog=catalog,
                        region_set="us")  # fmt: skip


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
    arm = 0.0000133334  # the fixture's handler is arm64
    assert by_name["api-handler"]["delta"] == pytest.approx(3e6 * 1 * (1.0 - 0.5) * arm)
    assert by_name["observability-dashboard"] == {
        **by_name["observability-dashboard"],
        "change": "removed",
        "delta": -3.0,
    }
    assert by_name["lake-key-2"]["change"] == "added"
    # Two keys now share the profile's KMS requests (zero here): the new key adds exactly $1.
    assert by_name["lake-key-2"]["delta"] == pytest.approx(1.0)
    concepts = {(c["cloud"], c["concept"]): c["delta"] for c in diff["concepts"]}
    assert concepts[("aws", "Observability")] == pytest.approx(-3.0)
    assert concepts[("aws", "DataLake")] == pytest.approx(1.0)
    total = diff["clouds"][0]["delta"]
    assert total == pytest.approx(sum(r["delta"] for r in diff["resources"]))
    assert "lake-raw" not in by_name  # unchanged resources are not listed

    text = render_diff_markdown(diff)
    assert (
        "| aws | `observability-dashboard` | `aws:cloudwatch/dashboard:Dashboard` | removed | -$3.00 |"
        in text
    )
    assert "| aws | `lake-key-2` | `aws:kms/key:Key` | added | +$1.00 |" in text


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

"""The real stacks (run under Pulumi mocks by tricloud.inventory): every type token they create is in
the pricing table, the free table or a component, and the report over them validates."""

from __future__ import annotations

import jsonschema
import pytest

from tricloud.cost.catalogs import Catalog
from tricloud.cost.estimator import CLOUDS, estimate_clouds
from tricloud.cost.mapping import PRICERS, free_reason, is_component
from tricloud.cost.profile import load_profile
from tricloud.cost.report import build_report, load_schema

from .conftest import stack_inventory as _inventory


@pytest.mark.parametrize("cloud", CLOUDS)
def test_every_type_in_the_stack_is_mapped(cloud: str) -> None:
    types = {r["type"] for r in _inventory(cloud)["resources"]}
    unmapped = sorted(t for t in types if t not in PRICERS and free_reason(t) is None and not is_component(t))
    assert unmapped == [], f"add these type tokens to tricloud/cost/mapping.py: {unmapped}"
    assert {f"tricloud:{cloud}:DataLake", f"tricloud:{cloud}:ApiFrontend"} <= types


def test_report_over_the_real_stacks(catalog: Catalog) -> None:
    profile = load_profile("startup")
    estimates = estimate_clouds(CLOUDS, "us", catalog, profile, loader=_inventory)
    assert [e.status for e in estimates] == ["ok", "ok", "ok"]
    report = build_report(estimates, profile=profile, catalog=catalog, region_set="us")
    jsonschema.validate(report, load_schema())
    for cloud in report["clouds"]:
        concepts = {c["concept"] for c in cloud["concepts"]}
        assert {"DataLake", "SparkCluster", "ModelEndpoint", "ApiFrontend", "Observability"} <= concepts
        assert cloud["pricedMonthlyCost"] > 0

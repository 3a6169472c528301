"""The Warehouse in the cost report: priced when a stack enables it, absent when not, known answers by hand."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from tricloud.config import with_optional_enabled
from tricloud.cost.catalogs import Catalog
from tricloud.cost.estimator import CLOUDS, estimate_clouds, estimate_inventory
from tricloud.cost.mapping import PRICERS, free_reason, is_component
from tricloud.cost.profile import load_profile
from tricloud.cost.render import render_markdown
from tricloud.cost.report import build_report
from tricloud.inventory import build_inventory, stack_config

from .conftest import mini_inventory, profile, res
from .conftest import stack_inventory as disabled_inventory

HOURS = 730.0  # the catalog's month
WH = "tricloud:aws:Warehouse"


@cache
def enabled_inventory(cloud: str, stack: str = "dev") -> dict[str, Any]:
    return build_inventory(cloud, stack, config=with_optional_enabled(stack_config(cloud, stack)))


def components(est: Any, name: str) -> dict[str, Any]:
    (found,) = [r for r in est.resources if r.name == name]
    return {c.name: c for c in found.components}


@pytest.mark.parametrize("cloud", CLOUDS)
def test_every_warehouse_type_is_priced_free_or_a_component(cloud: str) -> None:
    types = {r["type"] for r in enabled_inventory(cloud)["resources"]}
    unmapped = sorted(t for t in types if t not in PRICERS and free_reason(t) is None and not is_component(t))
    assert unmapped == []


def test_report_lists_the_warehouse_only_when_enabled(catalog: Catalog) -> None:
    prof = load_profile("learner")
    on = estimate_clouds(CLOUDS, "us", catalog, prof, loader=lambda c, s: enabled_inventory(c, s))
    off = estimate_clouds(CLOUDS, "us", catalog, prof, loader=disabled_inventory)
    for est in on:
        assert "Warehouse" in est.concept_totals(), est.cloud
    for est in off:
        assert "Warehouse" not in est.concept_totals(), est.cloud
    on_md = render_markdown(build_report(on, profile=prof, catalog=catalog, region_set="us"))
    off_md = render_markdown(build_report(off, profile=prof, catalog=catalog, region_set="us"))
    assert "Warehouse" in on_md and "Warehouse" not in off_md
    # The learner's Redshift compute at us-east-1 prices: 4 RPU x 4 h x $0.375 = $6.00 (no free tier).
    aws = next(e for e in on if e.cloud == "aws")
    compute = components(aws, "warehouse-workgroup")["Redshift Serverless compute"]
    assert compute.price_found and compute.monthly_quantity == pytest.approx(16.0)
    assert compute.monthly_cost_usd == pytest.approx(6.00)


def test_redshift_compute_is_base_rpu_times_hours(catalog: Catalog) -> None:
    inv = mini_inventory(
        "aws",
        res(WH, "warehouse"),
        res("aws:redshiftserverless/workgroup:Workgroup", "wg", "warehouse", baseCapacity=8),
        res("aws:redshiftserverless/namespace:Namespace", "ns", "warehouse"),
    )
    est = estimate_inventory(
        inv, catalog, profile(warehouse={"compute_hours_per_month": 10}), region_set="us"
    )
    compute = components(est, "wg")["Redshift Serverless compute"]
    assert compute.monthly_quantity == pytest.approx(80.0)  # 8 RPU x 10 h
    assert compute.monthly_cost_usd == pytest.approx(30.0)  # 80 RPU-h x $0.375
    # Managed storage has no confirmed price: reported as missing, never as $0.00.
    storage = components(est, "ns")["Redshift managed storage"]
    assert not storage.price_found and storage.monthly_cost_usd is None
    assert "listed as wanted" in storage.note


def test_redshift_compute_is_capped_by_the_daily_usage_limit(catalog: Catalog) -> None:
    inv = mini_inventory(
        "aws",
        res(WH, "warehouse"),
        res("aws:redshiftserverless/workgroup:Workgroup", "wg", "warehouse", baseCapacity=4),
        res(
            "aws:redshiftserverless/usageLimit:UsageLimit",
            "limit",
            "warehouse",
            usageType="serverless-compute",
            amount=24,
            period="daily",
            breachAction="deactivate",
        ),
    )
    est = estimate_inventory(
        inv, catalog, profile(warehouse={"compute_hours_per_month": 300}), region_set="us"
    )
    compute = components(est, "wg")["Redshift Serverless compute"]
    # asked: 4 x 300 = 1200 RPU-h; the limit allows 24 RPU-h a day x 730/24 days = 730 RPU-h
    assert compute.monthly_quantity == pytest.approx(730.0)
    assert compute.monthly_cost_usd == pytest.approx(273.75)  # 730 x $0.375
    assert "capped by the daily usage limit" in compute.note
    # a limit that only logs does not cap the bill
    logging_only = {**inv["resources"][2]["inputs"], "breachAction": "log"}
    inv["resources"][2] = {**inv["resources"][2], "inputs": logging_only}
    est = estimate_inventory(
        inv, catalog, profile(warehouse={"compute_hours_per_month": 300}), region_set="us"
    )
    assert components(est, "wg")["Redshift Serverless compute"].monthly_quantity == pytest.approx(1200.0)


def test_bigquery_warehouse_storage_queries_and_loads_in_mumbai(catalog: Catalog) -> None:
    inv = mini_inventory(
        "gcp",
        res("tricloud:gcp:DataLake", "lake"),
        res("gcp:bigquery/dataset:Dataset", "lake-dataset", "lake", location="asia-south1"),
        res("tricloud:gcp:Warehouse", "warehouse"),
        res("gcp:bigquery/dataset:Dataset", "wh-dataset", "warehouse", location="asia-south1"),
        res(
            "gcp:bigquery/dataTransferConfig:DataTransferConfig",
            "wh-load",
            "warehouse",
            schedule="every 24 hours",
        ),
    )
    prof = profile(
        lake={"gb": {"curated": 80}, "warehouse_gb": 50},
        analytics={"tb_scanned_per_month": 2},
        warehouse={"tb_scanned_per_month": 0.2},
    )
    est = estimate_inventory(inv, catalog, prof, region_set="india")
    wh = components(est, "wh-dataset")
    # storage: 50 GB = 46.566 GiB x $0.023
    assert wh["BigQuery active storage"].monthly_cost_usd == pytest.approx(50e9 / 2**30 * 0.023)
    # queries: 0.2 TB of its own + 730/24 = 30.417 daily loads x 80 GB of curated data = 2.4333 TB; 2.6333 TB
    # = 2.3950 TiB x $7.50
    queries = wh["BigQuery on-demand queries"]
    assert queries.monthly_cost_usd == pytest.approx((0.2e12 + 730 / 24 * 80e9) / 2**40 * 7.50)
    # The lake's dataset keeps its ad-hoc queries (2 TB) and no longer carries the warehouse GB.
    lake = components(est, "lake-dataset")
    assert set(lake) == {"BigQuery on-demand queries"}
    assert lake["BigQuery on-demand queries"].monthly_cost_usd == pytest.approx(2e12 / 2**40 * 7.50)


def test_synapse_pool_bills_online_hours_and_storage(catalog: Catalog) -> None:
    inv = mini_inventory(
        "azure",
        res("tricloud:azure:Warehouse", "warehouse"),
        res("azure-native:synapse:SqlPool", "pool", "warehouse", sku={"name": "DW100c"}),
        res("azure-native:logic:Workflow", "pauser", "warehouse"),
    )
    prof = profile(lake={"warehouse_gb": 50}, warehouse={"compute_hours_per_month": 40})
    est = estimate_inventory(inv, catalog, prof, region_set="us")
    pool = components(est, "pool")
    compute = pool["dedicated SQL pool (DW100c)"]
    assert compute.monthly_quantity == pytest.approx(40.0) and compute.unit == "hour"
    assert pool["dedicated SQL pool storage"].monthly_quantity == pytest.approx(50.0)
    # No confirmed Synapse dedicated or Logic Apps price in the catalog yet: missing, never $0.00.
    assert not compute.price_found and compute.monthly_cost_usd is None
    actions = components(est, "pauser")["Logic App actions"]
    assert actions.monthly_quantity == pytest.approx(4 * HOURS * 4)  # 4 checks an hour x 4 actions each
    assert not actions.price_found


def test_a_gateway_endpoint_is_free_an_interface_endpoint_is_not(catalog: Catalog) -> None:
    inv = mini_inventory(
        "aws",
        res("aws:ec2/vpcEndpoint:VpcEndpoint", "gw", vpcEndpointType="Gateway"),
        res("aws:ec2/vpcEndpoint:VpcEndpoint", "if", vpcEndpointType="Interface", subnetIds=["a", "b"]),
    )
    est = estimate_inventory(inv, catalog, profile(), region_set="us")
    (gw,) = [r for r in est.resources if r.name == "gw"]
    assert gw.status == "free" and gw.components == []
    iface = components(est, "if")["interface endpoint"]
    assert iface.monthly_quantity == pytest.approx(2 * HOURS)

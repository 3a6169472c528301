"""Estimator known answers, computed by hand from the catalog's prices."""

from __future__ import annotations

import pytest

from tricloud.cost.catalogs import Catalog
from tricloud.cost.estimator import InventoryError, estimate_clouds, estimate_inventory
from tricloud.cost.model import CloudEstimate, ResourceCost

from .conftest import fixture_loader, inventory, mini_inventory, profile, res

LAMBDA_REQ, LAMBDA_GBS = 0.0000002, 0.0000166667


def _one(est: CloudEstimate, name: str) -> ResourceCost:
    return next(r for r in est.resources if r.name == name)


def _lambda_inventory(*names: str) -> dict:
    return mini_inventory(
        "aws",
        res("tricloud:aws:ApiFrontend", "api"),
        *[res("aws:lambda/function:Function", n, "api", memorySize=512.0) for n in names],
    )


API_3M = {"api": {"requests_per_month": 3_000_000, "mean_duration_ms": 1000}}


def test_lambda_without_free_tier(catalog: Catalog) -> None:
    est = estimate_inventory(_lambda_inventory("fn"), catalog, profile(**API_3M), region_set="us")
    requests, duration = _one(est, "fn").components
    assert requests.monthly_quantity == 3_000_000
    assert requests.monthly_cost_usd == pytest.approx(3_000_000 * LAMBDA_REQ)
    assert duration.monthly_quantity == pytest.approx(1_500_000)  # 3M x 1 s x 0.5 GB
    assert duration.monthly_cost_usd == pytest.approx(1_500_000 * LAMBDA_GBS)
    assert est.total_usd == pytest.approx(0.60 + 25.00005)
    assert est.idle_usd == 0


def test_lambda_with_free_tier_matches_the_aws_worked_example(catalog: Catalog) -> None:
    prof = profile(**API_3M, free_tier={"always_free": True, "new_account": False})
    est = estimate_inventory(_lambda_inventory("fn"), catalog, prof, region_set="us")
    requests, duration = _one(est, "fn").components
    assert requests.free_quantity == 1_000_000 and requests.monthly_cost_usd == pytest.approx(0.40)
    assert duration.free_quantity == 400_000
    assert duration.monthly_cost_usd == pytest.approx(1_100_000 * LAMBDA_GBS)  # ~ $18.34
    assert est.total_usd == pytest.approx(0.40 + 18.333370, abs=1e-6)


def test_free_tier_is_one_pool_per_account(catalog: Catalog) -> None:
    prof = profile(api={"requests_per_month": 1_000_000, "mean_duration_ms": 0},
                   free_tier={"always_free": True})  # fmt: skip
    est = estimate_inventory(_lambda_inventory("fn-a", "fn-b"), catalog, prof, region_set="us")
    a, b = (_one(est, n).components[0] for n in ("fn-a", "fn-b"))
    assert (a.free_quantity, a.monthly_cost_usd) == (1_000_000, 0)
    assert b.free_quantity == 0 and b.monthly_cost_usd == pytest.approx(0.20)


def test_http_api_tier_boundary_and_512kb_metering(catalog: Catalog) -> None:
    inv = mini_inventory("aws", res("aws:apigatewayv2/api:Api", "api-http", protocolType="HTTP"))
    est = estimate_inventory(inv, catalog, profile(api={"requests_per_month": 400e6}), region_set="us")
    assert est.total_usd == pytest.approx(300e6 * 1e-6 + 100e6 * 0.9e-6)  # $390
    big = profile(api={"requests_per_month": 1e6, "payload_kb": 600})
    comp = _one(estimate_inventory(inv, catalog, big, region_set="us"), "api-http").components[0]
    assert comp.monthly_quantity == 2e6 and comp.monthly_cost_usd == pytest.approx(2.0)


def test_price_not_found_is_counted_never_zero(catalog: Catalog) -> None:
    # The shipped catalog prices EMR Serverless; drop those entries so the meters are missing.
    without_emr = Catalog(
        entries={k: e for k, e in catalog.entries.items() if e.service != "ElasticMapReduce"}, fx=catalog.fx
    )
    inv = mini_inventory("aws", res("aws:emrserverless/application:Application", "spark-app"))
    est = estimate_inventory(inv, without_emr, profile(spark={"job_hours_per_month": 10}), region_set="india")
    comps = _one(est, "spark-app").components
    assert [c.price_found for c in comps] == [False, False]
    assert all(c.monthly_cost_usd is None and c.unit_price_usd is None for c in comps)
    assert (
        "price not found in catalog: aws/ap-south-1/ElasticMapReduce/serverless-vcpu-hours" in comps[0].note
    )
    assert est.prices_not_found == 2


def test_unmapped_free_and_component_resources(catalog: Catalog) -> None:
    inv = mini_inventory(
        "aws",
        res("tricloud:aws:CiIdentity", "ci"),
        res("aws:iam/role:Role", "ci-role", "ci"),
        res("aws:shiny/new:Thing", "ci-thing", "ci"),
    )
    est = estimate_inventory(inv, catalog, profile(), region_set="us")
    assert _one(est, "ci").status == "component"
    role = _one(est, "ci-role")
    assert role.status == "free" and "IAM" in role.reason
    thing = _one(est, "ci-thing")
    assert thing.status == "unmapped" and thing.prices_not_found == 1
    assert est.prices_not_found == 1
    assert {r.concept for r in est.resources} == {"CiIdentity"}


def test_concepts_follow_the_parent_chain(catalog: Catalog) -> None:
    est = estimate_inventory(inventory("aws"), catalog, profile(), region_set="us")
    assert _one(est, "lake-raw-sse").concept == "DataLake"  # lake-raw-sse -> lake-raw -> lake
    assert _one(est, "api-handler").concept == "ApiFrontend"
    assert set(est.concept_totals()) == {
        "DataLake", "SparkCluster", "TrainingJob", "ModelEndpoint", "ApiFrontend", "Observability", "CiIdentity",
    }  # fmt: skip


def test_lake_buckets_take_their_zone_and_kms_key_is_idle_cost(catalog: Catalog) -> None:
    prof = profile(lake={"gb": {"raw": 100, "curated": 40, "artifacts": 10}})
    est = estimate_inventory(inventory("aws"), catalog, prof, region_set="us")
    assert _one(est, "lake-raw").components[0].monthly_cost_usd == pytest.approx(100 * 0.023)
    assert _one(est, "lake-curated").components[0].monthly_quantity == 40
    key = _one(est, "lake-key")
    assert key.idle_cost_usd == pytest.approx(1.0)
    assert est.idle_usd == pytest.approx(1.0 + 3 * 0.10 + 3.0)  # key + 3 alarms + dashboard, no free tier


def test_serverless_endpoint_versus_forced_instance(catalog: Catalog) -> None:
    est = estimate_inventory(inventory("aws"), catalog, profile(), region_set="us")
    serverless = _one(est, "endpoint-config").components[0]
    assert serverless.usage_based and "serverless" in serverless.name
    forced = profile(endpoint={"mode": "instance", "instance_hours_per_month": 730, "instance_count": 2})
    est = estimate_inventory(inventory("aws"), catalog, forced, region_set="us")
    instance = _one(est, "endpoint-config").components[0]
    assert not instance.usage_based
    # ml.m5.xlarge hosting in us-east-1 is $0.23/h (it was 0.269, a blog figure): 2 x 730 h x 0.23 = $335.80,
    # the figure of Infracost's golden test for the same configuration.
    assert instance.monthly_cost_usd == pytest.approx(335.80)
    assert _one(est, "endpoint-config").idle_cost_usd == pytest.approx(335.80)


def test_emr_serverless_is_capped_at_maximum_capacity(catalog: Catalog) -> None:
    prof = profile(spark={"job_hours_per_month": 10, "vcpu": 32, "memory_gb": 128})
    est = estimate_inventory(inventory("aws"), catalog, prof, region_set="us")
    vcpu, memory = _one(est, "spark-app").components
    assert vcpu.monthly_quantity == 16 * 10 and memory.monthly_quantity == 64 * 10
    assert "more than the stacks allow" in est.notes[0] and "16 vCPU / 64 GB" in est.notes[0]


def test_dataproc_serverless_dcu_hours(catalog: Catalog) -> None:
    small = profile(spark={"job_hours_per_month": 10, "vcpu": 4, "memory_gb": 16})
    comp = _one(estimate_inventory(inventory("gcp"), catalog, small, region_set="us"), "spark").components[0]
    assert comp.monthly_quantity == pytest.approx(12 * 10)  # 12-DCU minimum
    assert comp.monthly_cost_usd == pytest.approx(120 * 0.06)
    large = profile(spark={"job_hours_per_month": 10, "vcpu": 32, "memory_gb": 128})
    comp = _one(estimate_inventory(inventory("gcp"), catalog, large, region_set="us"), "spark").components[0]
    assert comp.monthly_quantity == pytest.approx((0.6 * 32 + 0.1 * 128) * 10)


def test_databricks_dbus_plus_vms(catalog: Catalog) -> None:
    # 4 vCPU on 4-vCPU nodes would be one node, but the policy keeps a driver and a worker: 2 nodes x 10 h.
    prof = profile(spark={"job_hours_per_month": 10, "vcpu": 4, "databricks_dbu_per_node_hour": 0.75})
    dbu, vms = _one(
        estimate_inventory(inventory("azure"), catalog, prof, region_set="us"), "spark-workspace"
    ).components
    assert dbu.monthly_quantity == pytest.approx(15) and dbu.monthly_cost_usd == pytest.approx(15 * 0.30)
    assert vms.monthly_quantity == 20 and not vms.price_found
    # 12 vCPU -> 3 nodes x 10 h = 30 node-hours x 0.75 DBU = 22.5 DBU-hours.
    bigger = profile(spark={"job_hours_per_month": 10, "vcpu": 12, "databricks_dbu_per_node_hour": 0.75})
    dbu = _one(
        estimate_inventory(inventory("azure"), catalog, bigger, region_set="us"), "spark-workspace"
    ).components[0]
    assert dbu.monthly_quantity == pytest.approx(22.5)


def test_azure_functions_and_gcp_functions_known_answers(catalog: Catalog) -> None:
    prof = profile(api={"requests_per_month": 3e6, "mean_duration_ms": 1000, "function_memory_mb": 512})
    az = _one(estimate_inventory(inventory("azure"), catalog, prof, region_set="us"), "api-app")
    assert [c.monthly_cost_usd for c in az.components] == pytest.approx([3e6 * 0.0000002, 1.5e6 * 0.000016])
    gcp = _one(estimate_inventory(inventory("gcp"), catalog, prof, region_set="us"), "api-function")
    # availableMemory "512M" is 512e6 bytes (Kubernetes quantity rules) = 0.476837 GiB, billed per GiB-second.
    assert [c.monthly_cost_usd for c in gcp.components] == pytest.approx(
        [3e6 * 4e-7, 3e6 * 0.000024, 3e6 * 1.0 * 512e6 / 2**30 * 0.0000025]
    )


def test_per_resource_override(catalog: Catalog) -> None:
    prof = profile(**API_3M, overrides={"fn": {"Lambda requests": 5}})
    comp = _one(estimate_inventory(_lambda_inventory("fn"), catalog, prof, region_set="us"), "fn").components[
        0
    ]
    assert comp.monthly_quantity == 5 and "override" in comp.note


def test_next_million_predictions_is_the_marginal_cost(catalog: Catalog) -> None:
    # 3M -> 4M requests of 1 s at 512 MB: +1M x $0.0000002 + 1M x 0.5 GB-s x $0.0000166667 = $0.20 + $8.33335.
    est = estimate_inventory(_lambda_inventory("fn"), catalog, profile(**API_3M), region_set="us")
    assert est.next_million_predictions_usd == pytest.approx(0.20 + 500_000 * LAMBDA_GBS)
    # With the free tier and only 10,000 requests, the next million fit in the free 1M requests and 400,000 GB-s
    # except 1,010,000 - 1,000,000 = 10,000 requests and 505,000 - 400,000 = 105,000 GB-s.
    small = profile(
        api={"requests_per_month": 10_000, "mean_duration_ms": 1000}, free_tier={"always_free": True}
    )
    est = estimate_inventory(_lambda_inventory("fn"), catalog, small, region_set="us")
    assert est.total_usd == 0
    assert est.next_million_predictions_usd == pytest.approx(10_000 * LAMBDA_REQ + 105_000 * LAMBDA_GBS)


def test_missing_cloud_is_reported_not_raised(catalog: Catalog) -> None:
    def loader(cloud: str, stack: str) -> dict:
        if cloud == "azure":
            raise RuntimeError("stack not written yet")
        return fixture_loader(cloud, stack)

    results = estimate_clouds(["aws", "azure"], "india", catalog, profile(), loader=loader)
    assert [r.status for r in results] == ["ok", "missing"]
    assert results[1].reason == "RuntimeError: stack not written yet"


@pytest.mark.parametrize(
    ("inv", "message"),
    [
        ({"cloud": "ibm", "resources": []}, "inventory.cloud"),
        ({"cloud": "aws", "resources": {}}, "inventory.resources: expected a list"),
        ({"cloud": "aws", "resources": [{"type": "", "name": "x"}]}, "resources[0].type"),
        ({"cloud": "aws", "resources": [{"type": "t", "name": "x", "inputs": []}]}, "resources[0].inputs"),
    ],
)
def test_bad_inventories_name_the_field(catalog: Catalog, inv: dict, message: str) -> None:
    with pytest.raises(InventoryError, match=message.replace("[", r"\[").replace("]", r"\]")):
        estimate_inventory(inv, catalog, profile(), region_set="us")

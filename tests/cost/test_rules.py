"""The pricing rules and prices fixed for issue 14, each with a known answer worked out by hand.

Every test here fails on the code before the fix: a wrong price, a free tier that was ignored or wrongly
applied, a GiB price applied to GB, a regional meter that was never found, unequal Spark capacities.
"""

from __future__ import annotations

import dataclasses

import pytest

from tricloud.cost.catalogs import Catalog
from tricloud.cost.estimator import estimate_clouds, estimate_inventory
from tricloud.cost.model import CloudEstimate, CostComponent

from .conftest import fixture_loader, mini_inventory, profile, res

FREE = {"always_free": True, "new_account": False}


def _comp(est: CloudEstimate, resource: str, index: int = 0) -> CostComponent:
    return next(r for r in est.resources if r.name == resource).components[index]


def test_sagemaker_hosting_ml_m5_xlarge_is_0_23_per_hour(catalog: Catalog) -> None:
    inv = mini_inventory("aws", res("aws:sagemaker/endpointConfiguration:EndpointConfiguration", "ep",
                                    productionVariants=[{"instanceType": "ml.m5.xlarge", "initialInstanceCount": 1.0}]))  # fmt: skip
    est = estimate_inventory(
        inv, catalog, profile(endpoint={"instance_hours_per_month": 730}), region_set="us"
    )
    assert _comp(est, "ep").monthly_cost_usd == pytest.approx(167.90)  # 730 h x $0.23


def test_sagemaker_serverless_inference_and_data_processed(catalog: Catalog) -> None:
    inv = mini_inventory("aws", res("aws:sagemaker/endpointConfiguration:EndpointConfiguration", "ep",
                                    productionVariants=[{"serverlessConfig": {"memorySizeInMb": 2048.0}}]))  # fmt: skip
    prof = profile(api={"requests_per_month": 1_000_000, "payload_kb": 2}, endpoint={"mean_inference_ms": 50})
    est = estimate_inventory(inv, catalog, prof, region_set="us")
    compute, data = _comp(est, "ep", 0), _comp(est, "ep", 1)
    assert compute.monthly_quantity == 50_000  # 1M predictions x 0.05 s
    assert compute.monthly_cost_usd == pytest.approx(2.00)  # 50,000 s x $0.00004
    assert data.monthly_quantity == pytest.approx(2.0) and data.unit == "GB"  # 1M x 2 KB = 2e9 bytes
    assert data.monthly_cost_usd == pytest.approx(0.032)  # 2 GB x $0.016
    # The SageMaker trial (150,000 s a month for the first 2 months) applies only when the profile asks.
    trial = dataclasses.replace(prof, free_tier=dataclasses.replace(prof.free_tier, trials=True))
    assert _comp(estimate_inventory(inv, catalog, trial, region_set="us"), "ep").monthly_cost_usd == 0


def test_api_management_consumption_first_million_calls_free(catalog: Catalog) -> None:
    inv = mini_inventory("azure", res("azure-native:apimanagement:ApiManagementService", "apim",
                                      sku={"name": "Consumption"}))  # fmt: skip
    est = estimate_inventory(
        inv, catalog, profile(api={"requests_per_month": 3e6}, free_tier=FREE), region_set="us"
    )
    calls = _comp(est, "apim")
    assert calls.free_quantity == 1e6
    assert calls.monthly_cost_usd == pytest.approx(7.00)  # (3M - 1M) x $3.50 per 1M


def _functions(*names: str) -> dict:
    return mini_inventory("gcp", *[res("gcp:cloudfunctionsv2/function:Function", n,
                                       serviceConfig={"availableMemory": "512Mi", "availableCpu": "1"}) for n in names])  # fmt: skip


def test_cloud_run_tier2_free_tier_is_a_discount_at_tier1_prices(catalog: Catalog) -> None:
    prof = profile(api={"requests_per_month": 3e6, "mean_duration_ms": 1000}, free_tier=FREE)
    est = estimate_inventory(_functions("fn"), catalog, prof, region_set="india")
    requests, cpu, memory = next(r for r in est.resources if r.name == "fn").components
    # asia-south1 is Tier 2. requests: 3M x $0.40/M = $1.20 minus 2M x $0.40/M = $0.80 -> $0.40
    assert requests.monthly_cost_usd == pytest.approx(0.40)
    # CPU: 3M s x 1 vCPU x $0.0000336 = $100.80 minus 180,000 x $0.000024 (Tier 1) = $4.32 -> $96.48
    assert cpu.monthly_cost_usd == pytest.approx(96.48)
    # memory: 1.5M GiB-s x $0.0000035 = $5.25 minus 360,000 x $0.0000025 = $0.90 -> $4.35
    assert memory.monthly_cost_usd == pytest.approx(4.35)
    assert "discount at Tier 1 prices" in cpu.note


def test_cloud_run_tier2_discount_is_one_pool_for_the_account(catalog: Catalog) -> None:
    # Two functions of 100,000 vCPU-s each ($3.36 each at Tier 2) share one $4.32 discount: $0 then $2.40.
    prof = profile(api={"requests_per_month": 100_000, "mean_duration_ms": 1000}, free_tier=FREE)
    est = estimate_inventory(_functions("fn-a", "fn-b"), catalog, prof, region_set="india")
    assert _comp(est, "fn-a", 1).monthly_cost_usd == 0
    assert _comp(est, "fn-b", 1).monthly_cost_usd == pytest.approx(2 * 3.36 - 4.32)


def test_aws_12_month_free_tiers_are_closed_to_new_accounts(catalog: Catalog) -> None:
    # Accounts opened from 15 July 2025 get free-plan credits instead of the 12-month tiers.
    new = profile(api={"requests_per_month": 10_000}, lake={"other_storage_gb": 0.5},
                  free_tier={"always_free": True, "new_account": True})  # fmt: skip
    api = mini_inventory("aws", res("aws:apigatewayv2/api:Api", "http", protocolType="HTTP"))
    est = estimate_inventory(api, catalog, new, region_set="india")
    assert _comp(est, "http").monthly_cost_usd == pytest.approx(0.0105)  # 10,000 x $1.05 per 1M, none free
    assert "closed to accounts opened from 2025-07-15" in _comp(est, "http").note
    ecr = mini_inventory("aws", res("aws:ecr/repository:Repository", "images"))
    assert _comp(
        estimate_inventory(ecr, catalog, new, region_set="us"), "images"
    ).monthly_cost_usd == pytest.approx(0.05)
    # A catalog read before 15 July 2026 still gives the last legacy accounts their 12 months.
    old = {k: dataclasses.replace(e, read_date="2026-07-14") for k, e in catalog.entries.items()}
    legacy = Catalog(entries=old, fx=catalog.fx)
    assert _comp(estimate_inventory(api, legacy, new, region_set="india"), "http").monthly_cost_usd == 0


def test_gcp_storage_prices_are_per_gib(catalog: Catalog) -> None:
    inv = mini_inventory("gcp", res("tricloud:gcp:DataLake", "lake"),
                         res("gcp:storage/bucket:Bucket", "lake-raw", "lake", storageClass="STANDARD"))  # fmt: skip
    est = estimate_inventory(inv, catalog, profile(lake={"gb": {"raw": 8}}), region_set="india")
    comp = _comp(est, "lake-raw")
    assert comp.unit == "GiB-month" and comp.monthly_quantity == pytest.approx(
        7.450580596923828
    )  # 8e9 / 2^30
    assert comp.monthly_cost_usd == pytest.approx(
        7.450580596923828 * 0.023
    )  # $0.1714, not 8 x 0.023 = $0.184


def test_artifact_registry_and_cloud_logging_per_gib(catalog: Catalog) -> None:
    inv = mini_inventory("gcp", res("gcp:artifactregistry/repository:Repository", "images"),
                         res("tricloud:gcp:Observability", "observability"))  # fmt: skip
    prof = profile(lake={"other_storage_gb": 2}, observability={"log_gb_per_month": 100})
    est = estimate_inventory(inv, catalog, prof, region_set="us")
    assert _comp(est, "images").monthly_cost_usd == pytest.approx(2e9 / 2**30 * 0.10)  # 1.8626 GiB x $0.10
    assert _comp(est, "observability").monthly_cost_usd == pytest.approx(
        100e9 / 2**30 * 0.50
    )  # 93.13 GiB x $0.50


@pytest.mark.parametrize(
    ("region_set", "per_tib", "per_gib"),
    [("india", 7.50, 0.023), ("us", 6.25, 0.023)],
)
def test_bigquery_regional_dataset_is_priced_in_its_region(
    catalog: Catalog, region_set: str, per_tib: float, per_gib: float
) -> None:
    inv = mini_inventory("gcp", res("gcp:bigquery/dataset:Dataset", "ds", location="asia-south1"))
    prof = profile(lake={"warehouse_gb": 50}, analytics={"tb_scanned_per_month": 2})
    storage, queries = next(
        r for r in estimate_inventory(inv, catalog, prof, region_set=region_set).resources
    ).components
    assert storage.price_found and queries.price_found
    assert storage.monthly_cost_usd == pytest.approx(50e9 / 2**30 * per_gib)  # 46.57 GiB
    assert queries.monthly_cost_usd == pytest.approx(2e12 / 2**40 * per_tib)  # 1.819 TiB
    # With the free tier: the first 10 GiB and 1 TiB a month are free.
    free = profile(lake={"warehouse_gb": 50}, analytics={"tb_scanned_per_month": 2}, free_tier=FREE)
    storage, queries = next(
        r for r in estimate_inventory(inv, catalog, free, region_set=region_set).resources
    ).components
    assert storage.monthly_cost_usd == pytest.approx((50e9 / 2**30 - 10) * per_gib)
    assert queries.monthly_cost_usd == pytest.approx((2e12 / 2**40 - 1) * per_tib)


def test_glue_crawler_in_mumbai(catalog: Catalog) -> None:
    inv = mini_inventory("aws", res("aws:glue/crawler:Crawler", "crawler"))
    est = estimate_inventory(
        inv, catalog, profile(analytics={"crawler_dpu_hours_per_month": 10}), region_set="india"
    )
    assert _comp(est, "crawler").monthly_cost_usd == pytest.approx(4.40)  # 10 DPU-h x $0.44


def test_spark_is_priced_at_the_same_capacity_on_every_cloud(catalog: Catalog) -> None:
    # The profile asks for 32 vCPU / 128 GB; the AWS stack's EMR Serverless ceiling is 16 vCPU / 64 GB, so every
    # cloud is priced at 16 / 64: EMR 16 x 10 h; Dataproc 0.6 x 16 + 0.1 x 64 = 16 DCU x 10 h;
    # Databricks 16 / 4 = 4 nodes x 10 h.
    prof = profile(
        spark={"job_hours_per_month": 10, "vcpu": 32, "memory_gb": 128, "databricks_dbu_per_node_hour": 1}
    )
    aws, azure, gcp = estimate_clouds(["aws", "azure", "gcp"], "us", catalog, prof, loader=fixture_loader)
    assert _comp(aws, "spark-app", 0).monthly_quantity == 160
    assert _comp(aws, "spark-app", 1).monthly_quantity == 640
    assert _comp(gcp, "spark").monthly_quantity == pytest.approx(
        160
    )  # was 0.6 x 32 + 0.1 x 128 = 32 DCU x 10 h
    assert (
        _comp(azure, "spark-workspace", 1).monthly_quantity == 40
    )  # node-hours; was the profile's node count
    for est in (aws, azure, gcp):
        assert any("16 vCPU / 64 GB per job on every cloud" in n for n in est.notes), est.cloud


def test_proxy_region_is_opt_in_and_marked(catalog: Catalog) -> None:
    inv = mini_inventory("azure", res("azure-native:web:WebApp", "fn", kind="functionapp,linux"))
    prof = profile(api={"requests_per_month": 3e6, "mean_duration_ms": 1000, "function_memory_mb": 512})
    plain = estimate_inventory(inv, catalog, prof, region_set="india")
    assert [c.price_found for c in plain.resources[0].components] == [False, False]
    proxied = estimate_inventory(inv, catalog, prof, region_set="india", proxy_regions={"azure": "eastus"})
    executions, duration = proxied.resources[0].components
    assert executions.proxy_region == "eastus" and executions.monthly_cost_usd == pytest.approx(
        0.60
    )  # 3M x $0.20/M
    assert duration.monthly_cost_usd == pytest.approx(1.5e6 * 0.000016)  # 3M x 1 s x 0.5 GB
    assert "price from eastus" in executions.note

"""Known answers for the India region set on the real stacks, every cloud, learner and production.

Each expected cost is price x quantity worked out by hand from the catalog entries the comment names
(ap-south-1 / centralindia / asia-south1), after the free tiers the profile grants. None means the
price is missing: the component must stay unpriced (never $0) and count as a missing price.
"""

from __future__ import annotations

from typing import Any

import pytest

from tricloud.cost.catalogs import Catalog
from tricloud.cost.estimator import CLOUDS, estimate_clouds
from tricloud.cost.model import CloudEstimate
from tricloud.cost.profile import load_profile
from tricloud.cost.report import build_report

from .conftest import stack_inventory

GIB = 1e9 / 2**30  # GB -> GiB, for asia-south1 storage priced per GiB
GCP_ALERTS = ("api-5xx", "endpoint-errors", "endpoint-latency-p99", "function-errors", "function-throttles", "drift",
              "fallback-rate")  # fmt: skip


def _gcs(raw: float, curated: float, artifacts: float, other: float) -> dict[tuple[str, str], float]:
    """Cloud Storage Standard, asia-south1: the profile's GB x 10^9 / 2^30 GiB x $0.023 per GiB-month."""
    sizes = {"lake-raw": raw, "lake-curated": curated, "lake-artifacts": artifacts, "lake-logs": other,
             "api-source": other, "training-staging": other}  # fmt: skip
    return {(bucket, "Cloud Storage (standard)"): gb * GIB * 0.023 for bucket, gb in sizes.items()}


LOG_STORAGE, ALARM = ("log storage", None), ("CloudWatch alarm metrics", None)

AWS_LEARNER = {  # 10,000 requests; new account, but the 12-month tiers are closed (credits instead)
    ("api-api", "HTTP API requests"): 10_000 * 0.00000105,  # $1.05 per 1M, no free tier
    ("api-access-logs", "log ingestion"): 0.0,  # 0.25 GB inside the 5 GB always-free
    ("api-function-logs", "log ingestion"): 0.0,
    ("api-access-logs", "log storage"): None,
    ("api-function-logs", "log storage"): None,
    ("api-function", "Lambda requests"): 0.0,  # 10,000 of the 1M free
    ("api-function", "Lambda duration (arm64)"): 0.0,  # 10,000 x 0.15 s x 0.5 GB = 750 GB-s of 400,000 free
    ("lake-artifacts", "S3 storage (Standard)"): 1 * 0.025,
    ("lake-curated", "S3 storage (Standard)"): 2 * 0.025,
    ("lake-logs", "S3 storage (Standard)"): 0.5 * 0.025,
    ("lake-raw", "S3 storage (Standard)"): 5 * 0.025,
    ("lake-athena", "Athena data scanned"): None,
    ("lake-crawler", "Glue crawler DPU-hours"): 0.2 * 0.44,
    ("lake-key", "KMS key"): 1.0,
    ("lake-key", "KMS requests"): 0.0,  # 2,500 of the 20,000 free
    ("observability-key", "KMS key"): 1.0,
    ("observability-key", "KMS requests"): 0.0,
    ("spark-app", "EMR Serverless vCPU-hours"): 4 * 2 * 0.055328,  # 4 vCPU x 2 h
    ("spark-app", "EMR Serverless memory GB-hours"): 16 * 2 * 0.0060515,
    ("training", "training (ml.m5.xlarge)"): 1 * 0.242,
    ("training-images", "image storage"): None,
    ("endpoint-config", "primary serverless inference (2048 MB)"): None,
    ("endpoint-config", "primary serverless data processed"): None,
    ("observability-alerts", "SNS notifications"): None,
    ("observability-dashboard", "CloudWatch dashboard"): None,
    **{
        (f"observability-{a}", "CloudWatch alarm metrics"): None
        for a in (
            "api-5xx",
            "endpoint-5xx",
            "endpoint-latency-p99",
            "function-errors",
            "function-throttles",
            "drift",
            "fallback-rate",
            "monitor-stale",
        )
    },
    ("api-capture", "capture ingestion"): None,  # Firehose's ap-south-1 price is wanted, not guessed
}
AWS_PRODUCTION = {  # 50M requests of 0.1 s, 300 GB logs over 2 log groups, Spark 32/128 capped at 16 vCPU / 64 GB
    **AWS_LEARNER,
    ("api-api", "HTTP API requests"): 50e6 * 0.00000105,  # $52.50
    ("api-access-logs", "log ingestion"): (150 - 5) * 0.67,  # the 5 GB free pool is used by the first group
    ("api-function-logs", "log ingestion"): 150 * 0.67,
    ("api-function", "Lambda requests"): (50e6 - 1e6) * 0.0000002,  # $9.80
    ("api-function", "Lambda duration (arm64)"): (50e6 * 0.1 * 0.5 - 400_000) * 0.0000133334,  # 2.1M GB-s
    ("lake-artifacts", "S3 storage (Standard)"): 500 * 0.025,
    ("lake-curated", "S3 storage (Standard)"): 2000 * 0.025,
    ("lake-logs", "S3 storage (Standard)"): 10 * 0.025,
    ("lake-raw", "S3 storage (Standard)"): 5000 * 0.025,
    ("lake-crawler", "Glue crawler DPU-hours"): 60 * 0.44,
    ("lake-key", "KMS requests"): (2.5e6 - 20_000) * 0.000003,  # 5M requests split over 2 keys
    ("observability-key", "KMS requests"): 2.5e6 * 0.000003,
    ("spark-app", "EMR Serverless vCPU-hours"): 16 * 300 * 0.055328,
    ("spark-app", "EMR Serverless memory GB-hours"): 64 * 300 * 0.0060515,
    ("training", "training (ml.m5.xlarge)"): 200 * 0.242,
}

GCP_LEARNER = {  # asia-south1: storage per GiB; Cloud Run Tier 2 with its free tier as a Tier 1 discount
    ("api-gateway", "API Gateway calls"): 0.0,  # first 2M calls at $0
    ("api-function", "Cloud Run requests"): 0.0,
    ("api-function", "Cloud Run CPU"): 0.0,  # 1,500 vCPU-s x $0.0000336 = $0.0504 < the $4.32 discount
    ("api-function", "Cloud Run memory"): 0.0,
    ("training-registry", "image storage"): 0.0,  # 0.5 GB = 0.466 GiB inside the 0.5 GiB free
    ("lake-dataset", "BigQuery active storage"): 0.0,  # 1 GB inside 10 GiB free
    ("lake-dataset", "BigQuery on-demand queries"): 0.0,  # 0.01 TB inside 1 TiB free
    ("lake-key", "KMS key version"): 0.06,
    ("lake-key", "KMS operations"): 2500 * 0.000003,  # 5,000 operations split over 2 keys
    ("observability-key", "KMS key version"): 0.06,  # the alert topic's own key (CMEK)
    ("observability-key", "KMS operations"): 2500 * 0.000003,
    **{(f"observability-{a}", "alert conditions"): 1.5 for a in GCP_ALERTS},
    ("observability-alerts", "Pub/Sub throughput"): 0.0,  # 50 x 2 KB, inside 10 GiB free
    (
        "observability-drift-topic",
        "Pub/Sub throughput",
    ): 0.0,  # the drift alerts' share of the same 50 messages
    ("observability-drift-schedule", "scheduler job"): None,  # Cloud Scheduler's price is wanted, not guessed
    ("observability-github-token", "secret version"): None,  # Secret Manager's price is wanted, not guessed
    **_gcs(raw=5, curated=2, artifacts=1, other=0.5),
    ("observability", "log ingestion"): 0.0,  # 0.5 GB inside 50 GiB free
    # 0.6 x 4 vCPU + 0.1 x 16 GB = 4 DCU, raised to the 12 DCU minimum, x 2 h
    ("spark", "Spark batch DCU-hours"): 12 * 2 * 0.072071,
    ("endpoint-endpoint", "prediction nodes (n1-standard-2)"): None,
    ("training", "custom training (n1-standard-4)"): None,
}
GCP_PRODUCTION = {
    **GCP_LEARNER,
    ("api-gateway", "API Gateway calls"): (50e6 - 2e6) * 0.000003,  # $144
    ("api-function", "Cloud Run requests"): 50e6 * 0.0000004 - 2e6 * 0.0000004,  # $20 - $0.80 discount
    ("api-function", "Cloud Run CPU"): 50e6 * 0.1 * 0.0000336 - 180_000 * 0.000024,  # $168 - $4.32
    ("api-function", "Cloud Run memory"): 50e6 * 0.1 * 512e6 / 2**30 * 0.0000035 - 360_000 * 0.0000025,
    ("training-registry", "image storage"): (10 * GIB - 0.5) * 0.10,
    ("lake-dataset", "BigQuery active storage"): (1500 * GIB - 10) * 0.023,
    ("lake-dataset", "BigQuery on-demand queries"): (10e12 / 2**40 - 1) * 7.50,
    ("lake-key", "KMS operations"): 2.5e6 * 0.000003,  # 5M operations split over 2 keys
    ("observability-key", "KMS operations"): 2.5e6 * 0.000003,
    **_gcs(raw=5000, curated=2000, artifacts=500, other=10),
    ("observability", "log ingestion"): (300 * GIB - 50) * 0.50,
    ("spark", "Spark batch DCU-hours"): (0.6 * 16 + 0.1 * 64) * 300 * 0.072071,  # 16 vCPU / 64 GB, like AWS
}

AZURE_MISSING = {  # centralindia: no price could be read; every component stays unpriced
    ("api-function", "Functions executions"), ("api-function", "Functions execution time"),
    ("api-gateway", "API Management calls"), ("api-host-storage", "Blob hot storage (LRS)"),
    ("api-vault", "Key Vault operations"), ("lake-vault", "Key Vault operations"),
    ("training-vault", "Key Vault operations"), ("lake-account", "Blob hot storage (ZRS)"),
    ("training-storage", "Blob hot storage (LRS)"), ("lake-access-logs", "log ingestion"),
    ("observability-logs", "log ingestion"), ("training-logs", "log ingestion"),
    ("observability-app-insights", "log ingestion"), ("training-app-insights", "log ingestion"),
    ("training-registry", "registry (Standard)"), ("spark-workspace", "jobs compute DBUs (premium)"),
    ("spark-workspace", "cluster VMs (Standard_D4ds_v5)"),
    ("training-cluster", "training nodes (Standard_DS3_v2-lowpriority)"),
    ("endpoint-blue", "endpoint instances (Standard_DS1_v2)"), ("observability-action-group", "alert e-mails"),
    ("lake-synapse", "serverless SQL data processed"),
    *{(f"observability-{a}", "metric alert rule")
      for a in ("api-5xx", "endpoint-5xx", "endpoint-latency-p99", "function-errors", "function-throttles",
                "drift", "fallback-rate")},
    # the retrain trigger: its vault, its action group (no e-mail receiver, still metered) and its Logic App
    ("observability-dispatch-vault", "Key Vault operations"), ("observability-drift-actions", "alert e-mails"),
    ("observability-dispatch", "Logic App actions"),
}  # fmt: skip


def _estimates(catalog: Catalog, profile_name: str) -> dict[str, CloudEstimate]:
    prof = load_profile(profile_name)
    return {
        e.cloud: e
        for e in estimate_clouds(CLOUDS, "india", catalog, prof, loader=lambda c, s: stack_inventory(c))
    }


def _components(est: CloudEstimate) -> dict[tuple[str, str], float | None]:
    return {(r.name, c.name): c.monthly_cost_usd for r in est.resources for c in r.components}


@pytest.mark.parametrize(
    ("profile_name", "cloud", "expected"),
    [
        ("learner", "aws", AWS_LEARNER),
        ("production", "aws", AWS_PRODUCTION),
        ("learner", "gcp", GCP_LEARNER),
        ("production", "gcp", GCP_PRODUCTION),
    ],
)
def test_india_known_answers(
    catalog: Catalog, profile_name: str, cloud: str, expected: dict[Any, Any]
) -> None:
    est = _estimates(catalog, profile_name)[cloud]
    got = _components(est)
    assert set(got) == set(expected)
    for key, cost in expected.items():
        if cost is None:
            assert got[key] is None, key
        else:
            assert got[key] == pytest.approx(cost, rel=1e-9, abs=1e-12), key
    assert est.prices_not_found == sum(1 for v in expected.values() if v is None)
    assert est.total_usd == pytest.approx(sum(v for v in expected.values() if v is not None), rel=1e-9)


def test_india_learner_totals_by_hand(catalog: Catalog) -> None:
    est = _estimates(catalog, "learner")
    # aws: $0.0105 API + $0.2125 S3 + $0.088 Glue + $2 KMS keys + $0.636272 EMR + $0.242 training
    assert est["aws"].total_usd == pytest.approx(3.189272)
    assert est["aws"].idle_usd == 2.0 and est["aws"].idle_prices_not_found == 9  # dashboard + 8 alarms
    # gcp: $10.50 alerts (7 x $1.50) + 2 x $0.06 key versions + $0.015 KMS operations + $1.729704 Spark
    #      + 9.5 GB (8.8477 GiB) x $0.023 storage
    assert est["gcp"].total_usd == pytest.approx(10.5 + 0.135 + 1.729704 + 9.5 * GIB * 0.023)
    assert est["gcp"].idle_usd == pytest.approx(10.62)


@pytest.mark.parametrize("profile_name", ["learner", "production"])
def test_india_azure_has_no_estimate_and_is_never_cheapest(catalog: Catalog, profile_name: str) -> None:
    estimates = _estimates(catalog, profile_name)
    azure = estimates["azure"]
    assert {k for k, v in _components(azure).items() if v is None} == AZURE_MISSING
    assert all(v is None for v in _components(azure).values())
    report = build_report(list(estimates.values()), profile=load_profile(profile_name), catalog=catalog,
                          region_set="india")  # fmt: skip
    summary = {c["cloud"]: c for c in report["summary"]["clouds"]}
    assert summary["azure"]["figure"] == "no-estimate" and summary["azure"]["totalMonthlyCost"] is None
    assert report["summary"]["cheapestCloud"] is None and not report["summary"]["comparisonComplete"]
    line = next(x for x in report["summary"]["lines"] if x.startswith("azure"))
    assert (
        f"no estimate. All {len(AZURE_MISSING)} prices it needs are missing" in line and "$0.00" not in line
    )


def test_india_learner_summary_says_what_dominates(catalog: Catalog) -> None:
    estimates = _estimates(catalog, "learner")
    report = build_report(
        list(estimates.values()), profile=load_profile("learner"), catalog=catalog, region_set="india"
    )
    gcp = next(x for x in report["summary"]["lines"] if x.startswith("gcp"))
    # alert conditions: 7 x $1.50 = $10.50 of $12.568198 priced = 83.5%
    assert "alert conditions (7 resources): 84% of the priced part" in gcp
    assert gcp.startswith("gcp (asia-south1): at least $12.57 a month (at least $10.62 idle")
    aws = next(x for x in report["summary"]["lines"] if x.startswith("aws"))
    assert "KMS key (2 resources): 63% of the priced part" in aws  # $2.00 of $3.189272

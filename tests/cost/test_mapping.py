"""The type-token tables: every token the fixture inventories use is priced, free or a component."""

from __future__ import annotations

import pytest

from tricloud.cost.catalogs import Catalog
from tricloud.cost.estimator import estimate_inventory
from tricloud.cost.mapping import PRICERS, free_reason, is_component

from .conftest import inventory, mini_inventory, profile, res


@pytest.mark.parametrize("cloud", ["aws", "azure", "gcp"])
def test_fixture_inventories_are_fully_mapped(cloud: str) -> None:
    unmapped = {
        r["type"]
        for r in inventory(cloud)["resources"]
        if r["type"] not in PRICERS and free_reason(r["type"]) is None and not is_component(r["type"])
    }
    assert unmapped == set()


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("gcp:projects/iAMMember:IAMMember", "IAM bindings are free"),
        ("gcp:vertex/aiEndpointIamMember:AiEndpointIamMember", "IAM bindings are free"),
        ("aws:iam/rolePolicy:RolePolicy", "IAM roles, policies and OIDC providers are free"),
        ("gcp:compute/network:Network", "VPC networks carry no charge"),
    ],
)
def test_free_reasons(token: str, reason: str) -> None:
    assert free_reason(token) == reason


def test_priced_tokens_are_not_also_free() -> None:
    assert [t for t in PRICERS if free_reason(t) is not None] == []


def test_lake_bucket_outside_the_zones_uses_other_storage(catalog: Catalog) -> None:
    inv = mini_inventory(
        "aws",
        res("tricloud:aws:DataLake", "lake"),
        res("aws:s3/bucket:Bucket", "lake-raw", "lake"),
        res("aws:s3/bucket:Bucket", "lake-logs", "lake"),
    )
    prof = profile(lake={"gb": {"raw": 10}, "other_storage_gb": 2})
    est = estimate_inventory(inv, catalog, prof, region_set="us")
    quantities = {r.name: r.components[0].monthly_quantity for r in est.resources if r.components}
    assert quantities == {"lake-raw": 10, "lake-logs": 2}

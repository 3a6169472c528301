"""Secure defaults of every query resource on every cloud, read from the stacks' inventories (Pulumi mocks)."""

from __future__ import annotations

from typing import Any

import pytest

from components.data_lake.query_spec import LakeQueryArgs
from components.errors import InvalidArgs
from tricloud.inventory import build_inventory, stack_config


@pytest.fixture(scope="module")
def inv() -> dict[str, dict[str, Any]]:
    return {cloud: build_inventory(cloud) for cloud in ("aws", "azure", "gcp")}


def of(inv: dict[str, Any], typ: str) -> list[dict[str, Any]]:
    return [r for r in inv["resources"] if r["type"] == typ]


def one(inv: dict[str, Any], typ: str) -> dict[str, Any]:
    (r,) = of(inv, typ)
    return dict(r["inputs"])


def test_all_three_stacks_export_the_query_outputs(inv: dict[str, dict[str, Any]]) -> None:
    assert inv["aws"]["outputs"]["curated_table"] == inv["aws"]["outputs"]["catalog"] + ".listings"
    assert inv["aws"]["outputs"]["query_endpoint"] == "tricloud-aws-dev-lake"
    assert inv["azure"]["outputs"]["curated_table"] == "lake.dbo.listings"
    assert inv["azure"]["outputs"]["query_endpoint"] == "tricloud-azure-dev-syn-ondemand.sql.azuresynapse.net"
    assert inv["gcp"]["outputs"]["curated_table"] == inv["gcp"]["outputs"]["catalog"] + ".listings"
    assert inv["gcp"]["outputs"]["query_endpoint"].endswith("/projects/tricloud-dev/queries")


def test_athena_results_encrypted_with_the_lake_key_cutoff_enforced(inv: dict[str, dict[str, Any]]) -> None:
    aws = inv["aws"]
    conf = one(aws, "aws:athena/workgroup:Workgroup")["configuration"]
    assert conf["enforceWorkgroupConfiguration"] is True  # a client cannot opt out
    assert conf["bytesScannedCutoffPerQuery"] == 10 * 1024**3  # 10 GB: the default max_scan_gb_per_query
    result = conf["resultConfiguration"]
    assert result["encryptionConfiguration"] == {
        "encryptionOption": "SSE_KMS",
        "kmsKeyArn": aws["outputs"]["encryption_key"],
    }
    assert result["outputLocation"] == aws["outputs"]["artifacts_uri"] + "athena-results/"
    assert result["expectedBucketOwner"] == "123456789012"
    assert conf["engineVersion"] == {"selectedEngineVersion": "Athena engine version 3"}
    table = one(aws, "aws:glue/catalogTable:CatalogTable")
    assert table["tableType"] == "EXTERNAL_TABLE"  # dropping it never deletes the data
    assert table["storageDescriptor"]["location"] == aws["outputs"]["curated_uri"] + "listings/"
    assert table["parameters"]["projection.city.values"].split(",")[:2] == ["Mumbai", "Delhi"]
    assert {q["inputs"]["name"] for q in of(aws, "aws:athena/namedQuery:NamedQuery")} >= {
        "avg-price-per-city"
    }


def test_synapse_is_private_entra_only_and_uses_the_lake_key(inv: dict[str, dict[str, Any]]) -> None:
    az = inv["azure"]
    ws = one(az, "azure-native:synapse:Workspace")
    assert ws["publicNetworkAccess"] == "Disabled"  # no allowed_ip_ranges in the dev stack
    assert ws["azureADOnlyAuthentication"] is True
    assert ws["managedVirtualNetwork"] == "default"
    assert ws["managedVirtualNetworkSettings"]["preventDataExfiltration"] is True
    assert ws["encryption"]["cmk"]["key"]["keyVaultUrl"] == az["outputs"]["encryption_key"]
    assert one(az, "azure-native:synapse:Key")["isActiveCMK"] is True
    assert not of(az, "azure-native:synapse:IpFirewallRule")
    grants = {
        r["name"] for r in of(az, "azure-native:authorization:RoleAssignment") if "synapse" in r["name"]
    }
    assert grants == {"lake-synapse-lake-curated-read", "lake-synapse-lake-artifacts-synapse-write"}


def test_synapse_opens_only_to_the_lakes_allowed_ranges() -> None:
    cfg = stack_config("azure")
    cfg["tricloud:lake"] = {**cfg["tricloud:lake"], "azure": {"allowed_ip_ranges": ["203.0.113.0/24"]}}
    az = build_inventory("azure", config=cfg)
    assert one(az, "azure-native:synapse:Workspace")["publicNetworkAccess"] == "Enabled"
    rule = one(az, "azure-native:synapse:IpFirewallRule")
    assert (rule["startIpAddress"], rule["endIpAddress"]) == ("203.0.113.0", "203.0.113.255")


def test_biglake_reads_only_the_table_prefix_and_the_daily_cap_is_set(inv: dict[str, dict[str, Any]]) -> None:
    gcp = inv["gcp"]
    table = one(gcp, "gcp:bigquery/table:Table")
    assert table["externalDataConfiguration"]["connectionId"].endswith("/connections/lake")
    (grant,) = [
        r["inputs"] for r in of(gcp, "gcp:storage/bucketIAMMember:BucketIAMMember") if "biglake" in r["name"]
    ]
    assert grant["role"] == "roles/storage.objectViewer"  # read only
    assert grant["condition"]["expression"].endswith('/objects/listings/")')
    quota = one(gcp, "gcp:cloudquota/sQuotaPreference:SQuotaPreference")
    assert (quota["quotaId"], quota["quotaConfig"]["preferredValue"]) == (
        "QueryUsagePerDay",
        "1048576",
    )  # 1 TiB


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"max_scan_gb_per_query": 0}, "max_scan_gb_per_query"),
        ({"max_scan_tb_per_day": 0}, "max_scan_tb_per_day"),
    ],
)
def test_query_caps_are_validated(changes: dict[str, int], field: str) -> None:
    with pytest.raises(InvalidArgs) as err:
        LakeQueryArgs(**changes)
    assert err.value.field == field

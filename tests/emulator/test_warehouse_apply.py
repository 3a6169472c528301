"""The AWS stack with the Warehouse enabled, applied to a fresh moto and destroyed: its VPC is real in moto's EC2,
Redshift Serverless (which moto lacks) is checked and kept in state with a deviation, and nothing is left."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tricloud.config import with_optional_enabled
from tricloud.engine import Emulator, Engine
from tricloud.engine.handlers import HANDLERS, Ctx, Resource
from tricloud.engine.handlers.warehouse import RedshiftServerlessRefused
from tricloud.engine.leftovers import leftovers
from tricloud.inventory import stack_config

pytestmark = pytest.mark.emulator
REDSHIFT = "aws:redshiftserverless/"


def enabled() -> dict:
    return with_optional_enabled(stack_config("aws", "dev"))


def test_apply_with_the_warehouse_then_destroy_leaves_nothing(
    fresh_emulator: Emulator, tmp_path: Path
) -> None:
    state = tmp_path / "s.json"
    engine = Engine(fresh_emulator, state_path=state, config=enabled())
    result = engine.apply()
    ec2 = fresh_emulator.client("ec2")

    # The VPC, its three private subnets in three zones, and nothing routed to the internet.
    (vpc,) = [v for v in ec2.describe_vpcs()["Vpcs"] if not v.get("IsDefault")]
    assert vpc["CidrBlock"] == "10.40.0.0/16"
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]
    assert sorted(s["AvailabilityZone"] for s in subnets) == ["ap-south-1a", "ap-south-1b", "ap-south-1c"]
    assert not any(s["MapPublicIpOnLaunch"] for s in subnets)
    assert (
        ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc["VpcId"]]}])[
            "InternetGateways"
        ]
        == []
    )
    # S3 through the gateway endpoint, whose policy names the curated listings only.
    (endpoint,) = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])[
        "VpcEndpoints"
    ]
    resources = json.loads(endpoint["PolicyDocument"])["Statement"][0]["Resource"]
    assert resources[1].endswith("-curated-123456789012-ap-south-1/listings/*")
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])[
        "SecurityGroups"
    ]
    by_name = {g["GroupName"]: g for g in groups}
    default = by_name.pop("default")
    assert default["IpPermissions"] == [] and default["IpPermissionsEgress"] == []
    (sg,) = by_name.values()
    assert [(p["FromPort"], [r["CidrIp"] for r in p["IpRanges"]]) for p in sg["IpPermissions"]] == [
        (5439, ["10.40.0.0/16"])
    ]
    (egress,) = sg["IpPermissionsEgress"]
    assert egress["FromPort"] == 443 and egress["IpRanges"] == []
    assert [p["PrefixListId"] for p in egress["PrefixListIds"]] == [
        ec2.describe_prefix_lists(
            Filters=[{"Name": "prefix-list-name", "Values": [endpoint["ServiceName"]]}]
        )["PrefixLists"][0]["PrefixListId"]
    ]
    (flow,) = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc["VpcId"]]}])["FlowLogs"]
    assert flow["TrafficType"] == "ALL"
    logs = fresh_emulator.client("logs")
    names = {
        g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/aws/redshift/")["logGroups"]
    }
    assert names == {
        f"/aws/redshift/tricloud-aws-dev-warehouse/{x}"
        for x in ("connectionlog", "userlog", "useractivitylog")
    }

    # Redshift Serverless: not in moto, so checked, kept in state, and said.
    said = {(t, msg) for t, _, msg in result.deviations if t.startswith(REDSHIFT)}
    assert {t for t, _ in said} == {
        "aws:redshiftserverless/namespace:Namespace",
        "aws:redshiftserverless/workgroup:Workgroup",
        "aws:redshiftserverless/usageLimit:UsageLimit",
    }
    assert all("moto has no Redshift Serverless" in msg for _, msg in said)
    out = result.outputs
    assert out["warehouse_endpoint"] == (
        "tricloud-aws-dev-warehouse.123456789012.ap-south-1.redshift-serverless.amazonaws.com:5439"
    )
    assert out["warehouse_table"] == "warehouse.public.listings"
    assert out["warehouse_loader"] == "arn:aws:iam::123456789012:role/tricloud-aws-dev-warehouse-loader"

    # A second apply changes nothing; destroy removes everything, the warehouse VPC included.
    again = Engine(fresh_emulator, state_path=state, config=enabled()).apply()
    assert again.count("create") == 0 and again.count("update") == 0 and again.count("replace") == 0
    gone = Engine(fresh_emulator, state_path=state, config=enabled()).destroy()
    assert gone.count("delete") == result.count("create")
    assert leftovers(fresh_emulator) == {}
    assert not state.exists()


def ctx(emu: Emulator) -> Ctx:
    return Ctx(emu, emu.region, emu.account_id(), Path("."))


def test_workgroup_in_two_zones_is_refused_as_the_service_would(fresh_emulator: Emulator) -> None:
    ec2 = fresh_emulator.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"ap-south-1{z}")["Subnet"][
            "SubnetId"
        ]
        for i, z in enumerate("aab")
    ]
    handler = HANDLERS["aws:redshiftserverless/workgroup:Workgroup"]
    r = Resource(
        "aws:redshiftserverless/workgroup:Workgroup",
        "wg",
        {"workgroupName": "wg-one", "namespaceName": "ns-one", "baseCapacity": 4, "subnetIds": subnets},
        autoname="wg-1",
    )
    with pytest.raises(RedshiftServerlessRefused, match="three subnets in three Availability Zones"):
        handler.create(ctx(fresh_emulator), r)
    r.inputs["baseCapacity"] = 12
    with pytest.raises(RedshiftServerlessRefused, match="baseCapacity 12"):
        handler.create(ctx(fresh_emulator), r)
    for subnet in subnets:
        ec2.delete_subnet(SubnetId=subnet)
    ec2.delete_vpc(VpcId=vpc)


def test_namespace_with_a_missing_key_or_role_is_refused(fresh_emulator: Emulator) -> None:
    handler = HANDLERS["aws:redshiftserverless/namespace:Namespace"]
    base = {"namespaceName": "ns-one", "dbName": "warehouse", "manageAdminPassword": True}
    missing_key = Resource(
        handler.type, "ns", {**base, "kmsKeyId": "arn:aws:kms:ap-south-1:123456789012:key/none"}, "n"
    )
    with pytest.raises(RedshiftServerlessRefused, match="no such KMS key"):
        handler.create(ctx(fresh_emulator), missing_key)
    missing_role = Resource(
        handler.type, "ns", {**base, "iamRoles": ["arn:aws:iam::123456789012:role/nobody"]}, "n"
    )
    with pytest.raises(RedshiftServerlessRefused, match="no such role"):
        handler.create(ctx(fresh_emulator), missing_role)
    both = Resource(handler.type, "ns", {**base, "adminUserPassword": "x" * 12}, "n")
    with pytest.raises(RedshiftServerlessRefused, match="exclude each other"):
        handler.create(ctx(fresh_emulator), both)

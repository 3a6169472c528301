"""The Warehouse on three clouds: off in the dev stacks, the same outputs when on, secure defaults per resource.

The shared contract (test_contract.py) already runs every stack with the warehouse enabled (contract_support):
same outputs, validation errors, standard tags. Here: what a disabled warehouse leaves out, what the outputs look
like, and each cloud's security-relevant inputs read as the provider would send them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from contract_support import platform

from components.data_lake import curated
from components.warehouse import azure as azure_wh
from components.warehouse import schema
from components.warehouse.spec import OUTPUTS
from tricloud.config import CLOUDS
from tricloud.inventory import build_inventory

Rows = list[dict[str, Any]]


@pytest.fixture(scope="module", params=CLOUDS)
def disabled(request: pytest.FixtureRequest) -> dict[str, Any]:
    return build_inventory(str(request.param))


def test_the_dev_stacks_create_no_warehouse(disabled: dict[str, Any]) -> None:
    cloud = disabled["cloud"]
    assert not [r for r in disabled["resources"] if r["type"] == f"tricloud:{cloud}:Warehouse"]
    assert not set(OUTPUTS) & set(disabled["outputs"])
    # nothing of the warehouse's kinds either (no component, no stray child)
    kinds = {"aws": "redshiftserverless", "azure": "synapse:SqlPool", "gcp": "dataTransferConfig"}[cloud]
    assert not [r for r in disabled["resources"] if kinds in r["type"]]


def test_every_cloud_exports_the_warehouse_outputs(cloud: str) -> None:
    out = platform(cloud).stack_outputs
    assert {k: bool(out.get(k)) for k in OUTPUTS} == dict.fromkeys(OUTPUTS, True)
    expected = {
        "aws": (
            "tricloud-aws-dev-warehouse.123456789012.ap-south-1.redshift-serverless.amazonaws.com:5439",
            "warehouse",
            "warehouse.public.listings",
        ),
        "azure": (
            "tricloud-azure-dev-syn.sql.azuresynapse.net:1433",
            "warehouse",
            "warehouse.dbo.listings",
        ),
        "gcp": (
            "https://bigquery.googleapis.com/bigquery/v2/projects/tricloud-dev/queries",
            "tricloud-dev.tricloud_gcp_dev_warehouse",
            "tricloud-dev.tricloud_gcp_dev_warehouse.listings",
        ),
    }[cloud]
    assert (out["warehouse_endpoint"], out["warehouse_database"], out["warehouse_table"]) == expected


def of(cloud: str, type_: str) -> Rows:
    return [r for r in platform(cloud).resources if r["type"] == type_]


def one(cloud: str, type_: str) -> dict[str, Any]:
    rows = of(cloud, type_)
    assert len(rows) == 1, f"expected one {type_}, found {[r['name'] for r in rows]}"
    return rows[0]["inputs"]


def in_warehouse(cloud: str, type_: str) -> Rows:
    return [r for r in of(cloud, type_) if r["name"].startswith("warehouse-")]


# --- AWS ----------------------------------------------------------------------------------------------------------


def test_aws_namespace_uses_the_lake_key_and_a_managed_secret() -> None:
    ns = one("aws", "aws:redshiftserverless/namespace:Namespace")
    lake_key = "arn:aws:kms:ap-south-1:123456789012:key/key-lake-key"
    assert ns["kmsKeyId"] == lake_key and ns["adminPasswordSecretKmsKeyId"] == lake_key
    assert ns["manageAdminPassword"] is True and "adminUserPassword" not in ns
    assert sorted(ns["logExports"]) == ["connectionlog", "useractivitylog", "userlog"]
    loader = "arn:aws:iam::123456789012:role/tricloud-aws-dev-warehouse-loader"
    assert ns["iamRoles"] == [loader] and ns["defaultIamRoleArn"] == loader
    assert platform("aws").stack_outputs["warehouse_loader"] == loader


def test_aws_workgroup_is_private_minimal_and_capped() -> None:
    wg = one("aws", "aws:redshiftserverless/workgroup:Workgroup")
    assert wg["baseCapacity"] == 4
    assert wg["publiclyAccessible"] is False and wg["enhancedVpcRouting"] is True
    params = {p["parameterKey"]: p["parameterValue"] for p in wg["configParameters"]}
    assert params["require_ssl"] == "true" and params["enable_user_activity_logging"] == "true"
    assert params["max_query_execution_time"] == "3600"
    assert len(wg["subnetIds"]) == 3
    limit = one("aws", "aws:redshiftserverless/usageLimit:UsageLimit")
    assert (limit["usageType"], limit["amount"], limit["period"], limit["breachAction"]) == (
        "serverless-compute",
        24,
        "daily",
        "deactivate",
    )


def test_aws_network_has_no_route_out_but_s3_and_takes_sql_only_from_inside() -> None:
    resources = platform("aws").resources
    assert not [r for r in resources if "internetGateway" in r["type"] or "natGateway" in r["type"]]
    vpc = one("aws", "aws:ec2/vpc:Vpc")
    assert vpc["cidrBlock"] == "10.40.0.0/16"
    subnets = of("aws", "aws:ec2/subnet:Subnet")
    assert sorted(s["inputs"]["availabilityZone"] for s in subnets) == [
        "ap-south-1a",
        "ap-south-1b",
        "ap-south-1c",
    ]
    assert all(s["inputs"]["mapPublicIpOnLaunch"] is False for s in subnets)
    assert "routes" not in one("aws", "aws:ec2/routeTable:RouteTable")
    sg = one("aws", "aws:ec2/securityGroup:SecurityGroup")
    assert [(i["fromPort"], i["toPort"], i["cidrBlocks"]) for i in sg["ingress"]] == [
        (5439, 5439, ["10.40.0.0/16"])
    ]
    (egress,) = sg["egress"]
    assert (egress["toPort"], egress.get("cidrBlocks")) == (443, None)
    endpoint = one("aws", "aws:ec2/vpcEndpoint:VpcEndpoint")
    assert egress["prefixListIds"] and endpoint["vpcEndpointType"] == "Gateway"
    assert endpoint["serviceName"] == "com.amazonaws.ap-south-1.s3"
    default_sg = one("aws", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default_sg["ingress"] == [] and default_sg["egress"] == []
    assert one("aws", "aws:ec2/flowLog:FlowLog")["trafficType"] == "ALL"


def test_aws_endpoint_and_loader_reach_only_the_curated_listings() -> None:
    curated_bucket = "arn:aws:s3:::tricloud-aws-dev-curated-123456789012-ap-south-1"
    listings = f"{curated_bucket}/{curated.PREFIX}*"
    policy = json.loads(one("aws", "aws:ec2/vpcEndpoint:VpcEndpoint")["policy"])
    (st,) = policy["Statement"]
    assert st["Resource"] == [curated_bucket, listings]
    assert sorted(st["Action"]) == ["s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket"]
    grants = [
        json.loads(r["inputs"]["policy"])
        for r in of("aws", "aws:iam/rolePolicy:RolePolicy")
        if r["inputs"]["role"] == "tricloud-aws-dev-warehouse-loader"
    ]
    assert len(grants) == 1
    resources = {res for s in grants[0]["Statement"] for res in s["Resource"]}
    assert resources == {curated_bucket, listings, "arn:aws:kms:ap-south-1:123456789012:key/key-lake-key"}
    actions = {a for s in grants[0]["Statement"] for a in s["Action"]}
    assert not [a for a in actions if a.startswith("s3:Put") or a.startswith("s3:Delete")]


def test_aws_audit_log_groups_exist_before_redshift_writes_them() -> None:
    groups = {
        r["inputs"]["name"]: r["inputs"] for r in in_warehouse("aws", "aws:cloudwatch/logGroup:LogGroup")
    }
    for log in ("connectionlog", "userlog", "useractivitylog"):
        group = groups[f"/aws/redshift/tricloud-aws-dev-warehouse/{log}"]
        assert group["retentionInDays"] == 365 and group["kmsKeyId"].endswith("key/key-lake-key")
    (ns,) = of("aws", "aws:redshiftserverless/namespace:Namespace")
    assert {"warehouse-connectionlog", "warehouse-userlog", "warehouse-useractivitylog"} <= set(
        ns["depends_on"]
    )


# --- Azure --------------------------------------------------------------------------------------------------------


def test_azure_pool_lives_in_the_lake_workspace_with_tde_and_auditing() -> None:
    pool = one("azure", "azure-native:synapse:SqlPool")
    workspace = one("azure", "azure-native:synapse:Workspace")
    assert pool["workspaceName"] == workspace["workspaceName"]
    assert pool["sku"] == {"name": "DW100c"} and pool["sqlPoolName"] == "warehouse"
    assert workspace["publicNetworkAccess"] == "Disabled" and workspace["encryption"]["cmk"]["key"]["name"]
    assert one("azure", "azure-native:synapse:SqlPoolTransparentDataEncryption")["status"] == "Enabled"
    audit = one("azure", "azure-native:resources:Resource")
    assert (audit["resourceProviderNamespace"], audit["resourceType"], audit["resourceName"]) == (
        "Microsoft.Synapse",
        "extendedAuditingSettings",
        "default",
    )
    assert audit["parentResourcePath"] == "workspaces/tricloud-azure-dev-syn/sqlPools/warehouse"
    props = audit["properties"]
    assert props["state"] == "Enabled" and props["isAzureMonitorTargetEnabled"] is True
    assert "BATCH_COMPLETED_GROUP" in props["auditActionsAndGroups"]
    logs = [
        r for r in of("azure", "azure-native:monitor:DiagnosticSetting") if r["name"] == "warehouse-pool-logs"
    ]
    (setting,) = logs
    assert "SQLSecurityAuditEvents" in {c["category"] for c in setting["inputs"]["logs"]}


def test_azure_pauser_may_only_read_and_pause_the_pool() -> None:
    roles = [
        r
        for r in of("azure", "azure-native:authorization:RoleDefinition")
        if r["name"] == "warehouse-pauser-role"
    ]
    (role,) = roles
    assert role["inputs"]["permissions"] == [{"actions": list(azure_wh.PAUSER_ACTIONS)}]
    grants = [
        r
        for r in of("azure", "azure-native:authorization:RoleAssignment")
        if r["name"] == "warehouse-pauser-grant"
    ]
    (grant,) = grants
    assert grant["inputs"]["scope"].endswith(
        "/providers/Microsoft.Synapse/workspaces/tricloud-azure-dev-syn/sqlPools/warehouse"
    )
    (workflow,) = [r["inputs"] for r in in_warehouse("azure", "azure-native:logic:Workflow")]
    assert workflow["identity"] == {"type": "SystemAssigned"} and workflow["state"] == "Enabled"


def test_azure_pauser_pauses_only_an_online_pool_idle_for_the_window() -> None:
    d = azure_wh.pause_workflow("/subscriptions/s/rg/providers/Microsoft.Synapse/workspaces/w/sqlPools/p", 45)
    trigger = d["triggers"]["every_15_minutes"]["recurrence"]
    assert (trigger["frequency"], trigger["interval"]) == ("Minute", 15)
    metric_uri = d["actions"]["active_queries"]["inputs"]["uri"]
    assert "metricnames=ActiveQueries" in metric_uri and "timespan=PT45M" in metric_uri
    assert "aggregation=Maximum" in metric_uri and "interval=FULL" in metric_uri
    cond = d["actions"]["pause_when_idle"]
    status, idle = cond["expression"]["and"]
    assert status["equals"] == ["@body('pool')?['properties']?['status']", "Online"]
    assert idle["equals"][1] == 0 and "maximum" in idle["equals"][0]
    pause = cond["actions"]["pause"]["inputs"]
    assert pause["method"] == "POST" and pause["uri"].endswith("/sqlPools/p/pause?api-version=2021-06-01")
    assert all(
        a["inputs"]["authentication"]["type"] == "ManagedServiceIdentity"
        for a in (d["actions"]["pool"], d["actions"]["active_queries"], cond["actions"]["pause"])
    )


# --- GCP ----------------------------------------------------------------------------------------------------------


def test_gcp_dataset_and_table_are_under_the_lake_key_and_protected() -> None:
    datasets = {r["name"]: r["inputs"] for r in of("gcp", "gcp:bigquery/dataset:Dataset")}
    lake_key = datasets["lake-dataset"]["defaultEncryptionConfiguration"]["kmsKeyName"]
    wh = datasets["warehouse-dataset"]
    assert wh["defaultEncryptionConfiguration"]["kmsKeyName"] == lake_key
    assert wh["deleteContentsOnDestroy"] is False and "accesses" not in wh
    assert wh["location"] == datasets["lake-dataset"]["location"]
    (table,) = [r["inputs"] for r in in_warehouse("gcp", "gcp:bigquery/table:Table")]
    assert table["encryptionConfiguration"] == {"kmsKeyName": lake_key}
    assert table["deletionProtection"] is True and table["clusterings"] == ["city"]
    assert json.loads(table["schema"]) == schema.bigquery_schema()
    assert "externalDataConfiguration" not in table


def test_gcp_scheduled_load_runs_as_a_loader_with_bigquery_roles_only() -> None:
    transfer = one("gcp", "gcp:bigquery/dataTransferConfig:DataTransferConfig")
    email = "tricloud-gcp-dev-wh-loader@tricloud-dev.iam.gserviceaccount.com"
    assert transfer["serviceAccountName"] == email
    assert (transfer["dataSourceId"], transfer["schedule"]) == ("scheduled_query", "every 24 hours")
    assert transfer["encryptionConfiguration"]["kmsKeyName"].endswith("/cryptoKeys/lake")
    assert transfer["params"]["query"] == schema.bigquery_load_query(
        "tricloud-dev.tricloud_gcp_dev_lake.listings", "tricloud-dev.tricloud_gcp_dev_warehouse.listings"
    )
    member = f"serviceAccount:{email}"
    grants = sorted(
        (r["type"].split(":")[-1], r["inputs"]["role"])
        for r in platform("gcp").resources
        if r["inputs"].get("member") == member
    )
    assert grants == [
        ("DatasetIamMember", "roles/bigquery.dataEditor"),
        ("IAMMember", "roles/bigquery.jobUser"),
        ("IamMember", "roles/bigquery.dataViewer"),
    ]
    (lake_read,) = [r["inputs"] for r in of("gcp", "gcp:bigquery/iamMember:IamMember")]
    assert (lake_read["datasetId"], lake_read["tableId"]) == ("tricloud_gcp_dev_lake", "listings")
    tokens = [r["inputs"] for r in in_warehouse("gcp", "gcp:serviceaccount/iAMMember:IAMMember")]
    (token,) = tokens
    assert token["role"] == "roles/iam.serviceAccountTokenCreator"
    assert token["member"].endswith("@gcp-sa-bigquerydatatransfer.iam.gserviceaccount.com")

"""Violating and compliant fixtures of the Warehouse policies (tricloud/policy/rules/warehouse.py), written by hand.

Same shape as fixtures.py: `(resource the finding must name, [inventory rows])`; fixtures.py merges them.
"""

from __future__ import annotations

import json
from typing import Any

Row = dict[str, Any]
Fixture = tuple[str, list[Row]]
KEY = "arn:aws:kms:ap-south-1:123456789012:key/k1"
ROLE = "arn:aws:iam::123456789012:role/loader"


def r(type_: str, name: str, deps: tuple[str, ...] = (), /, **inputs: Any) -> Row:
    return {"type": type_, "name": name, "parent": None, "inputs": inputs, "depends_on": list(deps)}


NAMESPACE = "aws:redshiftserverless/namespace:Namespace"
WORKGROUP = "aws:redshiftserverless/workgroup:Workgroup"
GOOD_NAMESPACE = {
    "namespaceName": "ns",
    "kmsKeyId": KEY,
    "manageAdminPassword": True,
    "adminPasswordSecretKmsKeyId": KEY,
    "logExports": ["connectionlog", "userlog", "useractivitylog"],
}
GOOD_PARAMETERS = [
    {"parameterKey": "require_ssl", "parameterValue": "true"},
    {"parameterKey": "enable_user_activity_logging", "parameterValue": "true"},
]
GOOD_WORKGROUP = {
    "namespaceName": "ns",
    "publiclyAccessible": False,
    "enhancedVpcRouting": True,
    "configParameters": GOOD_PARAMETERS,
}


def namespace(**changes: Any) -> Fixture:
    return "ns", [r(NAMESPACE, "ns", **{**GOOD_NAMESPACE, **changes})]


def workgroup(**changes: Any) -> Fixture:
    return "wg", [r(WORKGROUP, "wg", **{**GOOD_WORKGROUP, **changes})]


def parameters(**values: str) -> list[dict[str, str]]:
    merged = {p["parameterKey"]: p["parameterValue"] for p in GOOD_PARAMETERS} | values
    return [{"parameterKey": k, "parameterValue": v} for k, v in merged.items()]


def limited(breach: str) -> Fixture:
    return "wg", [
        r(WORKGROUP, "wg", **GOOD_WORKGROUP),
        r(
            "aws:redshiftserverless/usageLimit:UsageLimit",
            "limit",
            ("wg",),
            resourceArn="arn:aws:redshift-serverless:ap-south-1:123456789012:workgroup/1",
            usageType="serverless-compute",
            amount=24,
            period="daily",
            breachAction=breach,
        ),
    ]


def vpc(*, flow: str | None = "ALL", default_sg: dict[str, Any] | None = None) -> Fixture:
    rows = [r("aws:ec2/vpc:Vpc", "vpc", cidrBlock="10.40.0.0/16")]
    if flow:
        rows.append(r("aws:ec2/flowLog:FlowLog", "flow", ("vpc",), vpcId="vpc-1", trafficType=flow))
    rows.append(
        r(
            "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
            "default-sg",
            ("vpc",),
            vpcId="vpc-1",
            **(default_sg if default_sg is not None else {"ingress": [], "egress": []}),
        )
    )
    return "vpc", rows


def endpoint(policy: Any) -> Fixture:
    inputs: dict[str, Any] = {"vpcId": "vpc-1", "serviceName": "com.amazonaws.ap-south-1.s3"}
    if policy is not None:
        inputs["policy"] = json.dumps(policy)
    return "x", [r("aws:ec2/vpcEndpoint:VpcEndpoint", "x", **inputs)]


def s3_policy(resource: Any) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"], "Resource": resource}
        ],
    }


POOL = "azure-native:synapse:SqlPool"


def pool(*extra: Row) -> Fixture:
    return "pool", [r(POOL, "pool", sqlPoolName="warehouse", sku={"name": "DW100c"}), *extra]


def tde(status: str) -> Row:
    return r("azure-native:synapse:SqlPoolTransparentDataEncryption", "tde", ("pool",), status=status)


def auditing(state: str, monitor: bool = True) -> Row:
    return r(
        "azure-native:resources:Resource",
        "audit",
        ("pool",),
        resourceProviderNamespace="Microsoft.Synapse",
        parentResourcePath="workspaces/ws/sqlPools/warehouse",
        resourceType="extendedAuditingSettings",
        resourceName="default",
        properties={"state": state, "isAzureMonitorTargetEnabled": monitor},
    )


def synapse(public: str, *rules: tuple[str, str]) -> Fixture:
    rows = [r("azure-native:synapse:Workspace", "ws", publicNetworkAccess=public)]
    rows += [
        r(
            "azure-native:synapse:IpFirewallRule",
            f"rule-{i}",
            ("ws",),
            ruleName=f"allow-{i}",
            startIpAddress=start,
            endIpAddress=end,
        )
        for i, (start, end) in enumerate(rules)
    ]
    return "ws", rows


GCP_KEY = "projects/p/locations/asia-south1/keyRings/r/cryptoKeys/k"
TABLE = "gcp:bigquery/table:Table"
DATASET = "gcp:bigquery/dataset:Dataset"


def bq(dataset_key: str | None, table: dict[str, Any]) -> Fixture:
    ds: dict[str, Any] = {"datasetId": "wh"}
    if dataset_key:
        ds["defaultEncryptionConfiguration"] = {"kmsKeyName": dataset_key}
    return "t", [r(DATASET, "ds", **ds), r(TABLE, "t", ("ds",), datasetId="wh", tableId="listings", **table)]


def transfer(key: str | None) -> Fixture:
    inputs: dict[str, Any] = {"dataSourceId": "scheduled_query", "schedule": "every 24 hours"}
    if key:
        inputs["encryptionConfiguration"] = {"kmsKeyName": key}
    return "x", [r("gcp:bigquery/dataTransferConfig:DataTransferConfig", "x", **inputs)]


WAREHOUSE: dict[str, tuple[Fixture, Fixture]] = {
    "aws-redshift-serverless-cmk": (namespace(kmsKeyId="AWS_OWNED_KMS_KEY"), namespace()),
    "aws-redshift-serverless-admin-secret": (
        namespace(manageAdminPassword=False, adminUserPassword="Hunter2hunter2"),
        namespace(),
    ),
    "aws-redshift-serverless-audit-logging": (
        namespace(logExports=["connectionlog", "userlog"]),
        namespace(),
    ),
    "aws-redshift-serverless-private": (workgroup(enhancedVpcRouting=False), workgroup()),
    "aws-redshift-serverless-tls": (workgroup(configParameters=parameters(require_ssl="false")), workgroup()),
    "aws-redshift-serverless-usage-limit": (limited("log"), limited("deactivate")),
    "aws-vpc-flow-logs": (vpc(flow=None), vpc()),
    "aws-vpc-default-security-group-closed": (
        vpc(
            default_sg={
                "ingress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}],
                "egress": [],
            }
        ),
        vpc(),
    ),
    "aws-vpc-endpoint-policy": (
        endpoint(s3_policy("*")),
        endpoint(s3_policy(["arn:aws:s3:::curated", "arn:aws:s3:::curated/listings/*"])),
    ),
    "azure-synapse-sql-pool-tde": (pool(tde("Disabled")), pool(tde("Enabled"))),
    "azure-synapse-sql-pool-auditing": (pool(auditing("Enabled", monitor=False)), pool(auditing("Enabled"))),
    "azure-synapse-public-network": (
        synapse("Enabled", ("0.0.0.0", "255.255.255.255")),
        synapse("Enabled", ("203.0.113.0", "203.0.113.255")),
    ),
    "gcp-bigquery-table-cmek": (bq(None, {}), bq(GCP_KEY, {})),
    "gcp-bigquery-transfer-cmek": (transfer(None), transfer(GCP_KEY)),
    "gcp-bigquery-table-deletion-protection": (
        bq(GCP_KEY, {"deletionProtection": False}),
        bq(GCP_KEY, {"deletionProtection": True}),
    ),
}

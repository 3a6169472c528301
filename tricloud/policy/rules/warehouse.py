"""Policies for the Warehouse concept's resource types on every cloud: Redshift Serverless and its VPC, Synapse
dedicated SQL pools, BigQuery native tables and scheduled queries.

checkov IDs are those of checkov's Terraform index for the same setting; CIS controls are from the benchmarks the
cloud modules name (CIS AWS Foundations 5.0.0, CIS GCP Foundation 4.0.0).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from tricloud.policy.model import (
    ADVISORY,
    MANDATORY,
    Res,
    Stack,
    as_json,
    as_list,
    dig,
    resource_rule,
    stack_rule,
)

AWS_CIS = "CIS AWS Foundations 5.0.0"
GCP_CIS = "CIS GCP Foundation 4.0.0"

NAMESPACE = "aws:redshiftserverless/namespace:Namespace"
WORKGROUP = "aws:redshiftserverless/workgroup:Workgroup"
USAGE_LIMIT = "aws:redshiftserverless/usageLimit:UsageLimit"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
SQL_POOL = "azure-native:synapse:SqlPool"
POOL_TDE = "azure-native:synapse:SqlPoolTransparentDataEncryption"
# A pool's auditing settings: pulumi-azure-native 3 has no typed resource for them, so a generic ARM resource.
ARM_RESOURCE = "azure-native:resources:Resource"
POOL_AUDITING_TYPES = {"extendedauditingsettings", "auditingsettings"}
SYNAPSE_WORKSPACE = "azure-native:synapse:Workspace"
SYNAPSE_FIREWALL = "azure-native:synapse:IpFirewallRule"
BQ_TABLE = "gcp:bigquery/table:Table"
BQ_DATASET = "gcp:bigquery/dataset:Dataset"
BQ_TRANSFER = "gcp:bigquery/dataTransferConfig:DataTransferConfig"

AWS_MANAGED_KEY = re.compile(r"(^|:)alias/aws/")
REDSHIFT_LOGS = ("connectionlog", "userlog", "useractivitylog")


def _parameters(workgroup: Res) -> dict[str, str]:
    return {
        str(dig(p, "parameterKey")): str(dig(p, "parameterValue")).lower()
        for p in as_list(workgroup.get("configParameters"))
        if isinstance(p, Mapping)
    }


# --- AWS: Redshift Serverless ---------------------------------------------------------------------------------


@resource_rule(
    "aws-redshift-serverless-cmk",
    types=(NAMESPACE,),
    title="Redshift Serverless namespaces encrypt data and snapshots with a customer-managed KMS key",
    level=MANDATORY,
    checkov=("CKV_AWS_282",),
    remediation="Set kms_key_id to the lake key (components/warehouse/aws.py does).",
)
def _redshift_cmk(r: Res) -> Iterator[str]:
    key = r.get("kmsKeyId")
    if not key or str(key) == "AWS_OWNED_KMS_KEY" or AWS_MANAGED_KEY.search(str(key)):
        yield "data is encrypted with an AWS-owned key, not a customer-managed key"


@resource_rule(
    "aws-redshift-serverless-admin-secret",
    types=(NAMESPACE,),
    title="Redshift Serverless admin passwords are generated into Secrets Manager under a customer key, never "
    "written in config",
    level=MANDATORY,
    checkov=("CKV_AWS_149",),
    remediation="Set manage_admin_password and admin_password_secret_kms_key_id; drop admin_user_password.",
)
def _redshift_admin(r: Res) -> Iterator[str]:
    if r.get("adminUserPassword") or r.get("adminUserPasswordWo"):
        yield "the admin password is a value in the program (it lands in state and config history)"
    if r.get("manageAdminPassword") is not True:
        yield "the admin password is not managed by Secrets Manager"
    elif not r.get("adminPasswordSecretKmsKeyId"):
        yield "the admin password secret is encrypted with the AWS-managed key"


@stack_rule(
    "aws-redshift-serverless-audit-logging",
    title="Redshift Serverless exports connection, user and user-activity logs, and its workgroups record user "
    "activity",
    level=MANDATORY,
    remediation="Set log_exports to connectionlog, userlog, useractivitylog and the workgroup parameter "
    "enable_user_activity_logging true.",
)
def _redshift_logs(s: Stack) -> Iterator[tuple[Res, str]]:
    for ns in s.of_type(NAMESPACE):
        missing = [log for log in REDSHIFT_LOGS if log not in as_list(ns.get("logExports"))]
        if missing:
            yield ns, f"does not export {', '.join(missing)}"
    for wg in s.of_type(WORKGROUP):
        if _parameters(wg).get("enable_user_activity_logging") != "true":
            yield (
                wg,
                "does not record user activity (enable_user_activity_logging): the query log stays empty",
            )


@resource_rule(
    "aws-redshift-serverless-private",
    types=(WORKGROUP,),
    title="Redshift Serverless workgroups are not publicly accessible and route COPY/UNLOAD through the VPC",
    level=MANDATORY,
    remediation="Set publicly_accessible false and enhanced_vpc_routing true (with an S3 gateway endpoint).",
)
def _redshift_private(r: Res) -> Iterator[str]:
    if r.get("publiclyAccessible") is True:
        yield "is publicly accessible: its endpoint resolves to a public address"
    if r.get("enhancedVpcRouting") is not True:
        yield "COPY and UNLOAD bypass the VPC (enhanced VPC routing is off): no endpoint policy or flow log sees them"


@resource_rule(
    "aws-redshift-serverless-tls",
    types=(WORKGROUP,),
    title="Redshift Serverless workgroups refuse connections without TLS",
    level=MANDATORY,
    remediation="Add the config parameter require_ssl = true.",
)
def _redshift_tls(r: Res) -> Iterator[str]:
    if _parameters(r).get("require_ssl") != "true":
        yield "accepts plaintext connections (require_ssl is not true)"


@stack_rule(
    "aws-redshift-serverless-usage-limit",
    title="Every Redshift Serverless workgroup has a compute usage limit that turns queries off",
    level=ADVISORY,
    remediation="Add a UsageLimit (serverless-compute, breach_action deactivate): tricloud:warehouse.aws."
    "max_rpu_hours_per_day.",
)
def _redshift_limit(s: Stack) -> Iterator[tuple[Res, str]]:
    for wg in s.of_type(WORKGROUP):
        limits = [
            u
            for u in s.dependents(wg, USAGE_LIMIT)
            if u.get("usageType") == "serverless-compute" and u.get("breachAction") == "deactivate"
        ]
        if not limits:
            yield wg, "has no compute usage limit that deactivates it: its RPU-hours are unbounded"


# --- AWS: the warehouse VPC ---------------------------------------------------------------------------------------


@stack_rule(
    "aws-vpc-flow-logs",
    title="Every VPC has flow logs (all traffic)",
    level=MANDATORY,
    checkov=("CKV2_AWS_11",),
    cis=f"{AWS_CIS} 3.7",
    remediation="Add an ec2.FlowLog with traffic_type ALL for the VPC (components/warehouse/aws.py does).",
)
def _vpc_flow_logs(s: Stack) -> Iterator[tuple[Res, str]]:
    for vpc in s.of_type(VPC):
        logs = s.dependents(vpc, FLOW_LOG)
        if not logs:
            yield vpc, "has no flow logs"
        elif not any(f.get("trafficType") == "ALL" for f in logs):
            yield vpc, "logs only accepted or rejected traffic, not ALL"


@stack_rule(
    "aws-vpc-default-security-group-closed",
    title="The default security group of every VPC admits and sends nothing",
    level=MANDATORY,
    checkov=("CKV2_AWS_12",),
    cis=f"{AWS_CIS} 5.5",
    remediation="Manage it with an ec2.DefaultSecurityGroup with no ingress and no egress rules.",
)
def _default_sg(s: Stack) -> Iterator[tuple[Res, str]]:
    for vpc in s.of_type(VPC):
        groups = s.dependents(vpc, DEFAULT_SG)
        if not groups:
            yield vpc, "leaves its default security group open among its members (not managed here)"
        for sg in groups:
            if as_list(sg.get("ingress")) or as_list(sg.get("egress")):
                yield vpc, "its default security group keeps ingress or egress rules"


@resource_rule(
    "aws-vpc-endpoint-policy",
    types=(VPC_ENDPOINT,),
    title="VPC endpoints carry a policy naming the resources they may reach (no full-access default)",
    level=ADVISORY,
    remediation="Set policy to the actions and ARNs the VPC needs (the warehouse endpoint: the curated listings).",
)
def _endpoint_policy(r: Res) -> Iterator[str]:
    doc = as_json(r.get("policy"))
    if not isinstance(doc, Mapping):
        yield "has no policy: it reaches every resource of the service, in any account"
        return
    for st in as_list(doc.get("Statement")):
        if not isinstance(st, Mapping) or st.get("Effect") != "Allow":
            continue
        if "*" in as_list(st.get("Resource")) or "*" in as_list(st.get("Action")):
            yield "allows every action or every resource"


# --- Azure: Synapse dedicated SQL pools ---------------------------------------------------------------------------


@stack_rule(
    "azure-synapse-sql-pool-tde",
    title="Synapse dedicated SQL pools have transparent data encryption on",
    level=MANDATORY,
    checkov=("CKV_AZURE_241",),
    remediation="Add a SqlPoolTransparentDataEncryption with status Enabled (components/warehouse/azure.py does).",
)
def _pool_tde(s: Stack) -> Iterator[tuple[Res, str]]:
    for pool in s.of_type(SQL_POOL):
        tde = s.dependents(pool, POOL_TDE)
        if not any(t.get("status") == "Enabled" for t in tde):
            yield pool, "has no transparent data encryption set to Enabled"


@stack_rule(
    "azure-synapse-sql-pool-auditing",
    title="Synapse dedicated SQL pools audit authentications and queries",
    level=MANDATORY,
    checkov=("CKV2_AZURE_54",),
    remediation="Add the pool's Microsoft.Synapse extendedAuditingSettings (an azure-native resources.Resource) with "
    "state Enabled and a target (Azure Monitor).",
)
def _pool_auditing(s: Stack) -> Iterator[tuple[Res, str]]:
    for pool in s.of_type(SQL_POOL):
        policies = [
            p
            for p in s.dependents(pool, ARM_RESOURCE)
            if str(p.get("resourceProviderNamespace")).lower() == "microsoft.synapse"
            and str(p.get("resourceType")).lower() in POOL_AUDITING_TYPES
        ]
        enabled = [p for p in policies if p.get("properties", "state") == "Enabled"]
        if not enabled:
            yield pool, "is not audited"
        elif not any(
            p.get("properties", "isAzureMonitorTargetEnabled") is True
            or p.get("properties", "storageEndpoint")
            for p in enabled
        ):
            yield pool, "is audited to no target (neither Azure Monitor nor a storage account)"


@stack_rule(
    "azure-synapse-public-network",
    title="Synapse workspaces (and their SQL pools) take no traffic from the internet at large",
    level=MANDATORY,
    remediation="Keep public_network_access Disabled, or Enabled with firewall rules for named CIDRs only "
    "(tricloud:lake.azure.allowed_ip_ranges).",
)
def _synapse_public(s: Stack) -> Iterator[tuple[Res, str]]:
    for ws in s.of_type(SYNAPSE_WORKSPACE):
        if ws.get("publicNetworkAccess") == "Disabled":
            continue
        rules = s.dependents(ws, SYNAPSE_FIREWALL)
        if not rules:
            yield ws, "has public network access on and no firewall rule narrowing it"
        for rule in rules:
            start, end = rule.get("startIpAddress"), rule.get("endIpAddress")
            if start == "0.0.0.0" and end in ("255.255.255.255", "0.0.0.0"):
                what = "every Azure service" if end == "0.0.0.0" else "the whole internet"
                yield ws, f"firewall rule {rule.get('ruleName') or rule.name} admits {what}"


# --- GCP: BigQuery native tables and scheduled queries ------------------------------------------------------------


def _native(table: Res) -> bool:
    return not table.get("externalDataConfiguration")


@stack_rule(
    "gcp-bigquery-table-cmek",
    title="BigQuery native tables are encrypted with a customer-managed key (their own or their dataset's default)",
    level=MANDATORY,
    checkov=("CKV_GCP_80",),
    cis=f"{GCP_CIS} 7.2",
    remediation="Set encryption_configuration.kms_key_name on the table, or the dataset's default key.",
)
def _table_cmek(s: Stack) -> Iterator[tuple[Res, str]]:
    datasets = {d.get("datasetId"): d for d in s.of_type(BQ_DATASET)}
    for table in s.of_type(BQ_TABLE):
        if not _native(table) or table.get("encryptionConfiguration", "kmsKeyName"):
            continue
        dataset = datasets.get(table.get("datasetId"))
        if dataset is not None and dataset.get("defaultEncryptionConfiguration", "kmsKeyName"):
            continue
        yield table, "stores its rows under a Google-managed key"


@resource_rule(
    "gcp-bigquery-transfer-cmek",
    types=(BQ_TRANSFER,),
    title="BigQuery scheduled queries write under a customer-managed key",
    level=MANDATORY,
    remediation="Set encryption_configuration.kms_key_name to the lake key.",
)
def _transfer_cmek(r: Res) -> Iterator[str]:
    if not r.get("encryptionConfiguration", "kmsKeyName"):
        yield "what it writes is encrypted with a Google-managed key"


@resource_rule(
    "gcp-bigquery-table-deletion-protection",
    types=(BQ_TABLE,),
    title="BigQuery native tables are protected from deletion by a destroy",
    level=ADVISORY,
    checkov=("CKV_GCP_121",),
    remediation="Keep deletion_protection true (tricloud:warehouse.force_destroy false).",
)
def _table_protection(r: Res) -> Iterator[str]:
    if _native(r) and r.get("deletionProtection") is False:
        yield "a destroy deletes the table and its loaded rows"

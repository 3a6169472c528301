"""SparkCluster on Azure: a premium Databricks workspace without public IPs, an access connector, a cluster policy.

The access connector's managed identity is the Spark job role: it reads the raw zone and writes curated data and
Spark logs, through role assignments scoped to those filesystems. The job cluster policy is a Databricks object
(workspace API, not Azure Resource Manager): this component renders it and exposes it as `cluster_policy_json`; the
CD step applies it with `databricks cluster-policies create --json "$(pulumi stack output ...)"` (docs/azure.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.databricks as databricks
import pulumi_azure_native.resources as resources

from components.azure_common import AzurePrincipal, azure_name, resource_group, subscription_scope, tags_for
from components.data_lake.azure import DataLake
from components.data_lake.spec import Zone
from components.spark_cluster.spec import OUTPUTS, SparkClusterArgs, SparkMode
from components.spark_cluster.spec import SparkCluster as Concept

SPARK_LOGS_PREFIX = "spark-logs/"
NODE_TYPE = "Standard_D4ds_v5"  # 4 vCPU / 16 GB with local SSD for shuffle
NODE_VCPU = 4
SPARK_35_RUNTIMES = r"1[4-6]\.[0-9]+\.x-scala2\.12"  # Databricks Runtime 14.3-16.x: Apache Spark 3.5


@dataclass(frozen=True)
class SparkClusterNative:
    resource_group: resources.ResourceGroup
    workspace: databricks.Workspace
    access_connector: databricks.AccessConnector
    grants: tuple[authorization.RoleAssignment, ...]


def cluster_policy(args: SparkClusterArgs, tags: dict[str, str]) -> dict[str, object]:
    """A Databricks cluster policy (definition JSON) that holds clusters to the spec's limits."""
    max_workers = max(1, args.max_vcpu // NODE_VCPU - 1)  # one node is the driver
    definition: dict[str, object] = {
        "spark_version": {"type": "regex", "pattern": SPARK_35_RUNTIMES},
        "node_type_id": {"type": "allowlist", "values": [NODE_TYPE], "defaultValue": NODE_TYPE},
        "driver_node_type_id": {"type": "fixed", "value": NODE_TYPE},
        "autoscale.min_workers": {"type": "fixed", "value": 1},
        "autoscale.max_workers": {"type": "range", "maxValue": max_workers, "defaultValue": max_workers},
        # Interactive clusters stop soon after the last command; job clusters end with their job anyway.
        "autotermination_minutes": {"type": "fixed", "value": args.idle_timeout_minutes},
        # Workers are stateless: spot with on-demand fallback cuts cost without failing jobs.
        "azure_attributes.availability": {"type": "fixed", "value": "SPOT_WITH_FALLBACK_AZURE"},
        "azure_attributes.first_on_demand": {"type": "fixed", "value": 1},  # the driver is never evicted
        "enable_local_disk_encryption": {"type": "fixed", "value": True},  # shuffle spill is lake data
        "data_security_mode": {"type": "fixed", "value": "SINGLE_USER"},  # Unity Catalog isolation
    }
    for key, value in tags.items():
        definition[f"custom_tags.{key}"] = {"type": "fixed", "value": value}
    if args.mode is SparkMode.SERVERLESS:
        # Serverless jobs need no cluster; the policy still bounds any classic job cluster someone creates.
        definition["cluster_type"] = {"type": "fixed", "value": "job"}
    return definition


class SparkCluster(pulumi.ComponentResource):
    OUTPUTS: ClassVar[tuple[str, ...]] = OUTPUTS  # the cloud-neutral outputs this class registers
    spark_application: pulumi.Output[str]
    spark_job_role: pulumi.Output[str]
    spark_logs_uri: pulumi.Output[str]
    cluster_policy_json: str
    native: SparkClusterNative

    def __init__(
        self,
        name: str,
        args: SparkClusterArgs,
        *,
        lake: DataLake,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(f"tricloud:azure:{Concept.name}", name, None, opts)
        args.validate()
        tags = tags_for(Concept.name, args.tags)
        child = pulumi.ResourceOptions(parent=self)

        rg = resource_group(name, "spark", tags, self)
        connector = databricks.AccessConnector(
            f"{name}-access-connector",
            connector_name=azure_name("generic", "spark", "connector"),
            resource_group_name=rg.name,
            identity={"type": "SystemAssigned"},  # a managed identity: no secret to rotate or leak
            tags=tags,
            opts=child,
        )
        principal = AzurePrincipal(
            f"{name}-access-connector", connector.identity.apply(lambda i: i.principal_id)
        )
        grants = (
            lake.grant_read(principal, zone=Zone.RAW, parent=self),
            lake.grant_write(principal, zone=Zone.CURATED, parent=self),
            lake.grant_write(principal, zone=Zone.ARTIFACTS, prefix=SPARK_LOGS_PREFIX, parent=self),
        )
        managed_rg = azure_name("generic", "spark", "managed", "rg")
        workspace = databricks.Workspace(
            f"{name}-workspace",
            workspace_name=azure_name("generic", "dbw"),
            resource_group_name=rg.name,
            # Databricks puts its own resources (VNet, storage, NAT) in a group it locks: never shared with ours.
            managed_resource_group_id=pulumi.Output.concat(
                subscription_scope(rg.id), "/resourceGroups/", managed_rg
            ),
            sku={"name": "premium"},  # RBAC, cluster policies, Unity Catalog and serverless jobs need premium
            parameters={
                "enable_no_public_ip": {
                    "value": True
                },  # cluster nodes get no public IP (secure cluster connectivity)
                "require_infrastructure_encryption": {"value": True},  # double encryption of the DBFS root
            },
            access_connector={"id": connector.id, "identity_type": "SystemAssigned"},
            default_storage_firewall="Enabled",  # the workspace storage accepts only the access connector
            tags=tags,
            opts=child,
        )
        self.cluster_policy_json = json.dumps(cluster_policy(args, tags), sort_keys=True)
        self.workspace_url: pulumi.Output[str] = workspace.workspace_url
        self.spark_application = pulumi.Output.concat("https://", workspace.workspace_url)
        self.spark_job_role = connector.id
        self.spark_logs_uri = lake.uri(Zone.ARTIFACTS, SPARK_LOGS_PREFIX)
        self.native = SparkClusterNative(
            resource_group=rg, workspace=workspace, access_connector=connector, grants=grants
        )
        self.register_outputs({k: getattr(self, k) for k in OUTPUTS})

"""Warehouse on Azure: a dedicated SQL pool in the lake's Synapse workspace, paused by a Logic App when idle.

Dedicated rather than serverless-as-warehouse: serverless SQL (the lake's query engine) stores nothing of its own,
so "loading" would only write more Parquet into the lake; a dedicated pool holds the loaded table in its own
columnar storage, as Redshift and BigQuery native tables do. It lives in the lake's workspace, so it inherits what
that workspace enforces: the lake's Key Vault key (workspace double encryption), Entra-only authentication, no
public network access unless the lake lists CIDRs, the managed VNet with exfiltration protection.

- Transparent data encryption is switched on explicitly (the workspace key protects it in a CMK workspace).
- Auditing (authentications and every batch) goes to the lake's Log Analytics workspace, with the pool's request logs.
- Compute bills every hour the pool is online and a dedicated pool never pauses itself: a Logic App checks every
  15 minutes and pauses the pool when it is online and ran no query for `pause_after_idle_minutes`. Its identity
  holds a custom role that can read the pool and its metrics and pause it, nothing else.

The table and its load are T-SQL inside the pool, not Azure Resource Manager: `tricloud script synapse-load
[--stack S]` renders them (components.warehouse.schema.synapse_script) for `sqlcmd -G`, docs/query.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.logic as logic
import pulumi_azure_native.monitor as monitor
import pulumi_azure_native.resources as resources
import pulumi_azure_native.synapse as synapse

from components.azure_common import azure_name, resource_group, tags_for
from components.data_lake.azure import DataLake
from components.warehouse import schema
from components.warehouse.spec import OUTPUTS, WarehouseArgs
from components.warehouse.spec import Warehouse as Concept

PORT = 1433
COLLATION = "SQL_Latin1_General_CP1_CI_AS"  # the default; set, because a pool's collation cannot change later
CHECK_EVERY_MINUTES = 15
ARM = "https://management.azure.com"
SYNAPSE_API = "2021-06-01"
METRICS_API = "2023-10-01"
# Authentications (failed ones included) and every batch: who ran what, for audits.
AUDIT_GROUPS = (
    "SUCCESSFUL_DATABASE_AUTHENTICATION_GROUP",
    "FAILED_DATABASE_AUTHENTICATION_GROUP",
    "BATCH_COMPLETED_GROUP",
)
POOL_LOG_CATEGORIES = (
    "SqlRequests",
    "RequestSteps",
    "ExecRequests",
    "DmsWorkers",
    "Waits",
    "SQLSecurityAuditEvents",
)
PAUSER_ACTIONS = (
    "Microsoft.Synapse/workspaces/sqlPools/read",
    "Microsoft.Synapse/workspaces/sqlPools/pause/action",
    "Microsoft.Insights/metrics/read",
)


@dataclass(frozen=True)
class WarehouseNative:
    resource_group: Any
    pool: synapse.SqlPool
    encryption: synapse.SqlPoolTransparentDataEncryption
    auditing: resources.Resource
    pauser: logic.Workflow
    pauser_role: authorization.RoleDefinition
    pauser_grant: authorization.RoleAssignment


def pause_workflow(pool_id: str, idle_minutes: int) -> dict[str, Any]:
    """The Logic App (workflow definition language): every CHECK_EVERY_MINUTES, read the pool's status and its
    highest count of active queries over the idle window; pause it when it is online and that count is 0."""
    auth = {"type": "ManagedServiceIdentity", "audience": f"{ARM}/"}
    pool = f"{ARM}{pool_id}"
    metrics = (
        f"{pool}/providers/Microsoft.Insights/metrics?api-version={METRICS_API}"
        f"&metricnames=ActiveQueries&aggregation=Maximum&interval=FULL&timespan=PT{idle_minutes}M"
    )
    peak = "@coalesce(body('active_queries')?['value']?[0]?['timeseries']?[0]?['data']?[0]?['maximum'], 0)"
    return {
        "$schema": "https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#",
        "contentVersion": "1.0.0.0",
        "triggers": {
            "every_15_minutes": {
                "type": "Recurrence",
                "recurrence": {"frequency": "Minute", "interval": CHECK_EVERY_MINUTES},
            }
        },
        "actions": {
            "pool": {
                "type": "Http",
                "inputs": {
                    "method": "GET",
                    "uri": f"{pool}?api-version={SYNAPSE_API}",
                    "authentication": auth,
                },
            },
            "active_queries": {
                "type": "Http",
                "runAfter": {"pool": ["Succeeded"]},
                "inputs": {"method": "GET", "uri": metrics, "authentication": auth},
            },
            "pause_when_idle": {
                "type": "If",
                "runAfter": {"active_queries": ["Succeeded"]},
                "expression": {
                    "and": [
                        {"equals": ["@body('pool')?['properties']?['status']", "Online"]},
                        {"equals": [peak, 0]},
                    ]
                },
                "actions": {
                    "pause": {
                        "type": "Http",
                        "inputs": {
                            "method": "POST",
                            "uri": f"{pool}/pause?api-version={SYNAPSE_API}",
                            "authentication": auth,
                        },
                    }
                },
            },
        },
        "outputs": {},
    }


class Warehouse(pulumi.ComponentResource):
    OUTPUTS: ClassVar[tuple[str, ...]] = OUTPUTS  # the cloud-neutral outputs this class registers
    warehouse_endpoint: pulumi.Output[str]
    warehouse_database: pulumi.Output[str]
    warehouse_table: pulumi.Output[str]
    warehouse_loader: pulumi.Output[str]
    native: WarehouseNative

    def __init__(
        self, name: str, args: WarehouseArgs, *, lake: DataLake, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"tricloud:azure:{Concept.name}", name, None, opts)
        args.validate()
        tags = tags_for(Concept.name, args.tags)
        child = pulumi.ResourceOptions(parent=self)
        query = lake.native.query
        workspace, lake_rg = query.workspace, lake.native.resource_group
        # The pool waits for the workspace key: a CMK workspace accepts pools only once its key is active.
        after_key = [query.workspace_key] if query.workspace_key is not None else []
        in_workspace = {"resource_group_name": lake_rg.name, "workspace_name": workspace.name}

        pool = synapse.SqlPool(
            f"{name}-pool",
            sql_pool_name=args.database,
            sku={"name": args.azure.sku},
            create_mode="Default",
            collation=COLLATION,
            storage_account_type="GRS",  # geo-redundant backups: the loaded data survives a regional outage
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=after_key),
            **in_workspace,
        )
        on_pool = {**in_workspace, "sql_pool_name": pool.name}
        encryption = synapse.SqlPoolTransparentDataEncryption(
            f"{name}-pool-tde",
            transparent_data_encryption_name="current",
            status="Enabled",
            opts=child,
            **on_pool,
        )
        # pulumi-azure-native 3 has no typed resource for a pool's auditing settings: the ARM resource itself.
        auditing = resources.Resource(
            f"{name}-pool-audit",
            resource_provider_namespace="Microsoft.Synapse",
            parent_resource_path=pulumi.Output.concat("workspaces/", workspace.name, "/sqlPools/", pool.name),
            resource_type="extendedAuditingSettings",
            resource_name_="default",
            api_version=SYNAPSE_API,
            resource_group_name=lake_rg.name,
            properties={
                "state": "Enabled",
                "isAzureMonitorTargetEnabled": True,  # to Log Analytics through the pool's diagnostic setting
                "auditActionsAndGroups": list(AUDIT_GROUPS),
            },
            opts=child,
        )
        logs = lake.native.access_logs
        if logs is not None:
            monitor.DiagnosticSetting(
                f"{name}-pool-logs",
                name="warehouse-logs",
                resource_uri=pool.id,
                workspace_id=logs.id,
                logs=[{"category": c, "enabled": True} for c in POOL_LOG_CATEGORIES],
                opts=child,
            )

        rg = resource_group(name, "warehouse", tags, self)
        pauser = logic.Workflow(
            f"{name}-pauser",
            workflow_name=azure_name("generic", "warehouse", "pauser"),
            resource_group_name=rg.name,
            identity={"type": "SystemAssigned"},
            state="Enabled",
            definition=pool.id.apply(lambda pid: pause_workflow(pid, args.azure.pause_after_idle_minutes)),
            tags=tags,
            opts=child,
        )
        if logs is not None:
            monitor.DiagnosticSetting(
                f"{name}-pauser-logs",
                name="pauser-runs",
                resource_uri=pauser.id,
                workspace_id=logs.id,
                logs=[{"category": "WorkflowRuntime", "enabled": True}],
                opts=child,
            )
        # Custom roles are assignable at resource-group scope at the narrowest; the assignment is on the pool.
        pauser_role = authorization.RoleDefinition(
            f"{name}-pauser-role",
            role_name=azure_name("generic", "warehouse", "pauser"),
            description="tricloud warehouse: read a dedicated SQL pool and its metrics, pause it",
            scope=lake_rg.id,
            assignable_scopes=[lake_rg.id],
            permissions=[authorization.PermissionArgs(actions=list(PAUSER_ACTIONS))],
            opts=child,
        )
        pauser_grant = authorization.RoleAssignment(
            f"{name}-pauser-grant",
            principal_id=pauser.identity.apply(lambda i: i.principal_id if i else ""),
            principal_type="ServicePrincipal",
            role_definition_id=pauser_role.id,
            scope=pool.id,
            description="tricloud: the pauser Logic App may pause this pool only",
            opts=child,
        )

        sql_host = workspace.connectivity_endpoints.apply(lambda e: (e or {}).get("sql", ""))
        self.warehouse_endpoint = pulumi.Output.concat(sql_host, f":{PORT}")
        self.warehouse_database = pool.name
        self.warehouse_table = pulumi.Output.concat(pool.name, f".{schema.SYNAPSE_SCHEMA}.{schema.TABLE}")
        # COPY INTO reads the curated zone as the workspace's managed identity (the lake's Blob Data Reader grant).
        self.warehouse_loader = workspace.identity.apply(lambda i: i.principal_id if i else "")
        self.native = WarehouseNative(
            resource_group=rg,
            pool=pool,
            encryption=encryption,
            auditing=auditing,
            pauser=pauser,
            pauser_role=pauser_role,
            pauser_grant=pauser_grant,
        )
        self.register_outputs({k: getattr(self, k) for k in OUTPUTS})

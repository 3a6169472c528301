"""SQL over the curated zone on Azure: a Synapse workspace whose built-in serverless SQL pool reads the lake.

Why Synapse serverless SQL rather than Databricks SQL with Unity Catalog:
- cost: billed per TB processed ($5/TB list), nothing while idle and no warehouse to start or forget; a Databricks
  SQL warehouse bills DBUs for every minute it runs (plus its auto-stop tail);
- the course teaches Synapse as Azure's warehouse, and the same workspace hosts the optional Warehouse concept
  (a dedicated SQL pool), so one identity, one network boundary and one key cover both;
- private networking and CMK are workspace settings (managed VNet with exfiltration protection, public access off
  unless the lake's allowed IP ranges are set, the lake's Key Vault key as workspace key), while Unity Catalog needs
  an account-level metastore and network connectivity config outside Azure Resource Manager.

The SQL objects (database, data source, the `listings` view) live inside the serverless pool, not in ARM: the
component renders them (`setup_sql`, `tricloud script synapse-setup [--stack S]`) and the deploy step runs
them once with `sqlcmd -G` (docs/query.md).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.keyvault as keyvault
import pulumi_azure_native.managedidentity as managedidentity
import pulumi_azure_native.monitor as monitor
import pulumi_azure_native.operationalinsights as operationalinsights
import pulumi_azure_native.resources as resources
import pulumi_azure_native.storage as storage
import pulumi_azure_native.synapse as synapse

from components.azure_common import AzurePrincipal, azure_name
from components.data_lake import curated
from components.data_lake.query_spec import LakeQueryArgs
from components.data_lake.spec import Zone
from components.naming import physical_name

DATABASE = "lake"  # the serverless SQL database the setup script creates: the `catalog` output
SCHEMA = "dbo"
WORKSPACE_PREFIX = "synapse/"  # Synapse keeps workspace files under this folder of its primary filesystem
CMK_NAME = "lake"
# Serverless SQL request logs and RBAC changes: who queried what, for audits (with the lake's access logs).
LOG_CATEGORIES = ("BuiltinSqlReqsEnded", "SynapseRbacOperations", "GatewayApiRequests")


@dataclass(frozen=True)
class LakeQueryAzure:
    workspace: synapse.Workspace
    workspace_key: synapse.Key | None
    admin: synapse.WorkspaceAadAdmin
    firewall_rules: tuple[synapse.IpFirewallRule, ...]
    grants: tuple[authorization.RoleAssignment, ...]
    catalog: pulumi.Output[str]
    curated_table: pulumi.Output[str]
    query_endpoint: pulumi.Output[str]
    setup_sql: pulumi.Output[str]  # run once on query_endpoint (docs/query.md)


def workspace_name(project: str, stack: str) -> str:
    """Synapse names are global DNS labels: lowercase letters, digits and hyphens, at most 50 characters."""
    return physical_name("azure:generic", project, stack, "syn").lower()[:50].rstrip("-")


def cidr_range(cidr: str) -> tuple[str, str]:
    net = ipaddress.ip_network(cidr, strict=False)
    return str(net[0]), str(net[-1])


def setup_sql(account: str, max_scan_tb_per_day: int) -> str:
    """T-SQL for the serverless pool: the daily cap, the `lake` database and a `listings` view over the Parquet.

    A view with `filepath(1)` rather than an external table: serverless SQL prunes the `city=` folders only
    through filepath() predicates, so `WHERE city = 'Pune'` reads one partition. No credential is created: the
    data source passes each caller's own Entra identity to storage, so RBAC on the curated zone decides.
    """
    cols = ",\n    ".join(f"{c.name} {curated.SYNAPSE_TYPES[c.kind]}" for c in curated.columns())
    return f"""-- tricloud: run once as the workspace's Entra admin:
--   sqlcmd -G -S <query_endpoint> -d master -i setup.sql
EXEC sp_set_data_processed_limit @type = N'daily', @limit_tb = {max_scan_tb_per_day};
GO
IF DB_ID('{DATABASE}') IS NULL CREATE DATABASE {DATABASE} COLLATE Latin1_General_100_BIN2_UTF8;
GO
USE {DATABASE};
GO
IF NOT EXISTS (SELECT * FROM sys.external_data_sources WHERE name = 'curated')
    CREATE EXTERNAL DATA SOURCE curated WITH (LOCATION = 'https://{account}.dfs.core.windows.net/{Zone.CURATED.value}');
GO
CREATE OR ALTER VIEW {SCHEMA}.{curated.TABLE} AS
SELECT r.*, CAST(r.filepath(1) AS VARCHAR(64)) AS {curated.PARTITION_COLUMN}
FROM OPENROWSET(
    BULK '{curated.PREFIX}{curated.PARTITION_COLUMN}=*/*.parquet',
    DATA_SOURCE = 'curated',
    FORMAT = 'PARQUET'
) WITH (
    {cols}
) AS r;
GO
"""


def add_query(
    lake: pulumi.ComponentResource,
    name: str,
    args: LakeQueryArgs,
    *,
    resource_group: resources.ResourceGroup,
    account: storage.StorageAccount,
    key: keyvault.Key | None,
    key_identity: managedidentity.UserAssignedIdentity | None,
    access_logs: operationalinsights.Workspace | None,
    allowed_ip_ranges: tuple[str, ...],
    tags: dict[str, str],
) -> LakeQueryAzure:
    """The Synapse workspace and its grants, key, admin, firewall and logs, as children of the DataLake `lake`."""
    child = pulumi.ResourceOptions(parent=lake)
    project, stack = pulumi.get_project(), pulumi.get_stack()
    client = authorization.get_client_config_output()
    identity: dict[str, object] = {"type": "SystemAssigned"}
    encryption = None
    if key is not None and key_identity is not None:
        # The lake's key and the identity that already holds it: the workspace is double-encrypted with our key.
        identity = {"type": "SystemAssigned,UserAssigned", "user_assigned_identities": [key_identity.id]}
        encryption = {
            "cmk": {
                "key": {"name": CMK_NAME, "key_vault_url": key.key_uri},
                "kek_identity": {
                    "user_assigned_identity": key_identity.id,
                    "use_system_assigned_identity": False,
                },
            }
        }
    workspace = synapse.Workspace(
        f"{name}-synapse",
        workspace_name=workspace_name(project, stack),
        resource_group_name=resource_group.name,
        identity=identity,
        default_data_lake_storage={
            "account_url": pulumi.Output.concat("https://", account.name, ".dfs.core.windows.net"),
            "filesystem": Zone.ARTIFACTS.value,  # workspace files and query outputs are artifacts, not data
            "resource_id": account.id,
            "create_managed_private_endpoint": True,  # Spark/pipelines reach the lake privately
        },
        managed_resource_group_name=azure_name("generic", "syn", "managed", "rg"),
        managed_virtual_network="default",
        # Nothing in the workspace may copy lake data to another tenant.
        managed_virtual_network_settings={
            "prevent_data_exfiltration": True,
            "allowed_aad_tenant_ids_for_linking": [],
        },
        # Private by default: SQL endpoints are reachable only through private endpoints unless the lake lists CIDRs.
        public_network_access="Enabled" if allowed_ip_ranges else "Disabled",
        azure_ad_only_authentication=True,  # Entra identities only: no SQL password to leak or rotate
        trusted_service_bypass_enabled=False,
        encryption=encryption,
        tags=tags,
        opts=child,
    )
    ws_child = pulumi.ResourceOptions(parent=lake, depends_on=[workspace])
    workspace_key = None
    if encryption is not None and key is not None:
        # A CMK workspace stays "pending" until its key is activated.
        workspace_key = synapse.Key(
            f"{name}-synapse-cmk",
            key_name=CMK_NAME,
            key_vault_url=key.key_uri,
            is_active_cmk=True,
            resource_group_name=resource_group.name,
            workspace_name=workspace.name,
            opts=ws_child,
        )
    admin = synapse.WorkspaceAadAdmin(
        f"{name}-synapse-admin",
        administrator_type="ActiveDirectory",
        login="tricloud-deployer",
        sid=client.object_id,  # whoever deploys administers the SQL pools (runs setup_sql)
        tenant_id=client.tenant_id,
        resource_group_name=resource_group.name,
        workspace_name=workspace.name,
        opts=ws_child,
    )
    rules = tuple(
        synapse.IpFirewallRule(
            f"{name}-synapse-allow-{i}",
            rule_name=f"allow-{i}",
            start_ip_address=cidr_range(cidr)[0],
            end_ip_address=cidr_range(cidr)[1],
            resource_group_name=resource_group.name,
            workspace_name=workspace.name,
            opts=ws_child,
        )
        for i, cidr in enumerate(allowed_ip_ranges)
    )
    principal = AzurePrincipal(
        f"{name}-synapse", workspace.identity.apply(lambda i: i.principal_id if i else "")
    )
    grants = (
        lake.grant_read(principal, zone=Zone.CURATED, parent=lake),  # type: ignore[attr-defined]
        lake.grant_write(principal, zone=Zone.ARTIFACTS, prefix=WORKSPACE_PREFIX, parent=lake),  # type: ignore[attr-defined]
    )
    if access_logs is not None:
        monitor.DiagnosticSetting(
            f"{name}-synapse-logs",
            name="query-logs",
            resource_uri=workspace.id,
            workspace_id=access_logs.id,
            logs=[{"category": c, "enabled": True} for c in LOG_CATEGORIES],
            opts=ws_child,
        )
    endpoint = workspace.connectivity_endpoints.apply(lambda e: (e or {}).get("sqlOnDemand", ""))
    return LakeQueryAzure(
        workspace=workspace,
        workspace_key=workspace_key,
        admin=admin,
        firewall_rules=rules,
        grants=grants,
        catalog=pulumi.Output.from_input(DATABASE),
        curated_table=pulumi.Output.from_input(f"{DATABASE}.{SCHEMA}.{curated.TABLE}"),
        query_endpoint=endpoint,
        setup_sql=account.name.apply(lambda a: setup_sql(a, args.max_scan_tb_per_day)),
    )

"""DataLake on Azure: one ADLS Gen2 account (hierarchical namespace) with raw/curated/artifacts filesystems.

Encryption with a customer-managed Key Vault key (rotated), network rules that deny by default, no shared keys, a
lifecycle policy for the raw zone, soft delete for recovery, and blob access logs in Log Analytics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.keyvault as keyvault
import pulumi_azure_native.managedidentity as managedidentity
import pulumi_azure_native.monitor as monitor
import pulumi_azure_native.operationalinsights as operationalinsights
import pulumi_azure_native.resources as resources
import pulumi_azure_native.storage as storage

from components.azure_common import (
    BASELINE_ENCRYPTION,
    AzurePrincipal,
    assign_role,
    azure_name,
    key_vault,
    log_workspace,
    resource_group,
    storage_account,
    subscription_scope,
    tags_for,
)
from components.data_lake.query_azure import LakeQueryAzure, add_query
from components.data_lake.spec import OUTPUTS, DataLakeArgs, Zone
from components.data_lake.spec import DataLake as Spec
from components.naming import physical_name

TRUSTED_RESOURCE_TYPES = (
    "/resourceGroups/*/providers/Microsoft.Databricks/accessConnectors/*",
    "/resourceGroups/*/providers/Microsoft.MachineLearningServices/workspaces/*",
    "/resourceGroups/*/providers/Microsoft.Synapse/workspaces/*",  # serverless SQL reads with its identity
)
AUDIT_LOG_RETENTION_DAYS = 90  # access logs are for audits; a quarter covers a review cycle


@dataclass(frozen=True)
class DataLakeNative:
    resource_group: resources.ResourceGroup
    account: storage.StorageAccount
    filesystems: dict[Zone, storage.BlobContainer]
    blob_service: storage.BlobServiceProperties
    lifecycle: storage.ManagementPolicy
    key_vault: keyvault.Vault | None
    key: keyvault.Key | None
    key_identity: managedidentity.UserAssignedIdentity | None
    access_logs: operationalinsights.Workspace | None
    query: LakeQueryAzure  # Synapse workspace (serverless SQL) over the curated zone


class DataLake(pulumi.ComponentResource):
    OUTPUTS: ClassVar[tuple[str, ...]] = OUTPUTS  # the cloud-neutral outputs this class registers
    lake_uri: pulumi.Output[str]
    raw_uri: pulumi.Output[str]
    curated_uri: pulumi.Output[str]
    artifacts_uri: pulumi.Output[str]
    encryption_key: pulumi.Output[str]
    catalog: pulumi.Output[str]
    curated_table: pulumi.Output[str]
    query_endpoint: pulumi.Output[str]
    native: DataLakeNative

    def __init__(self, name: str, args: DataLakeArgs, *, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("tricloud:azure:DataLake", name, None, opts)
        args.validate()
        self._name = name
        tags = tags_for(Spec.name, args.tags)
        child = pulumi.ResourceOptions(parent=self)

        rg = resource_group(name, "lake", tags, self)
        self.resource_group_name: pulumi.Output[str] = rg.name

        vault = key = identity = None
        encryption: dict[str, Any] = BASELINE_ENCRYPTION
        account_identity = None
        account_deps: list[pulumi.Resource] = []
        if args.azure.customer_managed_key:
            identity = managedidentity.UserAssignedIdentity(
                f"{name}-key-identity",
                resource_name_=azure_name("generic", "lake", "key", "id"),
                resource_group_name=rg.name,
                tags=tags,
                opts=child,
            )
            vault = key_vault(f"{name}-vault", "lake", rg.name, identity.tenant_id, tags, self)
            key = keyvault.Key(
                f"{name}-key",
                key_name="lake",
                vault_name=vault.name,
                resource_group_name=rg.name,
                properties={
                    "kty": "RSA",
                    "key_size": 3072,  # above the 2048-bit minimum, still fast for wrap/unwrap
                    "key_ops": ["wrapKey", "unwrapKey"],  # the account only wraps its data keys
                    "rotation_policy": {
                        "attributes": {"expiry_time": f"P{args.key_rotation_days + 90}D"},
                        "lifetime_actions": [
                            {
                                "action": {"type": "rotate"},
                                "trigger": {"time_after_create": f"P{args.key_rotation_days}D"},
                            },
                            {"action": {"type": "notify"}, "trigger": {"time_before_expiry": "P30D"}},
                        ],
                    },
                },
                tags=tags,
                opts=child,
            )
            grant = assign_role(
                f"{name}-key-user",
                AzurePrincipal("lake-account", identity.principal_id),
                "Key Vault Crypto Service Encryption User",
                key.id,
                self,
            )
            account_deps.append(grant)
            account_identity = {"type": "UserAssigned", "user_assigned_identities": [identity.id]}
            encryption = {
                **encryption,
                "key_source": "Microsoft.Keyvault",
                # The versionless key URI: the account follows each rotation automatically.
                "key_vault_properties": {"key_name": key.name, "key_vault_uri": vault.properties.vault_uri},
                "encryption_identity": {"encryption_user_assigned_identity": identity.id},
            }

        client = authorization.get_client_config_output()
        sub = subscription_scope(rg.id)
        account = storage_account(
            f"{name}-account",
            "lake",
            rg.name,
            tags,
            self,
            sku="Standard_ZRS",  # three zones, like S3 and GCS regional buckets
            access_tier="Hot",
            is_hns_enabled=True,  # ADLS Gen2: real directories and atomic renames for Spark commits
            network_rule_set={
                "default_action": "Deny",  # only listed networks and trusted Azure services reach the data
                "bypass": "AzureServices",
                "ip_rules": [
                    {"i_p_address_or_range": c, "action": "Allow"} for c in args.azure.allowed_ip_ranges
                ],
                # Network path (not permission) for Databricks access connectors and Azure ML workspaces of this
                # subscription; what each may read or write is still decided by its role assignments.
                "resource_access_rules": [
                    {"tenant_id": client.tenant_id, "resource_id": pulumi.Output.concat(sub, rule)}
                    for rule in TRUSTED_RESOURCE_TYPES
                ],
            },
            encryption=encryption,
            identity=account_identity,
            # Deleting the account deletes the data: a destroy needs force_destroy (or `pulumi state unprotect`).
            opts=pulumi.ResourceOptions(protect=not args.force_destroy, depends_on=account_deps),
        )
        self.account_name: pulumi.Output[str] = account.name
        self.account_id: pulumi.Output[str] = account.id

        # HNS accounts do not support blob versioning; soft delete of blobs and filesystems is ADLS Gen2's
        # recovery from overwrites and deletes, bounded by the same number of days as noncurrent versions elsewhere.
        retention = {"enabled": args.versioning, "days": args.noncurrent_version_expiry_days}
        blob_service = storage.BlobServiceProperties(
            f"{name}-blob-service",
            account_name=account.name,
            resource_group_name=rg.name,
            blob_services_name="default",
            is_versioning_enabled=False,
            delete_retention_policy=retention,
            container_delete_retention_policy=retention,
            opts=child,
        )

        filesystems = {
            zone: storage.BlobContainer(
                f"{name}-{zone.value}",
                container_name=zone.value,
                account_name=account.name,
                resource_group_name=rg.name,
                public_access="None",  # filesystems are private; access is by role assignment only
                opts=pulumi.ResourceOptions(parent=self, depends_on=[blob_service]),
            )
            for zone in Zone
        }
        self._filesystems = filesystems

        raw_actions: dict[str, Any] = {
            "base_blob": {
                "tier_to_cool": {"days_after_modification_greater_than": args.raw_cold_after_days},
                **(
                    {"delete": {"days_after_modification_greater_than": args.raw_expiry_days}}
                    if args.raw_expiry_days is not None
                    else {}
                ),
            }
        }
        lifecycle = storage.ManagementPolicy(
            f"{name}-lifecycle",
            management_policy_name="default",
            account_name=account.name,
            resource_group_name=rg.name,
            policy={
                "rules": [
                    {
                        "name": "raw-to-cool",
                        "enabled": True,
                        "type": "Lifecycle",
                        "definition": {
                            "filters": {"blob_types": ["blockBlob"], "prefix_match": [f"{Zone.RAW.value}/"]},
                            "actions": raw_actions,
                        },
                    }
                ]
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(filesystems.values())),
        )

        access_logs = None
        if args.access_logging:
            access_logs = log_workspace(
                f"{name}-access-logs", "lake-logs", rg.name, AUDIT_LOG_RETENTION_DAYS, tags, self
            )
            monitor.DiagnosticSetting(
                f"{name}-access-log-setting",
                name="access-logs",
                resource_uri=account.id.apply(lambda i: f"{i}/blobServices/default"),
                workspace_id=access_logs.id,
                logs=[
                    {"category": c, "enabled": True} for c in ("StorageRead", "StorageWrite", "StorageDelete")
                ],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[blob_service]),
            )

        self.raw_uri = self.uri(Zone.RAW)
        self.curated_uri = self.uri(Zone.CURATED)
        self.artifacts_uri = self.uri(Zone.ARTIFACTS)
        self.lake_uri = self.curated_uri  # the data the platform queries and trains on
        self.encryption_key = (
            key.key_uri if key is not None else pulumi.Output.from_input("Microsoft.Storage")
        )
        query = add_query(
            self,
            name,
            args.query,
            resource_group=rg,
            account=account,
            key=key,
            key_identity=identity,
            access_logs=access_logs,
            allowed_ip_ranges=args.azure.allowed_ip_ranges,
            tags=tags,
        )
        self.catalog = query.catalog
        self.curated_table = query.curated_table
        self.query_endpoint = query.query_endpoint
        self.native = DataLakeNative(
            resource_group=rg,
            account=account,
            filesystems=filesystems,
            blob_service=blob_service,
            lifecycle=lifecycle,
            key_vault=vault,
            key=key,
            key_identity=identity,
            access_logs=access_logs,
            query=query,
        )
        self.register_outputs({k: getattr(self, k) for k in OUTPUTS})

    def uri(self, zone: Zone, prefix: str = "") -> pulumi.Output[str]:
        """`abfss://<zone>@<account>.dfs.core.windows.net/<prefix>`."""
        return pulumi.Output.concat(
            "abfss://", zone.value, "@", self.account_name, ".dfs.core.windows.net/", prefix
        )

    def filesystem_id(self, zone: Zone) -> pulumi.Output[str]:
        return self._filesystems[zone].id

    # --- permissions -------------------------------------------------------------------------------------------

    def grant_read(
        self,
        principal: AzurePrincipal,
        *,
        zone: Zone,
        prefix: str = "",
        parent: pulumi.Resource | None = None,
    ) -> authorization.RoleAssignment:
        """Storage Blob Data Reader on one filesystem (optionally one prefix): never on the whole account."""
        return self._grant("read", principal, zone, prefix, "Storage Blob Data Reader", READ_ACTIONS, parent)

    def grant_write(
        self,
        principal: AzurePrincipal,
        *,
        zone: Zone,
        prefix: str = "",
        parent: pulumi.Resource | None = None,
    ) -> authorization.RoleAssignment:
        """Storage Blob Data Contributor on one filesystem (optionally one prefix): read, write, delete there."""
        return self._grant(
            "write", principal, zone, prefix, "Storage Blob Data Contributor", WRITE_ACTIONS, parent
        )

    def _grant(
        self,
        verb: str,
        principal: AzurePrincipal,
        zone: Zone,
        prefix: str,
        role: str,
        actions: tuple[str, ...],
        parent: pulumi.Resource | None,
    ) -> authorization.RoleAssignment:
        slug = physical_name("azure:generic", prefix.strip("/")) if prefix else ""
        name = "-".join(p for p in (principal.label, "lake", zone.value, slug, verb) if p)
        return assign_role(
            name,
            principal,
            role,
            self._filesystems[zone].id,
            parent or self,
            condition=prefix_condition(prefix, actions) if prefix else None,
        )


# Blob data actions a prefix condition restricts (ABAC); other actions of the role stay unconditioned.
BLOB = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
READ_ACTIONS = (f"{BLOB}/read",)
WRITE_ACTIONS = (f"{BLOB}/read", f"{BLOB}/write", f"{BLOB}/add/action", f"{BLOB}/delete")


def prefix_condition(prefix: str, actions: tuple[str, ...]) -> str:
    """An ABAC condition (version 2.0) limiting `actions` to blobs whose path starts with `prefix`."""
    matched = " OR ".join(f"ActionMatches{{'{a}'}}" for a in actions)
    return f"((!({matched})) OR (@Resource[{BLOB}:path] StringStartsWith '{prefix.lstrip('/')}'))"

"""What every Azure component shares: its resource group, role assignments and physical names.

Each component owns one resource group, so a component's lifecycle, RBAC scope and cost show up as one unit.
Role assignments take built-in role GUIDs; the subscription comes from the resource group's id, so no
`get_client_config` invoke is needed (and mocks need none).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_azure_native.applicationinsights as applicationinsights
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.keyvault as keyvault
import pulumi_azure_native.monitor as monitor
import pulumi_azure_native.operationalinsights as operationalinsights
import pulumi_azure_native.resources as resources
import pulumi_azure_native.storage as storage

from components.naming import physical_name
from components.tags import component_tags

CLOUD = "azure"

# Built-in Azure RBAC role definition GUIDs (the same in every tenant).
ROLES = {
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "Key Vault Crypto Service Encryption User": "e147488a-f6f5-4113-8e2d-b22465e65bf6",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "AzureML Data Scientist": "f6c7c914-8db3-469d-8ca1-694a8f32e121",
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "AcrPush": "8311e382-0749-4cb8-b61a-304f252e45ec",
    "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
}


@dataclass(frozen=True)
class AzurePrincipal:
    """Who a grant is for: a short label for resource names and the Entra object id of the identity."""

    label: str
    principal_id: pulumi.Input[str]
    principal_type: str = "ServicePrincipal"  # managed identities are service principals


def name_parts(*role: str) -> tuple[str, ...]:
    return (pulumi.get_project(), pulumi.get_stack(), *role)


def azure_name(kind: str, *role: str) -> str:
    """`<project>-<stack>-<role>` within the Azure rule for `kind` (see components.naming.RULES)."""
    return physical_name(f"azure:{kind}", *name_parts(*role))


def tags_for(concept: str, extra: dict[str, str]) -> dict[str, str]:
    return component_tags(CLOUD, concept, extra)


def resource_group(
    name: str, role: str, tags: dict[str, str], parent: pulumi.Resource
) -> resources.ResourceGroup:
    # The location comes from `azure-native:location`; every child then inherits the group's location.
    return resources.ResourceGroup(
        f"{name}-rg",
        resource_group_name=azure_name("generic", role, "rg"),
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def subscription_scope(resource_id: pulumi.Input[str]) -> pulumi.Output[str]:
    """`/subscriptions/<id>` from any resource id in that subscription."""
    return pulumi.Output.from_input(resource_id).apply(lambda rid: "/".join(rid.split("/")[:3]))


def role_definition_id(any_resource_id: pulumi.Input[str], role: str) -> pulumi.Output[str]:
    guid = ROLES[role]
    return subscription_scope(any_resource_id).apply(
        lambda sub: f"{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
    )


def assign_role(
    resource_name: str,
    principal: AzurePrincipal,
    role: str,
    scope: pulumi.Input[str],
    parent: pulumi.Resource,
    depends_on: list[pulumi.Resource] | None = None,
    condition: str | None = None,
) -> authorization.RoleAssignment:
    """One built-in role for one principal at exactly `scope` (a container, a vault, a workspace), never wider."""
    return authorization.RoleAssignment(
        resource_name,
        principal_id=principal.principal_id,
        principal_type=principal.principal_type,
        role_definition_id=role_definition_id(scope, role),
        scope=scope,
        description=f"tricloud: {role} for {principal.label}",
        condition=condition,
        condition_version="2.0" if condition else None,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on or []),
    )


def key_vault(
    resource_name: str,
    role: str,
    resource_group_name: pulumi.Input[str],
    tenant_id: pulumi.Input[str],
    tags: dict[str, str],
    parent: pulumi.Resource,
    *,
    firewall: bool = True,
) -> keyvault.Vault:
    """A Key Vault with RBAC, purge protection and (unless `firewall=False`) a deny-by-default firewall.

    Trusted Azure services (storage, Azure ML) pass the firewall; App Service Key Vault references do not, so a
    vault read by a consumption Function App (no VNet) relies on RBAC scoped to single secrets instead.
    """
    return keyvault.Vault(
        resource_name,
        vault_name=azure_name("key_vault", role, "kv"),
        resource_group_name=resource_group_name,
        properties={
            "tenant_id": tenant_id,
            "sku": {"family": "A", "name": "standard"},
            "enable_rbac_authorization": True,  # RBAC, not vault access policies: one permission model
            "enable_soft_delete": True,
            "soft_delete_retention_in_days": 90,  # the longest window to recover a deleted key or secret
            "enable_purge_protection": True,  # nobody can destroy keys that encrypt data, even by mistake
            "public_network_access": "Enabled",
            "network_acls": {"default_action": "Deny" if firewall else "Allow", "bypass": "AzureServices"},
        },
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )


BASELINE_ENCRYPTION: dict[str, Any] = {
    "key_source": "Microsoft.Storage",
    "require_infrastructure_encryption": True,  # a second AES layer at the infrastructure level
    "services": {"blob": {"enabled": True, "key_type": "Account"}},
}


def storage_account(
    resource_name: str,
    role: str,
    resource_group_name: pulumi.Input[str],
    tags: dict[str, str],
    parent: pulumi.Resource,
    *,
    sku: str = "Standard_LRS",
    opts: pulumi.ResourceOptions | None = None,
    **settings: Any,
) -> storage.StorageAccount:
    """A StorageV2 account with the platform's baseline; `settings` add to it (HNS, network rules, CMK...)."""
    baseline: dict[str, Any] = {
        "minimum_tls_version": "TLS1_2",  # older TLS versions have known weaknesses
        "enable_https_traffic_only": True,  # no plaintext HTTP
        "allow_blob_public_access": False,  # no anonymous reads, whatever a container says
        "allow_shared_key_access": False,  # Entra ID only: account keys cannot be scoped or audited per caller
        "default_to_o_auth_authentication": True,
        "allow_cross_tenant_replication": False,  # data never leaves the tenant by replication
        "encryption": BASELINE_ENCRYPTION,
    }
    return storage.StorageAccount(
        resource_name,
        account_name=azure_name("storage_account", role),
        resource_group_name=resource_group_name,
        kind="StorageV2",
        sku={"name": sku},
        tags=tags,
        opts=pulumi.ResourceOptions.merge(pulumi.ResourceOptions(parent=parent), opts),
        **{**baseline, **settings},
    )


def recoverable_logged_blobs(
    resource_name: str,
    account: storage.StorageAccount,
    resource_group_name: pulumi.Input[str],
    logs_workspace_id: pulumi.Input[str],
    parent: pulumi.Resource,
    *,
    retention_days: int = 7,
) -> storage.BlobServiceProperties:
    """Soft delete for blobs and containers, and blob read/write/delete logs to `logs`: an overwrite or a delete
    can be undone for `retention_days`, and every access is attributable (the lake's baseline, for other accounts);
    the logs go to the Log Analytics workspace `logs_workspace_id`."""
    retention = {"enabled": True, "days": retention_days}
    service = storage.BlobServiceProperties(
        f"{resource_name}-blob-service",
        account_name=account.name,
        resource_group_name=resource_group_name,
        blob_services_name="default",
        delete_retention_policy=retention,
        container_delete_retention_policy=retention,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    monitor.DiagnosticSetting(
        f"{resource_name}-access-log-setting",
        name="access-logs",
        resource_uri=account.id.apply(lambda i: f"{i}/blobServices/default"),
        workspace_id=logs_workspace_id,
        logs=[{"category": c, "enabled": True} for c in ("StorageRead", "StorageWrite", "StorageDelete")],
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[service]),
    )
    return service


def log_workspace(
    resource_name: str,
    role: str,
    resource_group_name: pulumi.Input[str],
    retention_days: int,
    tags: dict[str, str],
    parent: pulumi.Resource,
) -> operationalinsights.Workspace:
    return operationalinsights.Workspace(
        resource_name,
        workspace_name=azure_name("generic", role),
        resource_group_name=resource_group_name,
        sku={"name": "PerGB2018"},
        retention_in_days=retention_days,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def app_insights(
    resource_name: str,
    role: str,
    resource_group_name: pulumi.Input[str],
    workspace: operationalinsights.Workspace,
    tags: dict[str, str],
    parent: pulumi.Resource,
    *,
    entra_only: bool = True,
) -> applicationinsights.Component:
    """Workspace-based Application Insights; `entra_only` refuses telemetry sent with the key alone."""
    return applicationinsights.Component(
        resource_name,
        resource_name_=azure_name("generic", role),
        resource_group_name=resource_group_name,
        kind="web",
        application_type="web",
        workspace_resource_id=workspace.id,
        ingestion_mode="LogAnalytics",
        disable_local_auth=entra_only,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )

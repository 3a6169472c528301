"""Azure policies (azure-native types): Storage, Key Vault, Functions, API Management, RBAC, Azure ML, ACR,
monitoring, Databricks, tags.

checkov IDs are those of checkov's Terraform (azurerm) index for the same setting. CIS controls are from the CIS
Microsoft Azure Foundations Benchmark v4.0.0; App Service controls from v3.0.0 (4.0 moved them to a separate
benchmark).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from tricloud.policy.model import ADVISORY, MANDATORY, Res, Stack, as_list, dig, resource_rule, stack_rule
from tricloud.policy.rules.common import missing_standard_tags, name_value_settings, plaintext_secrets

CIS4 = "CIS Azure Foundations 4.0.0"
CIS3 = "CIS Azure Foundations 3.0.0"
STORAGE = "azure-native:storage:StorageAccount"
CONTAINER = "azure-native:storage:BlobContainer"
BLOB_SERVICE = "azure-native:storage:BlobServiceProperties"
DIAGNOSTICS = "azure-native:monitor:DiagnosticSetting"
VAULT = "azure-native:keyvault:Vault"
KEY = "azure-native:keyvault:Key"
WEBAPP = "azure-native:web:WebApp"
BASIC_AUTH = ("azure-native:web:WebAppFtpAllowed", "azure-native:web:WebAppScmAllowed")
APIM = "azure-native:apimanagement:ApiManagementService"
API = "azure-native:apimanagement:Api"
API_OPERATION = "azure-native:apimanagement:ApiOperation"
API_POLICY = "azure-native:apimanagement:ApiPolicy"
OPERATION_POLICY = "azure-native:apimanagement:ApiOperationPolicy"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
ML_WORKSPACE = "azure-native:machinelearningservices:Workspace"
ML_COMPUTE = "azure-native:machinelearningservices:Compute"
ML_ENDPOINT = "azure-native:machinelearningservices:OnlineEndpoint"
REGISTRY = "azure-native:containerregistry:Registry"
LOG_WORKSPACE = "azure-native:operationalinsights:Workspace"
APP_INSIGHTS = "azure-native:applicationinsights:Component"
DATABRICKS = "azure-native:databricks:Workspace"
KEY_ROTATION_MAX_DAYS = 90

# Built-in roles that can change who has access (or everything): never assigned by the platform.
PRIVILEGED_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": "Role Based Access Control Administrator",
}


def _iso_days(duration: object) -> int | None:
    """Days in an ISO-8601 duration of days/months/years (P90D, P3M, P1Y); None when it is not one."""
    m = re.fullmatch(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?", str(duration or ""))
    if not m or not any(m.groups()):
        return None
    years, months, days = (int(g or 0) for g in m.groups())
    return years * 365 + months * 30 + days


# --- Storage ------------------------------------------------------------------------------------------------------


@resource_rule(
    "azure-storage-https-only",
    types=(STORAGE,),
    title="Storage accounts accept HTTPS only (secure transfer required)",
    level=MANDATORY,
    checkov=("CKV_AZURE_3",),
    cis=f"{CIS4} 10.3.4",
    remediation="Set enable_https_traffic_only true (components/azure_common.storage_account does).",
)
def _https(r: Res) -> Iterator[str]:
    if r.get("enableHttpsTrafficOnly") is not True:
        yield "accepts plain HTTP"


@resource_rule(
    "azure-storage-min-tls",
    types=(STORAGE,),
    title="Storage accounts require TLS 1.2 or later",
    level=MANDATORY,
    checkov=("CKV_AZURE_44",),
    cis=f"{CIS4} 10.3.7",
    remediation="Set minimum_tls_version TLS1_2.",
)
def _tls(r: Res) -> Iterator[str]:
    if r.get("minimumTlsVersion") not in ("TLS1_2", "TLS1_3"):
        yield f"accepts {r.get('minimumTlsVersion') or 'the default minimum'} TLS"


@resource_rule(
    "azure-storage-no-public-blob",
    types=(STORAGE,),
    title="Storage accounts forbid anonymous blob access",
    level=MANDATORY,
    checkov=("CKV_AZURE_190", "CKV2_AZURE_47"),
    cis=f"{CIS4} 10.3.9",
    remediation="Set allow_blob_public_access false.",
)
def _no_public_blob(r: Res) -> Iterator[str]:
    if r.get("allowBlobPublicAccess") is not False:
        yield "allows anonymous blob access"


@resource_rule(
    "azure-storage-no-shared-key",
    types=(STORAGE,),
    title="Storage accounts accept Entra ID only (shared key access disabled)",
    level=MANDATORY,
    checkov=("CKV2_AZURE_40",),
    cis=f"{CIS4} 10.3.1.3",
    remediation="Set allow_shared_key_access false and grant data roles to managed identities.",
)
def _no_shared_key(r: Res) -> Iterator[str]:
    if r.get("allowSharedKeyAccess") is not False:
        yield "accepts account keys, which cannot be scoped or audited per caller"


@resource_rule(
    "azure-storage-cross-tenant-replication",
    types=(STORAGE,),
    title="Storage accounts forbid object replication to other tenants",
    level=MANDATORY,
    cis=f"{CIS4} 10.3.8",
    remediation="Set allow_cross_tenant_replication false.",
)
def _cross_tenant(r: Res) -> Iterator[str]:
    if r.get("allowCrossTenantReplication") is not False:
        yield "allows replication to another tenant"


@resource_rule(
    "azure-storage-network-deny",
    types=(STORAGE,),
    title="Storage account firewalls deny by default (listed networks and trusted services only)",
    level=ADVISORY,
    checkov=("CKV_AZURE_35",),
    cis=f"{CIS4} 10.3.2.3",
    remediation="Set network_rule_set default_action Deny (tricloud:lake.azure.allowed_ip_ranges lets CIDRs in).",
)
def _network_deny(r: Res) -> Iterator[str]:
    if r.get("publicNetworkAccess") == "Disabled":
        return
    if r.get("networkRuleSet", "defaultAction") != "Deny":
        yield "accepts connections from every network"


@resource_rule(
    "azure-storage-lake-cmk",
    types=(STORAGE,),
    title="Data lake (hierarchical namespace) accounts encrypt with a customer-managed Key Vault key",
    level=MANDATORY,
    checkov=("CKV2_AZURE_1",),
    cis=f"{CIS4} 2.1.1.2.1",
    remediation="Set tricloud:lake.azure.customer_managed_key true (the default).",
)
def _lake_cmk(r: Res) -> Iterator[str]:
    if r.get("isHnsEnabled") is not True:
        return  # the CIS control targets critical data: the lake
    enc = r.get("encryption", default={})
    if dig(enc, "keySource") != "Microsoft.Keyvault" or not dig(enc, "keyVaultProperties", "keyName"):
        yield "lake data is encrypted with Microsoft-managed keys"


@resource_rule(
    "azure-storage-infrastructure-encryption",
    types=(STORAGE,),
    title="Storage accounts add infrastructure (double) encryption",
    level=ADVISORY,
    cis=f"{CIS3} 4.2",
    remediation="Set encryption.require_infrastructure_encryption true (only at account creation).",
)
def _infra_encryption(r: Res) -> Iterator[str]:
    if r.get("encryption", "requireInfrastructureEncryption") is not True:
        yield "has a single layer of encryption at rest"


@resource_rule(
    "azure-blob-container-private",
    types=(CONTAINER,),
    title="Blob containers allow no anonymous access",
    level=MANDATORY,
    checkov=("CKV_AZURE_34",),
    remediation="Set public_access None.",
)
def _container(r: Res) -> Iterator[str]:
    if r.get("publicAccess") not in (None, "None"):
        yield f"public access level is {r.get('publicAccess')}"


@stack_rule(
    "azure-storage-soft-delete",
    title="Storage accounts keep deleted blobs and containers recoverable (soft delete)",
    level=ADVISORY,
    checkov=("CKV2_AZURE_38",),
    cis=f"{CIS4} 10.3.6",
    remediation="Add BlobServiceProperties with delete and container delete retention (tricloud:lake.versioning).",
)
def _soft_delete(s: Stack) -> Iterator[tuple[Res, str]]:
    for account in s.of_type(STORAGE):
        services = s.dependents(account, BLOB_SERVICE)
        if not any(
            svc.get("deleteRetentionPolicy", "enabled") is True
            and svc.get("containerDeleteRetentionPolicy", "enabled") is True
            for svc in services
        ):
            yield account, "deleted blobs or containers cannot be recovered (soft delete is off)"


@stack_rule(
    "azure-storage-access-logging",
    title="Storage accounts send blob read, write and delete logs to Log Analytics",
    level=ADVISORY,
    checkov=("CKV2_AZURE_21",),
    cis=f"{CIS3} 4.13",
    remediation="Set tricloud:lake.access_logging true (the default): a DiagnosticSetting on blobServices/default.",
)
def _storage_logging(s: Stack) -> Iterator[tuple[Res, str]]:
    wanted = {"StorageRead", "StorageWrite", "StorageDelete"}
    for account in s.of_type(STORAGE):
        logged: set[str] = set()
        for setting in s.dependents(account, DIAGNOSTICS):
            if str(setting.get("resourceUri", default="")).endswith("/blobServices/default"):
                logged |= {
                    str(dig(log, "category"))
                    for log in as_list(setting.get("logs"))
                    if dig(log, "enabled") is True
                }
        missing = sorted(wanted - logged)
        if missing:
            yield account, f"does not log {', '.join(missing)}"


# --- Key Vault ----------------------------------------------------------------------------------------------------


@resource_rule(
    "azure-keyvault-recoverable",
    types=(VAULT,),
    title="Key vaults keep deleted keys recoverable (soft delete and purge protection)",
    level=MANDATORY,
    checkov=("CKV_AZURE_42", "CKV_AZURE_110"),
    cis=f"{CIS4} 9.3.5",
    remediation="Set enable_soft_delete and enable_purge_protection true (components/azure_common.key_vault).",
)
def _vault_recoverable(r: Res) -> Iterator[str]:
    props = r.get("properties", default={})
    if dig(props, "enableSoftDelete") is False:
        yield "soft delete is off"
    if dig(props, "enablePurgeProtection") is not True:
        yield "purge protection is off: a deleted key (and the data it encrypts) can be destroyed at once"


@resource_rule(
    "azure-keyvault-rbac",
    types=(VAULT,),
    title="Key vaults use Azure RBAC, not vault access policies",
    level=MANDATORY,
    cis=f"{CIS4} 9.3.6",
    remediation="Set enable_rbac_authorization true and grant roles on single keys or secrets.",
)
def _vault_rbac(r: Res) -> Iterator[str]:
    if r.get("properties", "enableRbacAuthorization") is not True:
        yield "uses vault access policies"


@resource_rule(
    "azure-keyvault-firewall",
    types=(VAULT,),
    title="Key vault firewalls deny by default (trusted Azure services pass)",
    level=MANDATORY,
    checkov=("CKV_AZURE_109",),
    remediation="Set network_acls default_action Deny; a vault a consumption Function App reads by Key Vault "
    "reference cannot (no VNet): declare it as an exception with its reason under tricloud:policy.",
)
def _vault_firewall(r: Res) -> Iterator[str]:
    props = r.get("properties", default={})
    if (
        dig(props, "publicNetworkAccess") != "Disabled"
        and dig(props, "networkAcls", "defaultAction") != "Deny"
    ):
        yield "accepts connections from every network"


@resource_rule(
    "azure-keyvault-key-rotation",
    types=(KEY,),
    title=f"Key Vault keys rotate automatically at least every {KEY_ROTATION_MAX_DAYS} days, and new versions expire",
    level=MANDATORY,
    cis=f"{CIS4} 9.3.9, 9.3.1",
    remediation="Give the key a rotation_policy with a rotate action after <= P90D and an expiry_time "
    "(tricloud:lake.key_rotation_days, default 90).",
)
def _key_rotation(r: Res) -> Iterator[str]:
    policy = r.get("properties", "rotationPolicy", default={})
    rotate_after = [
        _iso_days(dig(a, "trigger", "timeAfterCreate"))
        for a in as_list(dig(policy, "lifetimeActions"))
        if str(dig(a, "action", "type")).lower() == "rotate"
    ]
    days = min((d for d in rotate_after if d is not None), default=None)
    if days is None:
        yield "has no automatic rotation"
    elif days > KEY_ROTATION_MAX_DAYS:
        yield f"rotates every {days} days, more than {KEY_ROTATION_MAX_DAYS}"
    if not dig(policy, "attributes", "expiryTime"):
        yield "rotated versions never expire (no expiry_time)"


# --- Functions (App Service) ----------------------------------------------------------------------------------------


@resource_rule(
    "azure-function-https-tls",
    types=(WEBAPP,),
    title="Function and web apps serve HTTPS only with TLS 1.2+, and FTP is off",
    level=MANDATORY,
    checkov=("CKV_AZURE_70", "CKV_AZURE_145", "CKV_AZURE_78"),
    cis=f"{CIS3} 9.1, 9.3, 9.4",
    remediation="Set https_only, site_config.min_tls_version 1.2 and ftps_state Disabled.",
)
def _function_tls(r: Res) -> Iterator[str]:
    if r.get("httpsOnly") is not True:
        yield "serves plain HTTP"
    cfg = r.get("siteConfig", default={})
    for key in ("minTlsVersion", "scmMinTlsVersion"):
        if dig(cfg, key) not in ("1.2", "1.3") and (key == "minTlsVersion" or dig(cfg, key) is not None):
            yield f"{key} is {dig(cfg, key) or 'the platform default'}, not 1.2"
    if dig(cfg, "ftpsState") not in ("Disabled", "FtpsOnly"):
        yield "FTP deployment is allowed"


@resource_rule(
    "azure-function-hardening",
    types=(WEBAPP,),
    title="Function and web apps run with a managed identity, without remote debugging or wildcard CORS",
    level=MANDATORY,
    checkov=("CKV_AZURE_71", "CKV_AZURE_72", "CKV_AZURE_57"),
    cis=f"{CIS3} 9.5",
    remediation="Set identity SystemAssigned, site_config.remote_debugging_enabled false, and list CORS origins.",
)
def _function_hardening(r: Res) -> Iterator[str]:
    if "Assigned" not in str(r.get("identity", "type", default="")):
        yield "has no managed identity (secrets would be needed to reach other services)"
    if r.get("siteConfig", "remoteDebuggingEnabled") is True:
        yield "remote debugging is on"
    if "*" in as_list(r.get("siteConfig", "cors", "allowedOrigins")):
        yield "allows CORS requests from any origin"


@stack_rule(
    "azure-function-basic-auth",
    title="Function and web apps disable basic-auth publishing (FTP and SCM): deployments use Entra ID",
    level=ADVISORY,
    cis=f"{CIS3} 9.6",
    remediation="Add WebAppFtpAllowed and WebAppScmAllowed with allow false for the app.",
)
def _basic_auth(s: Stack) -> Iterator[tuple[Res, str]]:
    for app in s.of_type(WEBAPP):
        disabled = {p.type for p in s.dependents(app, *BASIC_AUTH) if p.get("allow") is False}
        for kind in BASIC_AUTH:
            if kind not in disabled:
                protocol = kind.rsplit(":", 1)[-1].removeprefix("WebApp").removesuffix("Allowed").upper()
                yield app, f"{protocol} basic-auth publishing is on"


@resource_rule(
    "azure-app-settings-no-plaintext-secrets",
    types=(WEBAPP,),
    title="App settings hold no credentials: they are Key Vault references",
    level=MANDATORY,
    cis=f"{CIS3} 9.11",
    remediation="Store the credential in Key Vault and set the setting to @Microsoft.KeyVault(VaultName=...;"
    "SecretName=...).",
)
def _app_settings(r: Res) -> Iterator[str]:
    yield from plaintext_secrets(name_value_settings(r.get("siteConfig", "appSettings")))


# --- API Management -----------------------------------------------------------------------------------------------


@resource_rule(
    "azure-apim-tls",
    types=(APIM,),
    title="API Management refuses SSL 3.0, TLS 1.0 and TLS 1.1 (client and backend side)",
    level=MANDATORY,
    checkov=("CKV_AZURE_173",),
    remediation="Set the Microsoft.WindowsAzure.ApiManagement.Gateway.Security.[Backend.]Protocols.{Ssl30,Tls10,"
    "Tls11} custom properties to false.",
)
def _apim_tls(r: Res) -> Iterator[str]:
    props = r.get("customProperties", default={})
    prefix = "Microsoft.WindowsAzure.ApiManagement.Gateway.Security."
    for side in ("", "Backend."):
        for proto in ("Ssl30", "Tls10", "Tls11"):
            key = f"{prefix}{side}Protocols.{proto}"
            if str(dig(props, key)).lower() != "false":
                yield f"{side.lower().rstrip('.') or 'client'} side accepts {proto}"


AUTH_POLICY = re.compile(r"validate-jwt|validate-azure-ad-token|context\.Subscription\s*==\s*null")


@stack_rule(
    "azure-apim-operation-auth",
    title="API Management operations require a subscription key or a validated token",
    level=MANDATORY,
    remediation="Keep subscription_required true or add validate-jwt / a subscription check to the operation's "
    "policy; declare a deliberately open operation as an exception under tricloud:policy.",
)
def _apim_auth(s: Stack) -> Iterator[tuple[Res, str]]:
    for op in s.of_type(API_OPERATION):
        apis = s.depends_on(op, API)
        if any(api.get("subscriptionRequired") is not False for api in apis):
            continue  # APIM's default: every call needs a subscription key
        # The operation's own policy, or a policy of its whole API (not another operation's, which also
        # depends on the API).
        policies = [
            *s.dependents(op, OPERATION_POLICY),
            *(p for a in apis for p in s.dependents(a, API_POLICY)),
        ]
        if not any(AUTH_POLICY.search(str(p.get("value", default=""))) for p in policies):
            yield op, f"{op.get('method')} {op.get('urlTemplate')} is open to anonymous callers"


# --- RBAC ---------------------------------------------------------------------------------------------------------


@resource_rule(
    "azure-rbac-least-privilege",
    types=(ROLE_ASSIGNMENT,),
    title="Role assignments grant no Owner/Contributor/access-administration role and never at subscription scope",
    level=MANDATORY,
    cis=f"{CIS4} 6.3.3",
    remediation="Assign a data or service role (Storage Blob Data Reader, AcrPull...) at the narrowest scope: "
    "a container, a vault, a workspace.",
)
def _rbac(r: Res) -> Iterator[str]:
    role = str(r.get("roleDefinitionId", default="")).rsplit("/", 1)[-1].lower()
    if role in PRIVILEGED_ROLES:
        yield f"assigns {PRIVILEGED_ROLES[role]}"
    scope = str(r.get("scope", default=""))
    if re.fullmatch(r"/subscriptions/[^/]+/?|/providers/Microsoft\.Management/managementGroups/.+|/", scope):
        yield f"is scoped to the whole subscription or management group ({scope})"


# --- Azure ML, registry, monitoring, Databricks -------------------------------------------------------------------


@resource_rule(
    "azure-ml-compute-hardening",
    types=(ML_COMPUTE,),
    title="Azure ML compute clusters: Entra ID only, no public IPs or SSH, scale to zero",
    level=MANDATORY,
    checkov=("CKV_AZURE_142", "CKV_AZURE_150"),
    remediation="Set disable_local_auth, enable_node_public_ip false, remote_login_port_public_access Disabled "
    "and min_node_count 0.",
)
def _ml_compute(r: Res) -> Iterator[str]:
    props = r.get("properties", default={})
    if dig(props, "computeType") != "AmlCompute":
        return
    if dig(props, "disableLocalAuth") is not True:
        yield "local (key) authentication is on"
    inner = dig(props, "properties", default={})
    if dig(inner, "enableNodePublicIp") is not False:
        yield "nodes get public IPs"
    if dig(inner, "remoteLoginPortPublicAccess") != "Disabled":
        yield "the SSH port is reachable"
    if dig(inner, "scaleSettings", "minNodeCount") not in (0, None):
        yield "keeps nodes running when idle (min_node_count > 0)"


@resource_rule(
    "azure-ml-workspace-private",
    types=(ML_WORKSPACE,),
    title="Azure ML workspaces are reachable through private endpoints only, with a managed network",
    level=ADVISORY,
    checkov=("CKV_AZURE_144", "CKV2_AZURE_49"),
    remediation="Set public_network_access Disabled and reach the workspace through a private endpoint.",
)
def _ml_workspace(r: Res) -> Iterator[str]:
    if r.get("publicNetworkAccess") != "Disabled":
        yield "is reachable from the internet (Entra ID still required)"
    if r.get("managedNetwork", "isolationMode") in (None, "Disabled"):
        yield "has no managed network isolation"


@resource_rule(
    "azure-ml-endpoint-private",
    types=(ML_ENDPOINT,),
    title="Azure ML online endpoints are private (no public network access)",
    level=ADVISORY,
    remediation="Set properties.public_network_access Disabled and call the endpoint through the workspace's "
    "private endpoint.",
)
def _ml_endpoint(r: Res) -> Iterator[str]:
    if r.get("properties", "publicNetworkAccess") != "Disabled":
        yield f"is reachable from the internet with its {r.get('properties', 'authMode') or 'key'} credential"


@resource_rule(
    "azure-acr-hardening",
    types=(REGISTRY,),
    title="Container registries disable the admin user and anonymous pull",
    level=MANDATORY,
    checkov=("CKV_AZURE_137", "CKV_AZURE_138"),
    remediation="Set admin_user_enabled false and anonymous_pull_enabled false; pull with AcrPull on identities.",
)
def _acr(r: Res) -> Iterator[str]:
    if r.get("adminUserEnabled") is not False:
        yield "the admin user (a shared password) is enabled"
    if r.get("anonymousPullEnabled") is True:
        yield "anyone can pull images"


@resource_rule(
    "azure-log-retention",
    types=(LOG_WORKSPACE,),
    title="Log Analytics workspaces set their retention (30-730 days interactive)",
    level=MANDATORY,
    remediation="Set retention_in_days (tricloud:observability.log_retention_days).",
)
def _law_retention(r: Res) -> Iterator[str]:
    days = r.get("retentionInDays")
    if not days:
        yield "relies on the default retention"
    elif not 30 <= days <= 730:
        yield f"retention {days} days is outside 30-730"


@resource_rule(
    "azure-app-insights-entra-auth",
    types=(APP_INSIGHTS,),
    title="Application Insights accepts telemetry authenticated with Entra ID only (local auth disabled)",
    level=ADVISORY,
    remediation="Set disable_local_auth true and grant Monitoring Metrics Publisher to the sender's identity.",
)
def _appi(r: Res) -> Iterator[str]:
    if r.get("disableLocalAuth") is not True:
        yield "anyone holding the connection string can send telemetry"


@resource_rule(
    "azure-databricks-no-public-ip",
    types=(DATABRICKS,),
    title="Databricks workspaces use secure cluster connectivity (no public IPs on cluster nodes)",
    level=MANDATORY,
    remediation="Set parameters.enable_no_public_ip true.",
)
def _databricks(r: Res) -> Iterator[str]:
    if r.get("parameters", "enableNoPublicIp", "value") is not True:
        yield "cluster nodes get public IPs"


@resource_rule(
    "azure-tags",
    types=("azure-native:*",),
    title="Tagged Azure resources carry the standard tags (project, stack, component, owner, cost-center, "
    "managed-by)",
    level=MANDATORY,
    remediation="Create resources through the components (tags_for) or pass the standard tags.",
)
def _azure_tags(r: Res) -> Iterator[str]:
    if isinstance(r.get("tags"), Mapping):
        yield from missing_standard_tags(r, "tags")

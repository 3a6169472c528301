"""What Azure Resource Manager would answer for the resources the Azure stack creates, for Pulumi mocks.

`computed_state` returns the ARM resource id (`/subscriptions/<sub>/resourceGroups/<rg>/providers/...`) and the
outputs dependents read: names, principal ids of managed identities, Key Vault URIs, scoring URIs, host names. Ids
and GUIDs are derived from the names (uuid5), so an inventory is the same on every run.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

SUBSCRIPTION_ID = "7d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6"
TENANT_ID = "0f1e2d3c-4b5a-4697-8877-665544332211"
_NS = uuid.UUID("6f2b1c2e-1d53-4c4e-9a51-5b0f3f8d7a10")

# type token -> (ARM path under the resource group, as templates over the inputs; the input holding the name)
_ARM: dict[str, tuple[str, str]] = {
    "storage:StorageAccount": ("Microsoft.Storage/storageAccounts/{accountName}", "accountName"),
    "storage:BlobServiceProperties": (
        "Microsoft.Storage/storageAccounts/{accountName}/blobServices/default",
        "",
    ),
    "storage:BlobContainer": (
        "Microsoft.Storage/storageAccounts/{accountName}/blobServices/default/containers/{containerName}",
        "containerName",
    ),
    "storage:ManagementPolicy": (
        "Microsoft.Storage/storageAccounts/{accountName}/managementPolicies/default",
        "",
    ),
    "storage:Blob": (
        "Microsoft.Storage/storageAccounts/{accountName}/blobServices/default/containers/{containerName}/blobs/"
        "{blobName}",
        "blobName",
    ),
    "keyvault:Vault": ("Microsoft.KeyVault/vaults/{vaultName}", "vaultName"),
    "keyvault:Key": ("Microsoft.KeyVault/vaults/{vaultName}/keys/{keyName}", "keyName"),
    "keyvault:Secret": ("Microsoft.KeyVault/vaults/{vaultName}/secrets/{secretName}", "secretName"),
    "managedidentity:UserAssignedIdentity": (
        "Microsoft.ManagedIdentity/userAssignedIdentities/{resourceName}",
        "resourceName",
    ),
    "managedidentity:FederatedIdentityCredential": (
        "Microsoft.ManagedIdentity/userAssignedIdentities/{resourceName}/federatedIdentityCredentials/"
        "{federatedIdentityCredentialResourceName}",
        "federatedIdentityCredentialResourceName",
    ),
    "operationalinsights:Workspace": (
        "Microsoft.OperationalInsights/workspaces/{workspaceName}",
        "workspaceName",
    ),
    "applicationinsights:Component": ("Microsoft.Insights/components/{resourceName}", "resourceName"),
    "applicationinsights:Workbook": ("Microsoft.Insights/workbooks/{resourceName}", "resourceName"),
    "databricks:Workspace": ("Microsoft.Databricks/workspaces/{workspaceName}", "workspaceName"),
    "databricks:AccessConnector": ("Microsoft.Databricks/accessConnectors/{connectorName}", "connectorName"),
    "containerregistry:Registry": ("Microsoft.ContainerRegistry/registries/{registryName}", "registryName"),
    "machinelearningservices:Workspace": (
        "Microsoft.MachineLearningServices/workspaces/{workspaceName}",
        "workspaceName",
    ),
    "machinelearningservices:Compute": (
        "Microsoft.MachineLearningServices/workspaces/{workspaceName}/computes/{computeName}",
        "computeName",
    ),
    "machinelearningservices:OnlineEndpoint": (
        "Microsoft.MachineLearningServices/workspaces/{workspaceName}/onlineEndpoints/{endpointName}",
        "endpointName",
    ),
    "machinelearningservices:OnlineDeployment": (
        "Microsoft.MachineLearningServices/workspaces/{workspaceName}/onlineEndpoints/{endpointName}/deployments/"
        "{deploymentName}",
        "deploymentName",
    ),
    "machinelearningservices:Datastore": (
        "Microsoft.MachineLearningServices/workspaces/{workspaceName}/datastores/{name}",
        "name",
    ),
    "machinelearningservices:ModelVersion": (
        "Microsoft.MachineLearningServices/workspaces/{workspaceName}/models/{name}/versions/{version}",
        "name",
    ),
    "machinelearningservices:ModelContainer": (
        "Microsoft.MachineLearningServices/workspaces/{workspaceName}/models/{name}",
        "name",
    ),
    "machinelearningservices:EnvironmentVersion": (
        "Microsoft.MachineLearningServices/workspaces/{workspaceName}/environments/{name}/versions/{version}",
        "name",
    ),
    "machinelearningservices:Schedule": (
        "Microsoft.MachineLearningServices/workspaces/{workspaceName}/schedules/{name}",
        "name",
    ),
    "machinelearningservices:DataVersion": (
        "Microsoft.MachineLearningServices/workspaces/{workspaceName}/data/{name}/versions/{version}",
        "name",
    ),
    "monitor:AutoscaleSetting": (
        "Microsoft.Insights/autoscalesettings/{autoscaleSettingName}",
        "autoscaleSettingName",
    ),
    "web:AppServicePlan": ("Microsoft.Web/serverfarms/{name}", "name"),
    "web:WebApp": ("Microsoft.Web/sites/{name}", "name"),
    "web:WebAppFtpAllowed": ("Microsoft.Web/sites/{name}/basicPublishingCredentialsPolicies/ftp", ""),
    "web:WebAppScmAllowed": ("Microsoft.Web/sites/{name}/basicPublishingCredentialsPolicies/scm", ""),
    "apimanagement:ApiManagementService": ("Microsoft.ApiManagement/service/{serviceName}", "serviceName"),
    "apimanagement:Api": ("Microsoft.ApiManagement/service/{serviceName}/apis/{apiId}", "apiId"),
    "apimanagement:ApiOperation": (
        "Microsoft.ApiManagement/service/{serviceName}/apis/{apiId}/operations/{operationId}",
        "operationId",
    ),
    "apimanagement:ApiOperationPolicy": (
        "Microsoft.ApiManagement/service/{serviceName}/apis/{apiId}/operations/{operationId}/policies/policy",
        "",
    ),
    "apimanagement:ApiPolicy": (
        "Microsoft.ApiManagement/service/{serviceName}/apis/{apiId}/policies/policy",
        "",
    ),
    "apimanagement:NamedValue": (
        "Microsoft.ApiManagement/service/{serviceName}/namedValues/{namedValueId}",
        "namedValueId",
    ),
    "apimanagement:Backend": (
        "Microsoft.ApiManagement/service/{serviceName}/backends/{backendId}",
        "backendId",
    ),
    "monitor:MetricAlert": ("Microsoft.Insights/metricAlerts/{ruleName}", "ruleName"),
    "synapse:Workspace": ("Microsoft.Synapse/workspaces/{workspaceName}", "workspaceName"),
    "synapse:Key": ("Microsoft.Synapse/workspaces/{workspaceName}/keys/{keyName}", "keyName"),
    "synapse:WorkspaceAadAdmin": (
        "Microsoft.Synapse/workspaces/{workspaceName}/administrators/activeDirectory",
        "",
    ),
    "synapse:IpFirewallRule": (
        "Microsoft.Synapse/workspaces/{workspaceName}/firewallRules/{ruleName}",
        "ruleName",
    ),
    "synapse:SqlPool": ("Microsoft.Synapse/workspaces/{workspaceName}/sqlPools/{sqlPoolName}", "sqlPoolName"),
    "monitor:ActionGroup": ("Microsoft.Insights/actionGroups/{actionGroupName}", "actionGroupName"),
    "synapse:SqlPoolTransparentDataEncryption": (
        "Microsoft.Synapse/workspaces/{workspaceName}/sqlPools/{sqlPoolName}/transparentDataEncryption/current",
        "",
    ),
    "logic:Workflow": ("Microsoft.Logic/workflows/{workflowName}", "workflowName"),
}


def _guid(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "/".join(parts)))


def _fill(template: str, inputs: Mapping[str, Any], name: str) -> str:
    values = {k: (v if isinstance(v, str) and v else name) for k, v in inputs.items()}
    out = template
    for key in [seg[1:-1] for seg in template.split("/") if seg.startswith("{")]:
        out = out.replace("{" + key + "}", str(values.get(key, name)))
    return out


def _identity(inputs: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    ident = inputs.get("identity")
    if not isinstance(ident, Mapping):
        return None
    out = dict(ident)
    if "SystemAssigned" in str(ident.get("type", "")):
        out.update(principalId=_guid("principal", name), tenantId=TENANT_ID)
    if isinstance(ident.get("userAssignedIdentities"), list):
        out["userAssignedIdentities"] = {
            i: {"principalId": _guid("principal", i), "clientId": _guid("client", i)}
            for i in ident["userAssignedIdentities"]
        }
    return out


def _extra(token: str, phys: str, inputs: Mapping[str, Any], region: str, rid: str) -> dict[str, Any]:
    """Computed outputs per type: only what dependents and inventories read."""
    props = dict(inputs.get("properties") or {})
    hooks: dict[str, Callable[[], dict[str, Any]]] = {
        "managedidentity:UserAssignedIdentity": lambda: {
            "principalId": _guid("principal", rid),
            "clientId": _guid("client", rid),
            "tenantId": TENANT_ID,
        },
        "storage:StorageAccount": lambda: {
            "primaryEndpoints": {
                "blob": f"https://{phys}.blob.core.windows.net/",
                "dfs": f"https://{phys}.dfs.core.windows.net/",
            },
            "primaryLocation": region,
        },
        "storage:Blob": lambda: {
            "url": f"https://{inputs.get('accountName')}.blob.core.windows.net/{inputs.get('containerName')}/{phys}"
        },
        "keyvault:Vault": lambda: {"properties": {**props, "vaultUri": f"https://{phys}.vault.azure.net/"}},
        "keyvault:Key": lambda: {
            "keyUri": f"https://{inputs.get('vaultName')}.vault.azure.net/keys/{phys}",
            "keyUriWithVersion": f"https://{inputs.get('vaultName')}.vault.azure.net/keys/{phys}/"
            + _guid("version", rid).replace("-", ""),
        },
        "keyvault:Secret": lambda: {
            "properties": {
                **props,
                "secretUri": f"https://{inputs.get('vaultName')}.vault.azure.net/secrets/{phys}",
            }
        },
        "databricks:Workspace": lambda: {
            "workspaceId": str(int(_guid("dbw", rid).replace("-", "")[:15], 16)),
            "workspaceUrl": f"adb-{int(_guid('dbw', rid).replace('-', '')[:13], 16)}.4.azuredatabricks.net",
        },
        "containerregistry:Registry": lambda: {"loginServer": f"{phys}.azurecr.io"},
        "applicationinsights:Component": lambda: {
            "appId": _guid("appid", rid),
            "instrumentationKey": _guid("ikey", rid),
            "connectionString": f"InstrumentationKey={_guid('ikey', rid)};"
            f"IngestionEndpoint=https://{region}-0.in.applicationinsights.azure.com/",
        },
        "operationalinsights:Workspace": lambda: {"customerId": _guid("law", rid)},
        "machinelearningservices:Workspace": lambda: {
            "workspaceId": _guid("mlw", rid),
            "discoveryUrl": f"https://{region}.api.azureml.ms/discovery",
            "mlFlowTrackingUri": f"azureml://{region}.api.azureml.ms/mlflow/v1.0{rid}",
        },
        "machinelearningservices:OnlineEndpoint": lambda: {
            "properties": {
                **props,
                "scoringUri": f"https://{phys}.{region}.inference.ml.azure.com/score",
                "swaggerUri": f"https://{phys}.{region}.inference.ml.azure.com/swagger.json",
                "provisioningState": "Succeeded",
            }
        },
        "web:WebApp": lambda: {
            "defaultHostName": f"{phys}.azurewebsites.net",
            "outboundIpAddresses": "20.192.0.10,20.192.0.11",
        },
        "apimanagement:ApiManagementService": lambda: {
            "gatewayUrl": f"https://{phys}.azure-api.net",
            "developerPortalUrl": None,
        },
        "synapse:Workspace": lambda: {
            "connectivityEndpoints": {
                "dev": f"https://{phys}.dev.azuresynapse.net",
                "sql": f"{phys}.sql.azuresynapse.net",
                "sqlOnDemand": f"{phys}-ondemand.sql.azuresynapse.net",
                "web": f"https://web.azuresynapse.net?workspace={rid}",
            },
            "workspaceUID": _guid("synapse", rid),
        },
        "authorization:RoleAssignment": lambda: {
            "principalType": inputs.get("principalType", "ServicePrincipal")
        },
    }
    hook = hooks.get(token)
    return hook() if hook else {}


def computed_state(type_token: str, name: str, inputs: dict, region: str) -> tuple[str, dict]:
    """(ARM id, outputs) for one azure-native resource registered under mocks; inputs arrive camelCase."""
    token = type_token.removeprefix("azure-native:")
    rg = str(inputs.get("resourceGroupName") or f"{name}-rg")
    sub = f"/subscriptions/{SUBSCRIPTION_ID}"
    outputs: dict[str, Any] = dict(inputs)
    if token == "resources:ResourceGroup":
        phys = str(inputs.get("resourceGroupName") or name)
        rid = f"{sub}/resourceGroups/{phys}"
        outputs.update(name=phys, location=inputs.get("location") or region)
        return rid, outputs
    if token == "authorization:RoleAssignment":
        phys = str(inputs.get("roleAssignmentName") or _guid("ra", name))
        rid = f"{inputs.get('scope')}/providers/Microsoft.Authorization/roleAssignments/{phys}"
    elif token == "authorization:RoleDefinition":  # a custom role lives at its assignable scope
        phys = str(inputs.get("roleDefinitionId") or _guid("rd", name))
        rid = f"{inputs.get('scope')}/providers/Microsoft.Authorization/roleDefinitions/{phys}"
    elif token == "monitor:DiagnosticSetting":
        phys = str(inputs.get("name") or name)
        rid = f"{inputs.get('resourceUri')}/providers/Microsoft.Insights/diagnosticSettings/{phys}"
    elif token == "resources:Resource":  # a generic ARM resource: its id is spelled out by its inputs
        phys = str(inputs.get("resourceName") or name)
        path = "/".join(
            str(inputs[k])
            for k in ("resourceProviderNamespace", "parentResourcePath", "resourceType")
            if inputs.get(k)
        )
        rid = f"{sub}/resourceGroups/{rg}/providers/{path}/{phys}"
    elif token in _ARM:
        template, name_key = _ARM[token]
        phys = str(inputs.get(name_key) or name) if name_key else "default"
        rid = f"{sub}/resourceGroups/{rg}/providers/{_fill(template, inputs, name)}"
    else:
        raise KeyError(f"type_token = {type_token!r}: tricloud.mocks.azure has no ARM shape for it; add one")
    outputs.update(name=phys)
    if "location" not in outputs and token not in (
        "authorization:RoleAssignment",
        "authorization:RoleDefinition",
    ):
        outputs["location"] = region
    ident = _identity(inputs, rid)
    if ident is not None:
        outputs["identity"] = ident
    outputs.update(_extra(token, phys, inputs, region, rid))
    return rid, outputs


def invoke(token: str, args: Mapping[str, Any], region: str) -> dict[str, Any]:
    """Invokes the Azure stack makes: client config, Function App host keys, online endpoint keys."""
    if token == "azure-native:authorization:getClientConfig":
        return {
            "clientId": _guid("client", "deployer"),
            "objectId": _guid("principal", "deployer"),
            "subscriptionId": SUBSCRIPTION_ID,
            "tenantId": TENANT_ID,
        }
    if token == "azure-native:web:listWebAppHostKeys":
        site = str(args.get("name"))
        return {"masterKey": "", "functionKeys": {"default": _guid("function-key", site).replace("-", "")}}
    if token == "azure-native:machinelearningservices:listOnlineEndpointKeys":
        endpoint = str(args.get("endpointName"))
        return {
            "primaryKey": _guid("endpoint-key-1", endpoint).replace("-", ""),
            "secondaryKey": _guid("endpoint-key-2", endpoint).replace("-", ""),
        }
    if token == "azure-native:logic:listWorkflowTriggerCallbackUrl":
        # A SAS-signed URL of the workflow's request trigger (what an action group's Logic App receiver calls).
        workflow, trigger = str(args.get("workflowName")), str(args.get("triggerName"))
        base = (
            f"https://prod-00.{region}.logic.azure.com:443/workflows/{_guid('wf', workflow).replace('-', '')}"
        )
        query = {"api-version": "2016-10-01", "sp": f"/triggers/{trigger}/run", "sv": "1.0"}
        return {
            "value": f"{base}/triggers/{trigger}/paths/invoke?api-version=2016-10-01&sp=%2Ftriggers%2F{trigger}"
            f"%2Frun&sv=1.0&sig={_guid('sig', workflow).replace('-', '')}",
            "method": "POST",
            "basePath": f"{base}/triggers/{trigger}/paths/invoke",
            "queries": query,
        }
    raise NotImplementedError(f"tricloud.mocks.azure: no mock for the function {token}")

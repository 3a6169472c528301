"""Azure's secure defaults, checked on what stacks/azure registers under the recording Pulumi mocks.

Each test reads resource inputs as azure-native would send them to ARM (camelCase), so a default that is dropped,
renamed or weakened in components/*/azure.py fails here. `alt` turns on every non-default mode at once.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from components.api_frontend.spec import HANDLERS
from components.azure_common import ROLES
from components.ci_identity.azure import SUBSCRIPTION_ROLES
from components.ci_identity.spec import GITHUB_ISSUER
from components.errors import InvalidArgs
from tricloud.inventory import build_inventory, stack_config
from tricloud.mocks import azure as azure_mocks

Inventory = dict[str, Any]
LAKE_DATA_ROLES = {ROLES["Storage Blob Data Reader"], ROLES["Storage Blob Data Contributor"]}
CONTAINER_SCOPE = re.compile(
    r"/providers/Microsoft\.Storage/storageAccounts/[a-z0-9]+/blobServices/default/containers/"
)
ALT_CONFIG: dict[str, Any] = {
    "lake": {
        "raw_cold_after_days": 14,
        "raw_expiry_days": 400,
        "noncurrent_version_expiry_days": 7,
        "key_rotation_days": 180,
        "azure": {"customer_managed_key": False, "allowed_ip_ranges": ["203.0.113.0/24"]},
    },
    "spark": {"mode": "cluster", "idle_timeout_minutes": 30},
    "training": {"use_spot": False, "max_instances": 4, "instance_type": "Standard_NC6s_v3"},
    "endpoint": {
        "mode": "instance",
        "min_instances": 2,
        "max_instances": 5,
        "target_invocations_per_instance": 300,
    },
    "api": {
        "auth": "jwt",
        "jwt_issuer": "https://login.example.com/tenant/v2.0",
        "jwt_audience": ["api://tricloud"],
    },
    "observability": {"alert_email": "oncall@example.com"},
    "ci": {
        "environment": "staging",
        "rollout_environment": "staging-model",
        "github_owner_id": 11,
        "github_repository_id": 22,
    },
}


def variant(sections: dict[str, Any]) -> dict[str, Any]:
    cfg = stack_config("azure")
    cfg.update({f"tricloud:{k}": v for k, v in sections.items()})
    return cfg


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return build_inventory("azure")


@pytest.fixture(scope="module")
def alt() -> Inventory:
    return build_inventory("azure", config=variant(ALT_CONFIG))


def of_type(inventory: Inventory, short: str) -> list[dict[str, Any]]:
    return [r for r in inventory["resources"] if r["type"] == f"azure-native:{short}"]


def one(inventory: Inventory, short: str, name: str | None = None) -> dict[str, Any]:
    found = [r for r in of_type(inventory, short) if name is None or r["name"] == name]
    assert len(found) == 1, f"expected one {short} {name or ''}, found {[r['name'] for r in found]}"
    return found[0]


# --- DataLake ----------------------------------------------------------------------------------------------------


def test_lake_account_is_adls_gen2_and_locked_down(inv: Inventory) -> None:
    a = one(inv, "storage:StorageAccount", "lake-account")["inputs"]
    assert a["isHnsEnabled"] is True
    assert a["kind"] == "StorageV2"
    assert a["networkRuleSet"]["defaultAction"] == "Deny"
    assert a["networkRuleSet"]["bypass"] == "AzureServices"
    assert a["networkRuleSet"]["ipRules"] == []
    sub = f"/subscriptions/{azure_mocks.SUBSCRIPTION_ID}/resourceGroups/*/providers/"
    assert a["networkRuleSet"]["resourceAccessRules"] == [
        {"tenantId": azure_mocks.TENANT_ID, "resourceId": f"{sub}Microsoft.Databricks/accessConnectors/*"},
        {
            "tenantId": azure_mocks.TENANT_ID,
            "resourceId": f"{sub}Microsoft.MachineLearningServices/workspaces/*",
        },
        # Synapse serverless SQL reads the curated zone with its workspace identity (query_azure.py).
        {"tenantId": azure_mocks.TENANT_ID, "resourceId": f"{sub}Microsoft.Synapse/workspaces/*"},
    ]
    assert a["allowCrossTenantReplication"] is False
    enc = a["encryption"]
    assert enc["requireInfrastructureEncryption"] is True
    assert enc["keySource"] == "Microsoft.Keyvault"
    assert enc["keyVaultProperties"]["keyName"] == "lake"
    assert "keyVersion" not in enc["keyVaultProperties"], "a pinned key version would not follow rotation"
    assert a["identity"]["type"] == "UserAssigned"


def test_every_storage_account_is_tls12_https_private_and_keyless(inv: Inventory) -> None:
    accounts = of_type(inv, "storage:StorageAccount")
    assert {a["name"] for a in accounts} == {"lake-account", "training-storage", "api-host-storage"}
    for a in accounts:
        i = a["inputs"]
        assert i["minimumTlsVersion"] == "TLS1_2", a["name"]
        assert i["enableHttpsTrafficOnly"] is True, a["name"]
        assert i["allowBlobPublicAccess"] is False, a["name"]
        assert i["allowSharedKeyAccess"] is False, a["name"]


def test_lake_key_rotates_and_only_the_account_identity_may_use_it(inv: Inventory) -> None:
    key = one(inv, "keyvault:Key", "lake-key")["inputs"]["properties"]
    rotate = [a for a in key["rotationPolicy"]["lifetimeActions"] if a["action"]["type"] == "rotate"]
    assert rotate == [{"action": {"type": "rotate"}, "trigger": {"timeAfterCreate": "P90D"}}]
    assert key["keyOps"] == ["wrapKey", "unwrapKey"]
    grant = one(inv, "authorization:RoleAssignment", "lake-key-user")["inputs"]
    assert grant["roleDefinitionId"].endswith(ROLES["Key Vault Crypto Service Encryption User"])
    assert grant["scope"].endswith("/keys/lake"), "scoped to the key, not the vault"


def test_vaults_use_rbac_purge_protection_and_the_lake_vault_denies_networks(inv: Inventory) -> None:
    vaults = {v["name"]: v["inputs"]["properties"] for v in of_type(inv, "keyvault:Vault")}
    assert set(vaults) == {"lake-vault", "training-vault", "api-vault", "observability-dispatch-vault"}
    for name, p in vaults.items():
        assert p["enableRbacAuthorization"] is True, name
        assert p["enablePurgeProtection"] is True, name
        assert p["softDeleteRetentionInDays"] == 90, name
    assert vaults["lake-vault"]["networkAcls"]["defaultAction"] == "Deny"
    assert vaults["training-vault"]["networkAcls"]["defaultAction"] == "Deny"


def test_filesystems_lifecycle_and_soft_delete(inv: Inventory, alt: Inventory) -> None:
    names = {
        r["inputs"]["containerName"]
        for r in of_type(inv, "storage:BlobContainer")
        if r["inputs"]["accountName"].endswith("lake")
    }
    # The zones, and the container Azure Monitor archives the Function App's logs (the capture lines) into.
    assert names == {"raw", "curated", "artifacts", "insights-logs-functionapplogs"}
    assert all(r["inputs"]["publicAccess"] == "None" for r in of_type(inv, "storage:BlobContainer"))
    for inventory, cold, expiry, days in ((inv, 30, None, 30), (alt, 14, 400, 7)):
        rule = one(inventory, "storage:ManagementPolicy")["inputs"]["policy"]["rules"][0]
        assert rule["definition"]["filters"]["prefixMatch"] == ["raw/"]
        base = rule["definition"]["actions"]["baseBlob"]
        assert base["tierToCool"] == {"daysAfterModificationGreaterThan": cold}
        assert base.get("delete") == ({"daysAfterModificationGreaterThan": expiry} if expiry else None)
        svc = one(inventory, "storage:BlobServiceProperties", "lake-blob-service")["inputs"]
        assert svc["deleteRetentionPolicy"] == {"enabled": True, "days": days}
        assert svc["containerDeleteRetentionPolicy"] == {"enabled": True, "days": days}


def test_workspace_storage_is_recoverable_and_logged(inv: Inventory) -> None:
    svc = one(inv, "storage:BlobServiceProperties", "training-storage-blob-service")["inputs"]
    assert (
        svc["accountName"] == one(inv, "storage:StorageAccount", "training-storage")["inputs"]["accountName"]
    )
    assert (
        svc["deleteRetentionPolicy"] == svc["containerDeleteRetentionPolicy"] == {"enabled": True, "days": 7}
    )
    setting = one(inv, "monitor:DiagnosticSetting", "training-storage-access-log-setting")["inputs"]
    assert setting["resourceUri"].endswith("/blobServices/default")
    assert {log["category"] for log in setting["logs"]} == {"StorageRead", "StorageWrite", "StorageDelete"}


def test_lake_options_no_cmk_and_ip_allow_list(alt: Inventory) -> None:
    a = one(alt, "storage:StorageAccount", "lake-account")["inputs"]
    assert a["encryption"]["keySource"] == "Microsoft.Storage"
    assert a["encryption"]["requireInfrastructureEncryption"] is True
    assert a["networkRuleSet"]["ipRules"] == [{"iPAddressOrRange": "203.0.113.0/24", "action": "Allow"}]
    assert not [k for k in of_type(alt, "keyvault:Key")]
    assert "lake-vault" not in {v["name"] for v in of_type(alt, "keyvault:Vault")}
    assert alt["outputs"]["encryption_key"] == "Microsoft.Storage"


def test_bad_allowed_ip_range_names_the_key() -> None:
    from tricloud.config import parse

    values = {
        "azure-native:location": "centralindia",
        "tricloud:lake": {"azure": {"allowed_ip_ranges": ["any"]}},
    }
    with pytest.raises(InvalidArgs) as err:
        parse("azure", values)
    assert err.value.field == "tricloud:lake.azure.allowed_ip_ranges"
    assert err.value.value == "any"


def test_lake_data_roles_are_scoped_to_single_filesystems(inv: Inventory) -> None:
    grants = [
        r
        for r in of_type(inv, "authorization:RoleAssignment")
        if r["inputs"]["roleDefinitionId"].rsplit("/", 1)[1] in LAKE_DATA_ROLES
    ]
    assert len(grants) >= 8
    for g in grants:
        assert CONTAINER_SCOPE.search(g["inputs"]["scope"]), f"{g['name']} is scoped wider than a filesystem"
    prefixed = {g["name"]: g["inputs"] for g in grants if "condition" in g["inputs"]}
    assert set(prefixed) == {
        "spark-access-connector-lake-artifacts-spark-logs-write",
        "training-identity-lake-artifacts-models-write",
        "endpoint-identity-lake-artifacts-models-read",
        "endpoint-identity-lake-artifacts-capture-write",
        "ci-rollout-identity-lake-artifacts-models-write",
        # The drift job: reads the references and ground truth, writes its reports, nothing else of artifacts.
        "observability-drift-lake-artifacts-monitoring-references-read",
        "observability-drift-lake-artifacts-monitoring-ground-truth-read",
        "observability-drift-lake-artifacts-monitoring-drift-write",
        "lake-synapse-lake-artifacts-synapse-write",
    }
    prefixes = {"spark-logs": "spark-logs/", "capture": "capture/", "synapse": "synapse/",
                "monitoring-references": "monitoring/references/", "monitoring-ground-truth": "monitoring/ground-truth/",
                "monitoring-drift": "monitoring/drift/"}  # fmt: skip
    for name, g in prefixed.items():
        prefix = next((p for k, p in prefixes.items() if k in name), "models/")
        assert g["conditionVersion"] == "2.0"
        assert f"StringStartsWith '{prefix}'" in g["condition"], name


def test_role_definitions_are_known_built_in_roles(inv: Inventory) -> None:
    known = set(ROLES.values()) | set(SUBSCRIPTION_ROLES.values())
    for g in of_type(inv, "authorization:RoleAssignment"):
        rid = g["inputs"]["roleDefinitionId"]
        if g["name"] in ("ci-rollout-image-build", "ci-rollout-smoke"):  # custom roles, tested by duty below
            continue
        assert rid.startswith(
            f"/subscriptions/{azure_mocks.SUBSCRIPTION_ID}/providers/Microsoft.Authorization/"
        )
        assert rid.rsplit("/", 1)[1] in known, g["name"]
        assert g["inputs"]["principalType"] == "ServicePrincipal"


# --- Spark, training, endpoint -----------------------------------------------------------------------------------


def test_databricks_workspace_premium_without_public_ips(inv: Inventory) -> None:
    ws = one(inv, "databricks:Workspace")["inputs"]
    assert ws["sku"] == {"name": "premium"}
    assert ws["parameters"]["enableNoPublicIp"] == {"value": True}
    assert ws["parameters"]["requireInfrastructureEncryption"] == {"value": True}
    assert ws["managedResourceGroupId"].endswith("/resourceGroups/tricloud-azure-dev-spark-managed-rg")
    assert ws["accessConnector"]["identityType"] == "SystemAssigned"


def test_cluster_policy_enforces_idle_timeout_and_bounds(inv: Inventory, alt: Inventory) -> None:
    from components.spark_cluster.azure import cluster_policy
    from components.spark_cluster.spec import SparkClusterArgs, SparkMode

    policy = cluster_policy(
        SparkClusterArgs(mode=SparkMode.CLUSTER, idle_timeout_minutes=30, max_vcpu=16), {}
    )
    assert policy["autotermination_minutes"] == {"type": "fixed", "value": 30}
    assert policy["autoscale.max_workers"]["maxValue"] == 3  # 16 vCPU / 4 per node, minus the driver
    assert "cluster_type" not in policy
    serverless = cluster_policy(SparkClusterArgs(), {"owner": "me"})
    assert serverless["cluster_type"] == {"type": "fixed", "value": "job"}
    assert serverless["custom_tags.owner"] == {"type": "fixed", "value": "me"}


def test_training_cluster_scales_from_zero_without_public_ips(inv: Inventory, alt: Inventory) -> None:
    for inventory, priority, size, top in (
        (inv, "LowPriority", "Standard_DS3_v2", 1),
        (alt, "Dedicated", "Standard_NC6s_v3", 4),
    ):
        c = one(inventory, "machinelearningservices:Compute")["inputs"]["properties"]
        assert c["computeType"] == "AmlCompute"
        assert c["disableLocalAuth"] is True
        p = c["properties"]
        assert p["scaleSettings"]["minNodeCount"] == 0
        assert p["scaleSettings"]["maxNodeCount"] == top
        assert p["vmPriority"] == priority
        assert p["vmSize"] == size
        assert p["enableNodePublicIp"] is False
        assert p["remoteLoginPortPublicAccess"] == "Disabled"
    ws = one(inv, "machinelearningservices:Workspace")["inputs"]
    assert ws["systemDatastoresAuthMode"] == "identity"
    assert ws["managedNetwork"]["isolationMode"] == "AllowInternetOutbound"
    rules = ws["managedNetwork"]["outboundRules"]
    assert {k: (r["type"], r["destination"]["subresourceTarget"]) for k, r in rules.items()} == {
        "lake-dfs": ("PrivateEndpoint", "dfs"),
        "lake-blob": ("PrivateEndpoint", "blob"),
    }
    assert all(
        r["destination"]["serviceResourceId"].endswith("/storageAccounts/tricloudazuredevlake")
        for r in rules.values()
    )
    acr = one(inv, "containerregistry:Registry")["inputs"]
    assert acr["adminUserEnabled"] is False
    assert acr["anonymousPullEnabled"] is False


def test_endpoint_serverless_maps_to_one_small_instance(inv: Inventory) -> None:
    ep = one(inv, "machinelearningservices:OnlineEndpoint")["inputs"]
    assert ep["properties"]["authMode"] == "Key"
    assert ep["properties"]["traffic"] == {}
    d = one(inv, "machinelearningservices:OnlineDeployment")
    assert d["inputs"]["deploymentName"] == "blue"
    assert d["inputs"]["sku"]["capacity"] == 1
    props = d["inputs"]["properties"]
    assert props["instanceType"] == "Standard_DS1_v2"
    assert props["egressPublicNetworkAccess"] == "Disabled"
    collections = props["dataCollector"]["collections"]
    # Payload logging: Azure ML fills only the reserved "request"/"response" collections without a scoring script;
    # serverless mode captures nothing by default (the spec's mode-based default; the API front-end captures).
    assert {k: (v["samplingRate"], v["dataCollectionMode"]) for k, v in collections.items()} == {
        "request": (0, "Disabled"),
        "response": (0, "Disabled"),
    }
    assert not of_type(inv, "monitor:AutoscaleSetting")
    env = one(inv, "machinelearningservices:EnvironmentVersion", "endpoint-environment")["inputs"][
        "properties"
    ]["inferenceConfig"]
    # The routes the image serves when Azure ML starts it (app.serve.contracts.AZUREML), on its port.
    assert env["scoringRoute"] == {"path": "/invocations", "port": 8080}
    assert env["livenessRoute"] == env["readinessRoute"] == {"path": "/ping", "port": 8080}


def test_endpoint_instance_mode_autoscales_between_bounds(alt: Inventory) -> None:
    d = one(alt, "machinelearningservices:OnlineDeployment")["inputs"]
    assert d["properties"]["instanceType"] == "Standard_DS2_v2"
    assert d["sku"]["capacity"] == 2
    auto = one(alt, "monitor:AutoscaleSetting")["inputs"]
    (profile,) = auto["profiles"]
    assert profile["capacity"] == {"minimum": "2", "maximum": "5", "default": "2"}
    up = next(r for r in profile["rules"] if r["scaleAction"]["direction"] == "Increase")
    assert up["metricTrigger"]["threshold"] == 300
    assert up["metricTrigger"]["dividePerInstance"] is True


# --- API ---------------------------------------------------------------------------------------------------------


def test_function_app_settings_and_hardening(inv: Inventory) -> None:
    app = one(inv, "web:WebApp")["inputs"]
    assert app["kind"] == "functionapp,linux"
    assert app["httpsOnly"] is True
    assert app["identity"] == {"type": "SystemAssigned"}
    sc = app["siteConfig"]
    assert sc["linuxFxVersion"] == "Python|3.12"
    assert sc["ftpsState"] == "Disabled"
    assert sc["minTlsVersion"] == "1.2"
    assert sc["functionAppScaleLimit"] == 10
    settings = {s["name"]: s["value"] for s in sc["appSettings"]}
    for key in (
        "AZUREML_ENDPOINT_URL",
        "ENDPOINT_TIMEOUT_MS",
        "ENDPOINT_MAX_ATTEMPTS",
        "FALLBACK_ENABLED",
        "LOG_LEVEL",
    ):
        assert key in settings, key
    assert settings["AZUREML_ENDPOINT_URL"].endswith(".centralindia.inference.ml.azure.com/score")
    assert settings["AZUREML_ENDPOINT_KEY"].startswith("@Microsoft.KeyVault(")
    assert "AzureWebJobsStorage" not in settings, (
        "host storage must use the identity, not a connection string"
    )
    plan = one(inv, "web:AppServicePlan")["inputs"]
    assert plan["sku"] == {"name": "Y1", "tier": "Dynamic"}
    assert plan["reserved"] is True


def test_function_package_carries_the_handler_and_its_dependencies(inv: Inventory) -> None:
    blob = one(inv, "storage:Blob", "api-package")["inputs"]
    archive = blob["source"]["archive"]
    entry = archive["function_app.py"]["string_asset"]
    assert entry.startswith(f"from {HANDLERS['azure']} import app")
    assert {"host.json", "requirements.txt", "app/frontend/azure_function.py", "app/schema.py"} <= set(
        archive
    )
    # Run-from-package builds nothing: the pinned requirements ship installed where the worker looks.
    assert archive[".python_packages/lib/site-packages"]["file_archive"].startswith(".tricloud/artifacts/")
    assert archive["requirements.txt"]["string_asset"] == "azure-functions==1.26.0\n"
    assert not any(name.startswith(("app/serve", "app/train", "app/features")) for name in archive)
    assert re.fullmatch(r"function-[0-9a-f]{16}\.zip", blob["blobName"])


def test_function_app_settings_for_the_v2_model(inv: Inventory) -> None:
    settings = {s["name"]: s["value"] for s in one(inv, "web:WebApp")["inputs"]["siteConfig"]["appSettings"]}
    assert settings["AzureWebJobsFeatureFlags"] == "EnableWorkerIndexing"
    assert settings["SCM_DO_BUILD_DURING_DEPLOYMENT"] == "false"
    assert settings["WEBSITE_RUN_FROM_PACKAGE"].endswith(
        one(inv, "storage:Blob", "api-package")["inputs"]["blobName"]
    )


def test_endpoint_key_is_readable_by_the_function_only(inv: Inventory) -> None:
    secret = one(inv, "keyvault:Secret", "api-endpoint-key")["inputs"]
    assert secret["properties"] == "[secret]" or secret["properties"]["value"] == "[secret]"
    grant = one(inv, "authorization:RoleAssignment", "api-function-endpoint-key")["inputs"]
    assert grant["scope"].endswith("/secrets/endpoint-key")
    assert grant["roleDefinitionId"].endswith(ROLES["Key Vault Secrets User"])


def test_gateway_requires_a_key_on_predict_and_leaves_health_open(inv: Inventory) -> None:
    svc = one(inv, "apimanagement:ApiManagementService")["inputs"]
    assert svc["sku"] == {"name": "Consumption", "capacity": 0}
    ops = {o["inputs"]["operationId"]: o["inputs"] for o in of_type(inv, "apimanagement:ApiOperation")}
    assert {k: (v["method"], v["urlTemplate"]) for k, v in ops.items()} == {
        "predict": ("POST", "/predict"),
        "health": ("GET", "/health"),
    }
    (policy,) = of_type(inv, "apimanagement:ApiOperationPolicy")
    assert policy["inputs"]["operationId"] == "predict"
    value = policy["inputs"]["value"]
    assert "context.Subscription == null" in value
    assert '<rate-limit calls="100" renewal-period="2" />' in value
    assert one(inv, "apimanagement:Api")["inputs"]["protocols"] == ["https"]
    api_policy = one(inv, "apimanagement:ApiPolicy")["inputs"]["value"]
    assert "{{function-key}}" in api_policy
    assert one(inv, "apimanagement:NamedValue")["inputs"]["secret"] is True


def test_gateway_jwt_mode_validates_tokens(alt: Inventory) -> None:
    value = one(alt, "apimanagement:ApiOperationPolicy")["inputs"]["value"]
    assert "<validate-jwt" in value
    assert "<issuer>https://login.example.com/tenant/v2.0</issuer>" in value
    assert "<audience>api://tricloud</audience>" in value
    assert "context.Subscription" not in value


# --- Observability and CI ----------------------------------------------------------------------------------------


def test_alerts_and_action_group(inv: Inventory, alt: Inventory) -> None:
    alerts = {a["name"]: a["inputs"] for a in of_type(inv, "monitor:MetricAlert")}
    assert set(alerts) == {
        "observability-endpoint-5xx",
        "observability-endpoint-latency-p99",
        "observability-function-errors",
        "observability-function-throttles",
        "observability-api-5xx",
        "observability-drift",
        "observability-fallback-rate",
    }
    p99 = alerts["observability-endpoint-latency-p99"]["criteria"]["allOf"][0]
    assert (p99["metricName"], p99["threshold"]) == ("RequestLatency_P99", 1000)
    assert alerts["observability-endpoint-5xx"]["scopes"][0].endswith(
        "/onlineEndpoints/tricloud-azure-dev-endpoint"
    )
    for name, a in alerts.items():
        if name in ("observability-drift", "observability-fallback-rate"):  # the daily job's metrics
            assert a["evaluationFrequency"] == "PT1H" and a["windowSize"] == "P1D", name
            continue
        assert a["evaluationFrequency"] == "PT1M" and a["windowSize"] == "PT5M"
        assert a["actions"][0]["actionGroupId"].endswith("/actionGroups/tricloud-azure-dev-alerts")
    # The drift alert also calls the retrain action group (the Logic App that dispatches the deploy workflow).
    drift_groups = [x["actionGroupId"] for x in alerts["observability-drift"]["actions"]]
    assert drift_groups[1].endswith("/actionGroups/tricloud-azure-dev-drift"), drift_groups
    # Its Logic App receiver carries the trigger's SAS-signed callback URL: the whole receiver is a secret.
    assert (
        one(inv, "monitor:ActionGroup", "observability-drift-actions")["inputs"]["logicAppReceivers"]
        == "[secret]"
    )
    assert one(inv, "monitor:ActionGroup", "observability-action-group")["inputs"]["emailReceivers"] == []
    (receiver,) = one(alt, "monitor:ActionGroup", "observability-action-group")["inputs"]["emailReceivers"]
    assert receiver["emailAddress"] == "oncall@example.com"
    assert one(inv, "applicationinsights:Component", "observability-app-insights")["inputs"][
        "disableLocalAuth"
    ]


def test_ci_federated_credentials_pin_issuer_audience_and_subject(inv: Inventory, alt: Inventory) -> None:
    creds = {c["name"]: c["inputs"] for c in of_type(inv, "managedidentity:FederatedIdentityCredential")}
    assert {c["issuer"] for c in creds.values()} == {GITHUB_ISSUER}
    assert all(c["audiences"] == ["api://AzureADTokenExchange"] for c in creds.values())
    assert {n: c["subject"] for n, c in creds.items()} == {
        "ci-preview-github": "repo:tricloud/tricloud:pull_request",
        "ci-infrastructure-github": "repo:tricloud/tricloud:environment:dev",
        "ci-rollout-github": "repo:tricloud/tricloud:environment:dev-model",
    }
    subjects = sorted(
        c["inputs"]["subject"] for c in of_type(alt, "managedidentity:FederatedIdentityCredential")
    )
    assert subjects == [
        "repo:tricloud@11/tricloud@22:environment:staging",
        "repo:tricloud@11/tricloud@22:environment:staging-model",
        "repo:tricloud@11/tricloud@22:pull_request",
    ]


def test_ci_identities_are_split_by_duty(inv: Inventory) -> None:
    assignments = {
        g["name"]: g["inputs"]
        for g in of_type(inv, "authorization:RoleAssignment")
        if g["name"].startswith("ci-")
    }
    role = {n: a["roleDefinitionId"].rsplit("/", 1)[1] for n, a in assignments.items()}
    subscription = f"/subscriptions/{azure_mocks.SUBSCRIPTION_ID}"
    # Preview reads; infrastructure creates the stack's resource groups and role assignments: subscription scope.
    assert role["ci-preview-reader"] == "acdd72a7-3385-48ef-bd42-f606fba81ae7"
    assert role["ci-infrastructure-contributor"] == "b24988ac-6180-42a0-ab88-20f7382dd24c"
    assert (
        role["ci-infrastructure-role-based-access-control-administrator"]
        == "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
    )
    assert {assignments[n]["scope"] for n in role if "preview" in n or "infrastructure" in n} == {
        subscription
    }
    # The rollout identity reaches the workspace, the registry, the API gateway and models/ only.
    rollout = {n: a["scope"] for n, a in assignments.items() if n.startswith("ci-rollout")}
    assert rollout["ci-rollout-ml"].endswith("/workspaces/tricloud-azure-dev-mlw")
    assert rollout["ci-rollout-acr-push"].endswith("/registries/tricloudazuredevacr")
    assert rollout["ci-rollout-image-build"].endswith("/registries/tricloudazuredevacr")
    assert "/providers/Microsoft.ApiManagement/service/" in rollout["ci-rollout-smoke"]
    assert rollout["ci-rollout-identity-lake-artifacts-models-write"].endswith("/containers/artifacts")
    assert len(rollout) == 5
    custom = {r["name"]: r["inputs"] for r in of_type(inv, "authorization:RoleDefinition")}
    build = custom["ci-image-build-role"]["permissions"][0]["actions"]
    assert (
        "Microsoft.ContainerRegistry/registries/scheduleRun/action" in build
    )  # ACR Tasks, which AcrPush lacks
    assert custom["ci-smoke-role"]["assignableScopes"] == [rollout["ci-rollout-smoke"]]


# --- mocks -------------------------------------------------------------------------------------------------------


def test_mocks_reject_unknown_types_and_invokes() -> None:
    with pytest.raises(KeyError, match="no ARM shape"):
        azure_mocks.computed_state("azure-native:sql:Server", "x", {}, "centralindia")
    with pytest.raises(NotImplementedError, match="getThing"):
        azure_mocks.invoke("azure-native:x:getThing", {}, "centralindia")


def test_mock_ids_are_arm_ids() -> None:
    rid, out = azure_mocks.computed_state(
        "azure-native:storage:BlobContainer",
        "c",
        {"resourceGroupName": "rg", "accountName": "acct", "containerName": "raw"},
        "centralindia",
    )
    assert rid == (
        f"/subscriptions/{azure_mocks.SUBSCRIPTION_ID}/resourceGroups/rg/providers/Microsoft.Storage/"
        "storageAccounts/acct/blobServices/default/containers/raw"
    )
    assert out["name"] == "raw"


def test_alert_timing_maps_to_what_azure_accepts() -> None:
    from components.observability.azure import frequency, window

    assert [frequency(p) for p in (10, 60, 300, 3600)] == ["PT1M", "PT1M", "PT5M", "PT1H"]
    assert window(60, 3) == "PT5M"  # 3 minutes round up to the next window Azure offers
    assert window(300, 3) == "PT15M"
    assert window(3600, 60) == "P1D"  # the longest window


def test_tracing_off_drops_telemetry_settings_and_role() -> None:
    inv = build_inventory("azure", config=variant({"api": {"tracing": False}}))
    settings = {s["name"] for s in one(inv, "web:WebApp")["inputs"]["siteConfig"]["appSettings"]}
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" not in settings
    assert "api-function-telemetry" not in {g["name"] for g in of_type(inv, "authorization:RoleAssignment")}


def test_lake_account_is_protected_unless_force_destroy() -> None:
    from contract_support import platform, run  # the test directory is on sys.path

    key = ("azure-native:storage:StorageAccount", "lake-account")
    assert platform("azure").options[key]["protect"] is True
    assert (
        platform("azure").options[("azure-native:storage:StorageAccount", "api-host-storage")]["protect"]
        is False
    )
    forced = run("azure", variant({"lake": {"force_destroy": True}}))
    assert forced.options[key]["protect"] is False


def test_pulumi_leaves_the_traffic_split_to_the_cd_step() -> None:
    from contract_support import platform

    opts = platform("azure").options[
        ("azure-native:machinelearningservices:OnlineEndpoint", "endpoint-endpoint")
    ]
    assert opts["ignore_changes"] == ["properties.traffic"]


def test_dashboard_is_a_workbook_over_the_api_telemetry(inv: Inventory) -> None:
    import json
    import uuid

    wb = one(inv, "applicationinsights:Workbook")["inputs"]
    uuid.UUID(wb["resourceName"])  # workbook names must be GUIDs
    assert wb["sourceId"].endswith("/components/tricloud-azure-dev-appi")
    content = json.loads(wb["serializedData"])
    queries = [i["content"]["query"] for i in content["items"] if i["type"] == 3]
    assert any("percentile(duration, 99)" in q for q in queries)
    assert any("tobool(d.fallback)" in q for q in queries)
    assert inv["outputs"]["dashboard"].endswith(f"/workbooks/{wb['resourceName']}")

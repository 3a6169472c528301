"""ApiFrontend on Azure: a Linux consumption Function App behind API Management (consumption tier).

The Function App runs `app.frontend.azure_function` (HANDLERS["azure"]) from the package
`components.api_frontend.package.function_app_package` builds (the handler's modules, `function_app.py`,
`host.json` and its pinned requirements installed under `.python_packages`, since a run-from-package app builds
nothing), as its own managed identity: it reads its host storage and the endpoint key (one Key Vault secret) with
role assignments, never with connection strings. API Management holds the function key, requires a subscription
key (auth platform) or a valid JWT (auth jwt) on POST /predict, leaves GET /health open, and rate-limits callers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar
from xml.sax.saxutils import escape

import pulumi
import pulumi_azure_native.apimanagement as apim
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.keyvault as keyvault
import pulumi_azure_native.machinelearningservices as ml
import pulumi_azure_native.monitor as monitor
import pulumi_azure_native.resources as resources
import pulumi_azure_native.storage as storage
import pulumi_azure_native.web as web

from components.api_frontend.capture_azure import deliver as deliver_capture
from components.api_frontend.package import AZURE_PYTHON, AZURE_ROUTE_PREFIX, function_app_package
from components.api_frontend.spec import OUTPUTS, ROUTES, ApiAuth, ApiFrontendArgs
from components.api_frontend.spec import ApiFrontend as Concept
from components.azure_common import (
    AzurePrincipal,
    assign_role,
    azure_name,
    key_vault,
    recoverable_logged_blobs,
    resource_group,
    storage_account,
    tags_for,
)
from components.data_lake.azure import DataLake
from components.model_endpoint.azure import ModelEndpoint
from components.observability.azure import Observability

ENDPOINT_MAX_ATTEMPTS = "2"  # one retry: a second timeout means the fallback answers
ENDPOINT_KEY_SECRET = "endpoint-key"
API_PATH = "v1"
PUBLISHER_EMAIL = (
    "platform-owner@example.com"  # consumption tier sends no publisher mail; set a real one in prod
)


@dataclass(frozen=True)
class ApiFrontendNative:
    resource_group: resources.ResourceGroup
    host_storage: storage.StorageAccount
    package: storage.Blob
    plan: web.AppServicePlan
    function_app: web.WebApp
    key_vault: keyvault.Vault
    endpoint_key: keyvault.Secret
    gateway: apim.ApiManagementService
    api: apim.Api
    operations: dict[str, apim.ApiOperation]
    grants: tuple[authorization.RoleAssignment, ...]
    capture: monitor.DiagnosticSetting | None = None


def predict_policy(args: ApiFrontendArgs) -> str:
    """Inbound policy of POST /predict: authenticate the caller, then rate-limit."""
    if args.auth is ApiAuth.JWT:
        audiences = "".join(f"<audience>{escape(a)}</audience>" for a in args.jwt_audience)
        issuer = escape((args.jwt_issuer or "").rstrip("/"))
        check = (
            '<validate-jwt header-name="Authorization" require-scheme="Bearer" '
            'failed-validation-httpcode="401" failed-validation-error-message="a valid bearer token is required">'
            f'<openid-config url="{issuer}/.well-known/openid-configuration" />'
            f"<audiences>{audiences}</audiences><issuers><issuer>{issuer}</issuer></issuers></validate-jwt>"
        )
    else:
        # The API does not require subscriptions (GET /health stays open), so /predict demands one itself.
        check = (
            '<choose><when condition="@(context.Subscription == null)"><return-response>'
            '<set-status code="401" reason="Unauthorized" />'
            '<set-body>{"error": "an API Management subscription key is required"}</set-body>'
            "</return-response></when></choose>"
        )
    # rate-limit (per subscription) is what the consumption tier offers; burst over rate sets the window.
    window_s = max(1, args.throttle_burst // args.throttle_rate_per_second)
    limit = f'<rate-limit calls="{args.throttle_rate_per_second * window_s}" renewal-period="{window_s}" />'
    return f"<policies><inbound><base />{check}{limit}</inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error></policies>"


def api_policy(args: ApiFrontendArgs) -> str:
    """All operations: pass the function key, bound the backend wait, CORS for listed origins only."""
    cors = ""
    if args.cors_origins:
        origins = "".join(f"<origin>{escape(o)}</origin>" for o in args.cors_origins)
        cors = (
            f"<cors><allowed-origins>{origins}</allowed-origins><allowed-methods><method>GET</method>"
            "<method>POST</method></allowed-methods><allowed-headers><header>Content-Type</header>"
            "<header>Authorization</header><header>Ocp-Apim-Subscription-Key</header></allowed-headers></cors>"
        )
    return (
        f"<policies><inbound><base />{cors}"
        '<set-header name="x-functions-key" exists-action="override"><value>{{function-key}}</value></set-header>'
        f'</inbound><backend><forward-request timeout="{args.timeout_seconds}" /></backend>'
        "<outbound><base /></outbound><on-error><base /></on-error></policies>"
    )


class ApiFrontend(pulumi.ComponentResource):
    OUTPUTS: ClassVar[tuple[str, ...]] = OUTPUTS  # the cloud-neutral outputs this class registers
    api_url: pulumi.Output[str]
    function_name: pulumi.Output[str]
    native: ApiFrontendNative

    def __init__(
        self,
        name: str,
        args: ApiFrontendArgs,
        *,
        endpoint: ModelEndpoint,
        observability: Observability,
        lake: DataLake | None = None,
        capture_percent: float = 0.0,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(f"tricloud:azure:{Concept.name}", name, None, opts)
        args.validate()
        tags = tags_for(Concept.name, args.tags)
        child = pulumi.ResourceOptions(parent=self)

        rg = resource_group(name, "api", tags, self)
        # Host locks and the code zip are rebuilt by a deploy: one zone is enough. The host reaches the account
        # with its managed identity (AzureWebJobsStorage__accountName), so shared keys stay off.
        host_storage = storage_account(f"{name}-host-storage", "func", rg.name, tags, self)
        # Packages and host keys: a week to undo a delete, and who touched them in the platform's workspace.
        recoverable_logged_blobs(
            f"{name}-host-storage", host_storage, rg.name, observability.log_workspace_id, self
        )
        packages = storage.BlobContainer(
            f"{name}-packages",
            container_name="packages",
            account_name=host_storage.name,
            resource_group_name=rg.name,
            public_access="None",
            opts=child,
        )
        package_zip = function_app_package()
        package = storage.Blob(
            f"{name}-package",
            blob_name=f"function-{package_zip.digest}.zip",  # a new blob per content: a change redeploys
            container_name=packages.name,
            account_name=host_storage.name,
            resource_group_name=rg.name,
            type="Block",
            source=package_zip.archive,
            opts=child,
        )
        plan = web.AppServicePlan(
            f"{name}-plan",
            name=azure_name("generic", "api", "plan"),
            resource_group_name=rg.name,
            kind="functionapp",
            reserved=True,  # Linux
            sku={"name": "Y1", "tier": "Dynamic"},  # consumption: billed per execution, nothing when idle
            tags=tags,
            opts=child,
        )

        # The endpoint key lives in this component's vault; only this app's identity may read that one secret.
        tenant = endpoint.native.endpoint.identity.apply(lambda i: i.tenant_id)
        vault = key_vault(f"{name}-vault", "api", rg.name, tenant, tags, self, firewall=False)
        keys = ml.list_online_endpoint_keys_output(
            endpoint_name=endpoint.endpoint_name,
            resource_group_name=endpoint.resource_group_name,
            workspace_name=endpoint.workspace_name,
        )
        secret = keyvault.Secret(
            f"{name}-endpoint-key",
            secret_name=ENDPOINT_KEY_SECRET,
            vault_name=vault.name,
            resource_group_name=rg.name,
            properties={"value": pulumi.Output.secret(keys.apply(lambda k: k.primary_key or ""))},
            tags=tags,
            opts=child,
        )

        function_name = azure_name("generic", "api", "func")
        settings = {
            "FUNCTIONS_EXTENSION_VERSION": "~4",
            "FUNCTIONS_WORKER_RUNTIME": "python",
            # The v2 programming model: the worker indexes function_app.py (hosts before 4.0.1 need the flag).
            "AzureWebJobsFeatureFlags": "EnableWorkerIndexing",
            # The package carries its dependencies (.python_packages); nothing is built on deploy.
            "SCM_DO_BUILD_DURING_DEPLOYMENT": "false",
            "ENABLE_ORYX_BUILD": "false",
            # Identity-based host storage: no account key in settings.
            "AzureWebJobsStorage__accountName": host_storage.name,
            "WEBSITE_RUN_FROM_PACKAGE": package.url,
            "WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID": "SystemAssigned",
            "AZUREML_ENDPOINT_URL": endpoint.scoring_uri,
            "AZUREML_ENDPOINT_KEY": pulumi.Output.concat(
                "@Microsoft.KeyVault(VaultName=", vault.name, f";SecretName={ENDPOINT_KEY_SECRET})"
            ),
            "ENDPOINT_TIMEOUT_MS": str(args.endpoint_timeout_ms),
            "ENDPOINT_MAX_ATTEMPTS": ENDPOINT_MAX_ATTEMPTS,
            "FALLBACK_ENABLED": "true" if args.fallback_enabled else "false",
            "LOG_LEVEL": "INFO",
            "CAPTURE_PERCENT": f"{capture_percent:g}" if lake is not None else "0",
            "AzureFunctionsJobHost__functionTimeout": f"00:00:{args.timeout_seconds:02d}",
        }
        if args.tracing:
            settings["APPLICATIONINSIGHTS_CONNECTION_STRING"] = observability.app_insights_connection_string
            settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] = "Authorization=AAD"  # local auth is off
        app = web.WebApp(
            f"{name}-function",
            name=function_name,
            resource_group_name=rg.name,
            kind="functionapp,linux",
            reserved=True,
            server_farm_id=plan.id,
            https_only=True,  # plain HTTP is redirected, never served
            client_cert_enabled=False,
            identity={"type": "SystemAssigned"},  # storage, Key Vault and App Insights by identity
            site_config={
                "linux_fx_version": f"Python|{AZURE_PYTHON}",
                "ftps_state": "Disabled",  # deployments go through the package blob; no FTP credentials
                "min_tls_version": "1.2",
                "scm_min_tls_version": "1.2",
                "http20_enabled": True,
                # Caps scale-out (and spend) like Lambda's reserved concurrency.
                "function_app_scale_limit": args.reserved_concurrency,
                "cors": {"allowed_origins": list(args.cors_origins)},
                "app_settings": [{"name": k, "value": v} for k, v in settings.items()],
            },
            tags=tags,
            opts=child,
        )
        # No basic-auth publishing: the code arrives as the package blob, so FTP and SCM credentials would only be a
        # second, password-based way in.
        for kind, publishing in (("ftp", web.WebAppFtpAllowed), ("scm", web.WebAppScmAllowed)):
            publishing(
                f"{name}-function-{kind}-basic-auth",
                allow=False,
                name=app.name,
                resource_group_name=rg.name,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[app]),
            )
        principal = AzurePrincipal(f"{name}-function", app.identity.apply(lambda i: i.principal_id))
        grants = [
            # The Functions host keeps leases and keys in blobs of its own account.
            assign_role(
                f"{name}-function-host-storage", principal, "Storage Blob Data Owner", host_storage.id, self
            ),
            assign_role(
                f"{name}-function-endpoint-key", principal, "Key Vault Secrets User", secret.id, self
            ),
        ]
        if args.tracing:  # Entra-authenticated telemetry needs this role on the App Insights component
            grants.append(
                assign_role(
                    f"{name}-function-telemetry",
                    principal,
                    "Monitoring Metrics Publisher",
                    observability.app_insights_id,
                    self,
                )
            )

        gateway = apim.ApiManagementService(
            f"{name}-gateway",
            service_name=azure_name("apim", "api", "apim"),
            resource_group_name=rg.name,
            sku={"name": "Consumption", "capacity": 0},  # billed per call, nothing when idle
            publisher_email=PUBLISHER_EMAIL,
            publisher_name=f"{pulumi.get_project()} {pulumi.get_stack()}",
            identity={"type": "SystemAssigned"},
            custom_properties={  # TLS 1.2+ only, to callers and to the backend
                f"Microsoft.WindowsAzure.ApiManagement.Gateway.Security.{side}.{proto}": "false"
                for side in ("Protocols", "Backend.Protocols")
                for proto in ("Tls10", "Tls11", "Ssl30")
            },
            tags=tags,
            opts=child,
        )
        host_keys = web.list_web_app_host_keys_output(name=app.name, resource_group_name=rg.name)
        function_key = apim.NamedValue(
            f"{name}-function-key",
            named_value_id="function-key",
            display_name="function-key",
            service_name=gateway.name,
            resource_group_name=rg.name,
            secret=True,
            value=pulumi.Output.secret(host_keys.apply(lambda k: (k.function_keys or {}).get("default", ""))),
            opts=child,
        )
        api = apim.Api(
            f"{name}-api",
            api_id="predict",
            service_name=gateway.name,
            resource_group_name=rg.name,
            display_name="tricloud predictions",
            path=API_PATH,
            protocols=["https"],
            service_url=pulumi.Output.concat("https://", app.default_host_name, f"/{AZURE_ROUTE_PREFIX}"),
            # Subscriptions are enforced per operation (POST /predict) so that GET /health stays open.
            subscription_required=False,
            opts=child,
        )
        apim.ApiPolicy(
            f"{name}-api-policy",
            api_id=api.name,
            service_name=gateway.name,
            resource_group_name=rg.name,
            policy_id="policy",
            format="xml",
            value=api_policy(args),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[function_key]),
        )
        operations: dict[str, apim.ApiOperation] = {}
        for method, route in ROUTES:
            op_id = route.strip("/")
            operations[route] = apim.ApiOperation(
                f"{name}-{op_id}",
                operation_id=op_id,
                api_id=api.name,
                service_name=gateway.name,
                resource_group_name=rg.name,
                display_name=f"{method} {route}",
                method=method,
                url_template=route,
                opts=child,
            )
        apim.ApiOperationPolicy(
            f"{name}-predict-policy",
            api_id=api.name,
            operation_id=operations["/predict"].name,
            service_name=gateway.name,
            resource_group_name=rg.name,
            policy_id="policy",
            format="xml",
            value=predict_policy(args),
            opts=child,
        )

        observability.watch_api(function_id=app.id, gateway_id=gateway.id)
        # Capture lines go from the app's FunctionAppLogs to the lake (components/api_frontend/capture_azure.py).
        capture = None
        if lake is not None and capture_percent > 0:
            capture = deliver_capture(self, name, function_app_id=app.id, lake=lake)
        self.api_url = pulumi.Output.concat(gateway.gateway_url, f"/{API_PATH}")
        self.function_name = app.name
        self.native = ApiFrontendNative(
            resource_group=rg,
            host_storage=host_storage,
            package=package,
            plan=plan,
            function_app=app,
            key_vault=vault,
            endpoint_key=secret,
            gateway=gateway,
            api=api,
            operations=operations,
            grants=tuple(grants),
            capture=capture,
        )
        self.register_outputs({k: getattr(self, k) for k in OUTPUTS})

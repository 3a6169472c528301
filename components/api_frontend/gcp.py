"""ApiFrontend on GCP: a Cloud Functions (gen2) handler behind API Gateway.

Ingress is ALLOW_ALL because API Gateway reaches its backends over the public Google front end (neither
ALLOW_INTERNAL_ONLY nor ALLOW_INTERNAL_AND_GCLB admits it); the function is protected by IAM instead: it is
private (no allUsers invoker) and only the gateway's own service account may invoke it, with a Google-signed ID
token the gateway mints per request.

Authentication at the gateway: PLATFORM requires an API key (header `x-api-key`) restricted to this API, with a
per-consumer-project quota of throttle_rate_per_second * 60 requests a minute (`x-google-management`); JWT
validates tokens of `jwt_issuer` for `jwt_audience` (API Gateway quotas need an API key, so with JWT the function's
max instances is the only throttle). API Gateway has no burst setting: throttle_burst is not used on GCP.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi
import pulumi_gcp.apigateway as apigateway
import pulumi_gcp.cloudfunctionsv2 as cloudfunctionsv2
import pulumi_gcp.cloudrunv2 as cloudrunv2
import pulumi_gcp.logging as logging
import pulumi_gcp.monitoring as monitoring
import pulumi_gcp.projects as projects
import pulumi_gcp.serviceaccount as serviceaccount
import pulumi_gcp.storage as storage
import pulumi_gcp.vertex as vertex

from components.api_frontend.capture_gcp import deliver as deliver_capture
from components.api_frontend.package import GCP_ENTRY_POINT, GCP_RUNTIME, cloud_function_source
from components.api_frontend.spec import (
    OUTPUTS,
    ApiAuth,
    ApiFrontendArgs,
)
from components.api_frontend.spec import (
    ApiFrontend as Concept,
)
from components.data_lake.gcp import (
    DataLake,
    base_name,
    enable_services,
    project_grant,
    region,
    secure_bucket,
    service_account,
)
from components.errors import InvalidArgs
from components.model_endpoint.gcp import ModelEndpoint
from components.naming import physical_name
from components.observability.gcp import Observability
from components.tags import component_tags

CLOUD = "gcp"
RUNTIME = GCP_RUNTIME
ENTRY_POINT = GCP_ENTRY_POINT
ENDPOINT_MAX_ATTEMPTS = 2  # one retry of a transient Vertex error still fits the handler's timeout
API_KEY_HEADER = "x-api-key"
QUOTA_METRIC = "predict-requests"
# Cloud Functions gen2 builds with Cloud Build and runs on Cloud Run; API Gateway needs its own control planes.
SERVICES = (
    "cloudfunctions.googleapis.com",
    "cloudbuild.googleapis.com",
    "run.googleapis.com",
    "apigateway.googleapis.com",
    "servicemanagement.googleapis.com",
    "servicecontrol.googleapis.com",
    "apikeys.googleapis.com",
)
SOURCE_VERSION_DAYS = 30  # replaced function sources kept this long: enough to redeploy the previous one


def _swagger_schemas() -> dict[str, Any]:
    """app.schema's OpenAPI 3 components as Swagger 2.0 definitions (no oneOf: the batch form is documented)."""
    from app.schema import openapi_schema

    text = json.dumps(openapi_schema()).replace("#/components/schemas/", "#/definitions/")
    defs: dict[str, Any] = json.loads(text)
    # Swagger 2.0 has no oneOf; the handler also accepts one listing or a bare list, as the description says.
    instances = next(
        alt for alt in defs["PredictRequest"]["oneOf"] if alt.get("properties", {}).get("instances")
    )
    defs["PredictRequest"] = {
        **instances,
        "description": "{'instances': [HouseListing, ...]}; one HouseListing or a bare list is accepted too",
    }
    return defs


def openapi_document(function_url: str, args: ApiFrontendArgs, title: str) -> dict[str, Any]:
    """The API Gateway config: POST /predict (API key or JWT, quota) and an open GET /health, one backend."""
    if args.auth is ApiAuth.JWT:
        scheme = "jwt"
        security_definitions: dict[str, Any] = {
            scheme: {
                "authorizationUrl": "",
                "flow": "implicit",
                "type": "oauth2",
                "x-google-issuer": args.jwt_issuer,
                # The JWKS is found by OpenID discovery on the issuer.
                "x-google-audiences": ",".join(args.jwt_audience),
            }
        }
    else:
        scheme = "api_key"
        security_definitions = {scheme: {"type": "apiKey", "name": API_KEY_HEADER, "in": "header"}}

    predict: dict[str, Any] = {
        "operationId": "predict",
        "summary": "Predict house prices (INR) for one or more listings",
        "consumes": ["application/json", "text/csv"],
        "security": [{scheme: []}],
        "parameters": [
            {
                "in": "body",
                "name": "body",
                "required": True,
                "schema": {"$ref": "#/definitions/PredictRequest"},
            }
        ],
        "responses": {
            "200": {"description": "predictions", "schema": {"$ref": "#/definitions/PredictResponse"}},
            "400": {"description": "invalid request", "schema": {"$ref": "#/definitions/ErrorResponse"}},
            "413": {"description": "too many rows or too large a body"},
            "429": {"description": "quota exceeded"},
        },
    }
    doc: dict[str, Any] = {
        "swagger": "2.0",
        "info": {"title": title, "version": "1.0.0", "description": "tricloud house-price prediction API"},
        "schemes": ["https"],
        "produces": ["application/json"],
        "x-google-backend": {
            "address": function_url,
            "deadline": float(args.timeout_seconds),
            "path_translation": "APPEND_PATH_TO_ADDRESS",
        },
        "securityDefinitions": security_definitions,
        "paths": {
            "/predict": {"post": predict},
            "/health": {
                "get": {
                    "operationId": "health",
                    "summary": "Liveness of the API and whether an endpoint is configured",
                    "security": [],
                    "responses": {"200": {"description": "healthy"}},
                }
            },
        },
        "definitions": _swagger_schemas(),
    }
    if args.auth is ApiAuth.PLATFORM:
        doc["x-google-management"] = {
            "metrics": [
                {
                    "name": QUOTA_METRIC,
                    "displayName": "Predict requests",
                    "valueType": "INT64",
                    "metricKind": "DELTA",
                }
            ],
            "quota": {
                "limits": [
                    {
                        "name": "predict-per-minute",
                        "metric": QUOTA_METRIC,
                        "unit": "1/min/{project}",
                        "values": {"STANDARD": args.throttle_rate_per_second * 60},
                    }
                ]
            },
        }
        predict["x-google-quota"] = {"metricCosts": {QUOTA_METRIC: 1}}
    return doc


@dataclass(frozen=True)
class ApiFrontendNative:
    services: dict[str, projects.Service]
    source_bucket: storage.Bucket
    source_object: storage.BucketObject
    function_account: serviceaccount.Account
    build_account: serviceaccount.Account
    gateway_account: serviceaccount.Account
    predict_role: projects.IAMCustomRole
    function: cloudfunctionsv2.Function
    api: apigateway.Api
    api_config: apigateway.ApiConfig
    gateway: apigateway.Gateway
    api_key: projects.ApiKey | None
    alert_policies: tuple[monitoring.AlertPolicy, ...]
    capture: tuple[logging.ProjectSink, storage.BucketIAMMember] | None = None


class ApiFrontend(pulumi.ComponentResource):
    """Private Cloud Function (python312) calling only the Vertex endpoint, behind API Gateway with key or JWT."""

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
        super().__init__(f"tricloud:{CLOUD}:{Concept.name}", name, None, opts)
        args.validate()
        if args.cors_origins:
            # API Gateway has no CORS policy and the handler sends no CORS headers: refuse rather than ignore.
            raise InvalidArgs(
                "cors_origins", args.cors_origins, "is not supported on GCP (API Gateway has no CORS)"
            )
        capture_on = lake is not None and capture_percent > 0
        lake = endpoint.lake
        labels = component_tags(CLOUD, Concept.name, args.tags)
        here = region()
        source_zip = cloud_function_source()
        fn_name = base_name("gcp:generic", "api")

        services = enable_services(self, name, SERVICES)
        # Custom roles and service accounts need the IAM API, which the lake enables.
        iam_api = lake.native.services["iam.googleapis.com"]
        after_apis = pulumi.ResourceOptions(parent=self, depends_on=[*services.values(), iam_api])

        bucket = secure_bucket(
            f"{name}-source",
            role="fn-source",
            parent=self,
            labels=labels,
            key=lake.key,
            # A deleted or replaced source can be restored for a month (a rollback needs the zip that served).
            versioning=True,
            lifecycle_rules=[
                storage.BucketLifecycleRuleArgs(
                    action=storage.BucketLifecycleRuleActionArgs(type="Delete"),
                    condition=storage.BucketLifecycleRuleConditionArgs(
                        days_since_noncurrent_time=SOURCE_VERSION_DAYS, with_state="ARCHIVED"
                    ),
                )
            ],
            log_bucket=lake.native.log_bucket,  # who read or replaced the function's code
            force_destroy=True,  # the source is rebuilt from the repository
            depends_on=lake.native.agent_key_grants,
        )
        source = storage.BucketObject(
            f"{name}-source-zip",
            bucket=bucket.name,
            name=f"{fn_name}-{source_zip.digest}.zip",  # a new name per content: a change redeploys
            source=source_zip.archive,
            content_type="application/zip",
            opts=pulumi.ResourceOptions(parent=self),
        )

        project = lake.project_id
        fn_sa = service_account(
            self, f"{name}-fn-sa", "api-fn", "tricloud API function (predict only)", lake=lake
        )
        # The narrowest grant Vertex allows: a role holding only `predict`, bound on this one endpoint.
        predict_role = projects.IAMCustomRole(
            f"{name}-predict-role",
            # Custom role ids stay reserved for 37 days after a delete; the stack name keeps stacks apart.
            role_id=physical_name("gcp:custom_role", pulumi.get_project(), pulumi.get_stack(), "predict"),
            title="tricloud endpoint predict only",
            permissions=["aiplatform.endpoints.predict"],
            opts=after_apis,
        )
        predict_grant = vertex.AiEndpointIamMember(
            f"{name}-fn-predict",
            endpoint=endpoint.native.endpoint.name,
            location=here,
            project=project,
            role=predict_role.name,
            member=fn_sa.member,
            opts=pulumi.ResourceOptions(parent=self),
        )
        build_sa = service_account(
            self, f"{name}-build-sa", "api-build", "tricloud API function build (Cloud Build)", lake=lake
        )
        # A dedicated build identity instead of the default compute account (which holds Editor on the project).
        build_grants = [
            project_grant(self, f"{name}-build-{short}", project, role, build_sa.member)
            for short, role in (
                ("logs", "roles/logging.logWriter"),
                ("images", "roles/artifactregistry.writer"),  # the gcf-artifacts repository is made by GCF
            )
        ]
        build_grants.append(
            storage.BucketIAMMember(
                f"{name}-build-source",
                bucket=bucket.name,
                role="roles/storage.objectViewer",
                member=build_sa.member,
                opts=pulumi.ResourceOptions(parent=self),
            )
        )

        function = cloudfunctionsv2.Function(
            f"{name}-function",
            name=fn_name,
            location=here,
            description="tricloud prediction API handler (app.frontend.gcp_function)",
            build_config=cloudfunctionsv2.FunctionBuildConfigArgs(
                runtime=RUNTIME,
                entry_point=ENTRY_POINT,
                service_account=build_sa.id,
                source=cloudfunctionsv2.FunctionBuildConfigSourceArgs(
                    storage_source=cloudfunctionsv2.FunctionBuildConfigSourceStorageSourceArgs(
                        bucket=bucket.name, object=source.name
                    )
                ),
            ),
            service_config=cloudfunctionsv2.FunctionServiceConfigArgs(
                service_account_email=fn_sa.email,
                available_memory=f"{args.memory_mb}M",
                timeout_seconds=args.timeout_seconds,
                min_instance_count=0,  # scale to zero between requests
                max_instance_count=args.reserved_concurrency,  # caps spend; beyond it callers get 429
                max_instance_request_concurrency=1,
                ingress_settings="ALLOW_ALL",  # API Gateway arrives from the Google front end; IAM guards the function
                all_traffic_on_latest_revision=True,
                environment_variables={
                    "VERTEX_ENDPOINT_ID": endpoint.endpoint_name,
                    "GOOGLE_CLOUD_PROJECT": project,
                    "VERTEX_REGION": here,
                    "ENDPOINT_TIMEOUT_MS": str(args.endpoint_timeout_ms),
                    "ENDPOINT_MAX_ATTEMPTS": str(ENDPOINT_MAX_ATTEMPTS),
                    "FALLBACK_ENABLED": str(args.fallback_enabled).lower(),
                    "LOG_LEVEL": "INFO",
                    "CAPTURE_PERCENT": f"{capture_percent:g}" if capture_on else "0",
                },
            ),
            labels=labels,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[*services.values(), *build_grants, predict_grant]
            ),
        )

        gw_sa = service_account(
            self, f"{name}-gateway-sa", "api-gw", "tricloud API Gateway backend caller", lake=lake
        )
        # Only the gateway may call the function (gen2 functions are Cloud Run services: run.invoker).
        invoker = cloudrunv2.ServiceIamMember(
            f"{name}-gateway-invoker",
            name=function.name,
            location=here,
            project=project,
            role="roles/run.invoker",
            member=gw_sa.member,
            opts=pulumi.ResourceOptions(parent=self),
        )

        api = apigateway.Api(
            f"{name}-api",
            api_id=base_name("gcp:generic", "api"),
            display_name="tricloud prediction API",
            labels=labels,
            opts=after_apis,
        )
        document = function.url.apply(lambda url: openapi_document(url, args, f"{fn_name} prediction API"))
        contents = document.apply(lambda d: json.dumps(d, sort_keys=True, indent=1))
        config = apigateway.ApiConfig(
            f"{name}-config",
            api=api.api_id,
            # Configs are immutable: a content hash in the id makes each change a new config, then a switch.
            api_config_id=contents.apply(
                lambda c: (
                    f"{base_name('gcp:generic', 'api')[:54]}-{hashlib.sha256(c.encode()).hexdigest()[:8]}"
                )
            ),
            display_name="tricloud prediction API config",
            openapi_documents=[
                apigateway.ApiConfigOpenapiDocumentArgs(
                    document=apigateway.ApiConfigOpenapiDocumentDocumentArgs(
                        path="openapi.json",
                        contents=contents.apply(lambda c: base64.b64encode(c.encode()).decode()),
                    )
                )
            ],
            gateway_config=apigateway.ApiConfigGatewayConfigArgs(
                backend_config=apigateway.ApiConfigGatewayConfigBackendConfigArgs(
                    google_service_account=gw_sa.email
                )
            ),
            labels=labels,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[invoker]),
        )
        gateway = apigateway.Gateway(
            f"{name}-gateway",
            gateway_id=base_name("gcp:generic", "gateway"),
            api_config=config.id,
            region=here,
            display_name="tricloud prediction gateway",
            labels=labels,
            opts=pulumi.ResourceOptions(parent=self),
        )
        api_key = None
        if args.auth is ApiAuth.PLATFORM:
            # API keys work only once the API's own managed service is enabled in the project.
            managed = projects.Service(
                f"{name}-api-managed-service",
                service=api.managed_service,
                disable_on_destroy=False,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[config]),
            )
            # The key is restricted to this API; read it with `gcloud services api-keys get-key-string`.
            api_key = projects.ApiKey(
                f"{name}-key",
                name=base_name("gcp:generic", "api-key"),
                display_name="tricloud prediction API key",
                restrictions=projects.ApiKeyRestrictionsArgs(
                    api_targets=[projects.ApiKeyRestrictionsApiTargetArgs(service=api.managed_service)]
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[managed]),
            )

        policies = observability.watch_api(gateway.gateway_id, function.name)
        # Capture lines go from the function's log entries to the lake (components/api_frontend/capture_gcp.py).
        capture = None
        if capture_on:
            capture = deliver_capture(
                self,
                name,
                function_name=function.name,
                lake=lake,
                sink_name=base_name("gcp:generic", "capture"),
            )
        self.native = ApiFrontendNative(
            services=services,
            source_bucket=bucket,
            source_object=source,
            function_account=fn_sa,
            build_account=build_sa,
            gateway_account=gw_sa,
            predict_role=predict_role,
            function=function,
            api=api,
            api_config=config,
            gateway=gateway,
            api_key=api_key,
            alert_policies=tuple(policies),
            capture=capture,
        )
        self.api_url = pulumi.Output.concat("https://", gateway.default_hostname)
        self.function_name = function.name
        self.register_outputs({k: getattr(self, k) for k in OUTPUTS})

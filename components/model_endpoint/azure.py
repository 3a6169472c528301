"""ModelEndpoint on Azure: an Azure ML managed online endpoint with a "blue" deployment of the training image.

Serving follows Azure ML's custom-container contract, not a scoring script under the inference server: the image's
own entry point (`python -m app.container serve`) runs, sees `AZUREML_MODEL_DIR` (Azure ML mounts the registered
model there, the artifact folder one level down) and serves `app.serve.contracts.AZUREML`, whose routes and port
this environment declares as its liveness, readiness and scoring routes. Why: the same server, limits, error shape
and model-version header as SageMaker and Vertex, tested once (tests/hosts runs the entry point with Azure ML's
environment in a venv holding only the image's dependencies); the inference server would add Flask and gunicorn
to the image, a code asset upload, and a second error shape, at about a seventh of the throughput (DESIGN.md 7).
The model is registered from the lake's artifacts filesystem (an identity-based datastore).

Differences from AWS, chosen and documented (docs/azure.md, docs/equivalence.md):
- Managed online endpoints do not scale to zero: SERVERLESS maps to the smallest supported instance, one replica.
- Traffic: ARM rejects a split naming a deployment that does not exist yet, so the endpoint is created with no
  traffic and the CD step sets `blue=100` after the first rollout, then shifts green in canary_percent steps while
  watching the Observability alerts (`az ml online-endpoint update --traffic ...`). Pulumi ignores later changes
  to the split so a `pulumi up` never undoes a rollout.
- Auth is an endpoint key (the Function App reads it from Key Vault); the endpoint stays publicly reachable
  because a Linux consumption Function App cannot join a VNet to reach a private endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.machinelearningservices as ml
import pulumi_azure_native.monitor as monitor

from app.serve.contracts import AZUREML
from components.azure_common import AzurePrincipal, assign_role, azure_name, tags_for
from components.data_lake.azure import DataLake
from components.data_lake.spec import Zone
from components.model_endpoint.spec import OUTPUTS, EndpointMode, ModelEndpointArgs
from components.model_endpoint.spec import ModelEndpoint as Concept
from components.observability.azure import Observability
from components.training_job.azure import MODELS_PREFIX, TrainingJob

CAPTURE_PREFIX = "capture/"
SERVERLESS_INSTANCE_TYPE = "Standard_DS1_v2"  # the smallest SKU managed online endpoints accept
DEFAULT_INSTANCE_TYPE = "Standard_DS2_v2"
DEPLOYMENT = "blue"
LAKE_DATASTORE = "lake_artifacts"
# Payload logging: Azure ML reserves the collection names "request" and "response" for the HTTP bodies it sees;
# any other name is custom logging, which only a scoring script calling azureml-ai-monitoring fills.
CAPTURE_COLLECTIONS = ("request", "response")


@dataclass(frozen=True)
class ModelEndpointNative:
    endpoint: ml.OnlineEndpoint
    deployment: ml.OnlineDeployment
    datastore: ml.Datastore
    model: ml.ModelVersion
    environment: ml.EnvironmentVersion
    capture: ml.DataVersion
    autoscale: monitor.AutoscaleSetting | None
    alerts: tuple[monitor.MetricAlert, ...]
    grants: tuple[authorization.RoleAssignment, ...]


class ModelEndpoint(pulumi.ComponentResource):
    OUTPUTS: ClassVar[tuple[str, ...]] = OUTPUTS  # the cloud-neutral outputs this class registers
    endpoint_name: pulumi.Output[str]
    model_data_uri: pulumi.Output[str]
    capture_uri: pulumi.Output[str]
    native: ModelEndpointNative

    def __init__(
        self,
        name: str,
        args: ModelEndpointArgs,
        *,
        lake: DataLake,
        training: TrainingJob,
        observability: Observability,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(f"tricloud:azure:{Concept.name}", name, None, opts)
        args.validate()
        tags = tags_for(Concept.name, args.tags)
        child = pulumi.ResourceOptions(parent=self)
        ws = {"workspace_name": training.workspace_name, "resource_group_name": training.resource_group_name}
        serverless = args.mode is EndpointMode.SERVERLESS
        instance_type = (
            SERVERLESS_INSTANCE_TYPE if serverless else args.instance_type or DEFAULT_INSTANCE_TYPE
        )
        instances = 1 if serverless else args.min_instances

        datastore = ml.Datastore(
            f"{name}-datastore",
            name=LAKE_DATASTORE,
            **ws,
            properties=ml.AzureDataLakeGen2DatastoreArgs(
                datastore_type="AzureDataLakeGen2",
                account_name=lake.account_name,
                filesystem=Zone.ARTIFACTS.value,
                # No stored credential: each caller's own identity is checked against the lake's role assignments.
                credentials=ml.NoneDatastoreCredentialsArgs(credentials_type="None"),
            ),
            opts=child,
        )
        model_uri = (
            pulumi.Output.from_input(args.model_data_uri)
            if args.model_data_uri
            else pulumi.Output.concat(
                "azureml://datastores/", datastore.name, f"/paths/{MODELS_PREFIX}latest/"
            )
        )
        model = ml.ModelVersion(
            f"{name}-model",
            name=azure_name("generic", "model"),
            version="1",
            **ws,
            properties=ml.ModelVersionPropertiesArgs(model_type="custom_model", model_uri=model_uri),
            opts=child,
        )
        environment = ml.EnvironmentVersion(
            f"{name}-environment",
            name=azure_name("generic", "serve"),
            version="1",
            **ws,
            properties=ml.EnvironmentVersionPropertiesArgs(
                image=args.image_uri or training.training_image_uri,
                os_type="Linux",
                # The routes app.serve.contracts.AZUREML serves; the image's entry point picks that contract.
                inference_config=ml.InferenceContainerPropertiesArgs(
                    liveness_route=ml.RouteArgs(path=AZUREML.health_route, port=AZUREML.port),
                    readiness_route=ml.RouteArgs(path=AZUREML.health_route, port=AZUREML.port),
                    scoring_route=ml.RouteArgs(path=AZUREML.predict_route, port=AZUREML.port),
                ),
            ),
            opts=child,
        )
        capture = ml.DataVersion(
            f"{name}-capture",
            name=azure_name("generic", "capture"),
            version="1",
            **ws,
            properties=ml.UriFolderDataVersionArgs(
                data_type="uri_folder",
                data_uri=pulumi.Output.concat(
                    "azureml://datastores/", datastore.name, f"/paths/{CAPTURE_PREFIX}"
                ),
            ),
            opts=child,
        )

        endpoint = ml.OnlineEndpoint(
            f"{name}-endpoint",
            endpoint_name=azure_name("ml_endpoint", "endpoint"),
            **ws,
            kind="Managed",
            identity={"type": "SystemAssigned"},  # pulls the image and reads the model as itself
            properties=ml.OnlineEndpointPropertiesArgs(
                auth_mode="Key",  # callers present a key; the API keeps it in its Key Vault, not in app settings
                public_network_access="Enabled",  # see the module docstring: consumption functions have no VNet
                traffic={},
            ),
            tags=tags,
            # The CD step owns the traffic split after the first rollout (see the module docstring).
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["properties.traffic"]),
        )
        principal = AzurePrincipal(f"{name}-identity", endpoint.identity.apply(lambda i: i.principal_id))
        grants = (
            lake.grant_read(principal, zone=Zone.ARTIFACTS, prefix=MODELS_PREFIX, parent=self),
            lake.grant_write(principal, zone=Zone.ARTIFACTS, prefix=CAPTURE_PREFIX, parent=self),
            assign_role(f"{name}-endpoint-acr-pull", principal, "AcrPull", training.registry_id, self),
        )
        sampling = args.data_capture_percent / 100
        deployment = ml.OnlineDeployment(
            f"{name}-{DEPLOYMENT}",
            deployment_name=DEPLOYMENT,
            endpoint_name=endpoint.name,
            **ws,
            sku={"name": "Default", "capacity": instances},
            properties=ml.ManagedOnlineDeploymentArgs(
                endpoint_compute_type="Managed",
                instance_type=instance_type,
                model=model.id,
                environment_id=environment.id,
                app_insights_enabled=True,  # request traces and failures in the workspace's App Insights
                egress_public_network_access="Disabled",  # the model container cannot call out
                scale_settings=ml.DefaultScaleSettingsArgs(scale_type="Default"),
                request_settings=ml.OnlineRequestSettingsArgs(
                    request_timeout="PT5S",  # a tree model answers in ms: this only bounds a stuck request
                    max_concurrent_requests_per_instance=args.serverless_max_concurrency,
                ),
                liveness_probe=ml.ProbeSettingsArgs(
                    initial_delay="PT30S", period="PT10S", failure_threshold=3
                ),
                data_collector=ml.DataCollectorArgs(
                    collections={
                        kind: ml.CollectionArgs(
                            data_collection_mode="Enabled" if sampling > 0 else "Disabled",
                            data_id=capture.id,
                            sampling_rate=sampling,
                        )
                        for kind in CAPTURE_COLLECTIONS
                    },
                    rolling_rate="Hour",
                ),
            ),
            tags=tags,
            # After the first deploy `tricloud model rollout azure` owns the model of the deployments (canary in a
            # second deployment, traffic shift): `pulumi up` keeps whatever model the endpoint serves.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=list(grants), ignore_changes=["properties.model"]
            ),
        )

        autoscale = None
        if not serverless:
            autoscale = self._autoscale(name, args, endpoint, deployment, training, tags)

        alerts = tuple(observability.watch_endpoint(endpoint.id))
        self.endpoint_id: pulumi.Output[str] = endpoint.id
        self.scoring_uri: pulumi.Output[str] = endpoint.properties.apply(lambda p: p.scoring_uri)
        self.workspace_name: pulumi.Output[str] = training.workspace_name
        self.workspace_id: pulumi.Output[str] = training.workspace_id
        self.resource_group_name: pulumi.Output[str] = training.resource_group_name
        self.registry_id: pulumi.Output[str] = training.registry_id
        self.endpoint_name = endpoint.name
        self.model_data_uri = (
            pulumi.Output.from_input(args.model_data_uri)
            if args.model_data_uri
            else lake.uri(Zone.ARTIFACTS, f"{MODELS_PREFIX}latest/")
        )
        self.capture_uri = lake.uri(Zone.ARTIFACTS, CAPTURE_PREFIX)
        self.native = ModelEndpointNative(
            endpoint=endpoint,
            deployment=deployment,
            datastore=datastore,
            model=model,
            environment=environment,
            capture=capture,
            autoscale=autoscale,
            alerts=alerts,
            grants=grants,
        )
        self.register_outputs({k: getattr(self, k) for k in OUTPUTS})

    def _autoscale(
        self,
        name: str,
        args: ModelEndpointArgs,
        endpoint: ml.OnlineEndpoint,
        deployment: ml.OnlineDeployment,
        training: TrainingJob,
        tags: dict[str, str],
    ) -> monitor.AutoscaleSetting:
        """Target tracking on requests per minute per instance, between min_instances and max_instances."""

        def rule(direction: str, operator: str, threshold: float) -> monitor.ScaleRuleArgs:
            return monitor.ScaleRuleArgs(
                metric_trigger=monitor.MetricTriggerArgs(
                    metric_name="RequestsPerMinute",
                    metric_namespace="Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
                    metric_resource_uri=endpoint.id,
                    divide_per_instance=True,  # requests per instance, like SageMaker's invocations per instance
                    operator=operator,
                    statistic="Average",
                    time_aggregation="Average",
                    time_grain="PT1M",
                    time_window="PT5M",
                    threshold=threshold,
                ),
                scale_action=monitor.ScaleActionArgs(
                    direction=direction, type="ChangeCount", value="1", cooldown="PT5M"
                ),
            )

        target = args.target_invocations_per_instance
        return monitor.AutoscaleSetting(
            f"{name}-autoscale",
            autoscale_setting_name=azure_name("generic", "endpoint", "autoscale"),
            resource_group_name=training.resource_group_name,
            target_resource_uri=deployment.id,
            enabled=True,
            profiles=[
                monitor.AutoscaleProfileArgs(
                    name="requests-per-instance",
                    capacity=monitor.ScaleCapacityArgs(
                        minimum=str(args.min_instances),
                        maximum=str(args.max_instances),  # bounds spend
                        default=str(args.min_instances),
                    ),
                    rules=[
                        rule("Increase", "GreaterThan", target),
                        rule("Decrease", "LessThan", target / 2),  # hysteresis: no flapping around the target
                    ],
                )
            ],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

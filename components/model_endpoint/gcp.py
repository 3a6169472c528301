"""ModelEndpoint on GCP: a CMEK Vertex AI endpoint with request/response logging to the lake's BigQuery dataset.

No Pulumi resource exists for uploading a model to the Vertex Model Registry or deploying it onto an endpoint,
so this component creates the endpoint and publishes the deployment settings (`deployment`); the CD step runs
`gcloud ai models upload` + `gcloud ai endpoints deploy-model` with them, canaries the new model with
`--traffic-split` and watches the Observability policies before shifting the rest (docs/gcp.md). The container spec
in `deployment["container"]` is app.serve.contracts.VERTEX: the image's entry point sees Vertex's AIP_* variables,
serves those routes and downloads the model from AIP_STORAGE_URI.

SERVERLESS and INSTANCE keep the shared meaning, but Vertex cannot scale to zero: SERVERLESS is one small replica
(autoscaling up to serverless_max_concurrency replicas), INSTANCE uses instance_type with min/max_instances.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_gcp.bigquery as bigquery
import pulumi_gcp.monitoring as monitoring
import pulumi_gcp.vertex as vertex

from app.serve.contracts import VERTEX
from components.data_lake.gcp import MODELS_PREFIX, DataLake, base_name, region
from components.data_lake.spec import Zone
from components.model_endpoint.spec import OUTPUTS, EndpointMode, ModelEndpointArgs
from components.model_endpoint.spec import ModelEndpoint as Concept
from components.observability.gcp import Observability
from components.tags import component_tags
from components.training_job.gcp import TrainingJob

CLOUD = "gcp"
SERVERLESS_MACHINE = (
    "n1-standard-2"  # the smallest general-purpose machine Vertex serves custom containers on
)
DEFAULT_INSTANCE_MACHINE = "n1-standard-2"
CAPTURE_TABLE = "request_response_logging"


def endpoint_id(*parts: str) -> str:
    """Vertex endpoint ids are numeric (at most 10 digits, no leading zero): a stable hash of the stack's name."""
    digest = int(hashlib.sha256("-".join(parts).encode()).hexdigest(), 16)
    return str(1_000_000_000 + digest % 9_000_000_000)


@dataclass(frozen=True)
class ModelEndpointNative:
    endpoint: vertex.AiEndpoint
    capture_writer: bigquery.DatasetIamMember | None
    alert_policies: tuple[monitoring.AlertPolicy, ...]


class ModelEndpoint(pulumi.ComponentResource):
    """Vertex AI endpoint (CMEK, sampled request/response logging); models are deployed onto it by the CD step."""

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
        super().__init__(f"tricloud:{CLOUD}:{Concept.name}", name, None, opts)
        args.validate()
        labels = component_tags(CLOUD, Concept.name, args.tags)
        here = region()
        serverless = args.mode is EndpointMode.SERVERLESS
        # What the CD step passes to `deploy-model`; Vertex keeps at least one replica in both modes.
        self.deployment: dict[str, object] = {
            "machine_type": SERVERLESS_MACHINE
            if serverless
            else (args.instance_type or DEFAULT_INSTANCE_MACHINE),
            "min_replica_count": 1 if serverless else args.min_instances,
            "max_replica_count": args.serverless_max_concurrency if serverless else args.max_instances,
            "canary_percent": args.canary_percent,
            "canary_wait_minutes": args.canary_wait_minutes,
            "image_uri": args.image_uri,
            # The container spec for `gcloud ai models upload`: the image's entry point sees Vertex's AIP_*
            # variables and serves app.serve.contracts.VERTEX on these routes and port.
            "container": {
                "predict_route": VERTEX.predict_route,
                "health_route": VERTEX.health_route,
                "port": VERTEX.port,
                "args": ["serve"],
            },
        }

        dataset = lake.native.dataset
        capture = args.data_capture_percent > 0
        capture_uri = pulumi.Output.concat(
            "bq://", dataset.project, ".", dataset.dataset_id, ".", CAPTURE_TABLE
        )
        writer = None
        if capture:
            # The Vertex service agent writes the sampled requests; it may edit this dataset only.
            writer = bigquery.DatasetIamMember(
                f"{name}-capture-writer",
                dataset_id=dataset.dataset_id,
                role="roles/bigquery.dataEditor",
                member=training.native.vertex_agent.member,
                opts=pulumi.ResourceOptions(parent=self),
            )

        endpoint = vertex.AiEndpoint(
            f"{name}-endpoint",
            name=endpoint_id(pulumi.get_project(), pulumi.get_stack(), name),
            display_name=base_name("gcp:generic", "endpoint"),
            description="tricloud house-price model endpoint (models deployed by the CD step)",
            location=here,
            region=here,
            # The lake key encrypts the endpoint's deployed models and logs; revoking it stops serving.
            encryption_spec=vertex.AiEndpointEncryptionSpecArgs(kms_key_name=lake.encryption_key),
            predict_request_response_logging_config=vertex.AiEndpointPredictRequestResponseLoggingConfigArgs(
                enabled=capture,
                sampling_rate=args.data_capture_percent / 100,
                bigquery_destination=vertex.AiEndpointPredictRequestResponseLoggingConfigBigqueryDestinationArgs(
                    output_uri=capture_uri
                ),
            )
            if capture
            else None,
            labels=labels,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[
                    *training.native.agent_key_grants,
                    training.native.services["aiplatform.googleapis.com"],
                    *([writer] if writer else []),
                ],
            ),
        )
        policies = observability.watch_endpoint(endpoint.name)
        self.native = ModelEndpointNative(
            endpoint=endpoint, capture_writer=writer, alert_policies=tuple(policies)
        )
        self.lake = lake  # the API's source bucket and the CI grants use the same key and project

        self.endpoint_name = endpoint.name
        self.model_data_uri = (
            pulumi.Output.from_input(args.model_data_uri)
            if args.model_data_uri
            # Vertex reads a model directory (artifact_uri), not a tarball like SageMaker.
            else lake.uri(Zone.ARTIFACTS, f"{MODELS_PREFIX}latest/")
        )
        self.capture_uri = capture_uri  # where capture goes (off by default in serverless mode, see the spec)
        self.register_outputs({k: getattr(self, k) for k in OUTPUTS})

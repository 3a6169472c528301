"""ModelEndpoint on AWS: SageMaker Model + EndpointConfiguration + Endpoint with a blue/green canary rollout that rolls
back on the Observability alarms.

The endpoint name is deterministic, so the alarms exist before the endpoint that names them in its rollback
configuration. Model and endpoint configuration keep Pulumi auto-names: a new model creates a new configuration next
to the old one, which is what a blue/green update switches between.

Which model it serves: `tricloud:endpoint.model_data_uri`/`image_uri` when the config pins them, else the serving
record `tricloud model rollout` wrote to SSM (`/<project>/<stack>/model/serving`: artifact by its sha256-named key,
image by digest), else the bootstrap artifact `models/latest/model.tar.gz` with the training image. The record is
read on every run, so `pulumi up` from any machine keeps the rolled-out model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_aws.appautoscaling as appautoscaling
import pulumi_aws.cloudwatch as cloudwatch
import pulumi_aws.iam as iam
import pulumi_aws.sagemaker as sagemaker
import pulumi_aws.ssm as ssm

from components import aws_policy as pol
from components import constraints
from components.data_lake.aws import DataLake
from components.data_lake.spec import Zone
from components.model_endpoint import serving
from components.model_endpoint.spec import OUTPUTS, EndpointMode, ModelEndpointArgs
from components.model_endpoint.spec import ModelEndpoint as Concept
from components.naming import physical_name
from components.observability.aws import Observability
from components.tags import component_tags
from components.training_job.aws import MODELS_PREFIX, TrainingJob, ecr_pull_statements

VARIANT = "primary"
DEFAULT_INSTANCE_TYPE = "ml.m5.large"
CAPTURE_PREFIX = "capture/"
LATEST_MODEL = f"{MODELS_PREFIX}latest/model.tar.gz"
TERMINATION_WAIT_SECONDS = (
    300  # the old fleet stays 5 minutes after full shift: a late alarm can still roll back
)


@dataclass(frozen=True)
class ModelEndpointNative:
    role: iam.Role
    model: sagemaker.Model
    config: sagemaker.EndpointConfiguration
    endpoint: sagemaker.Endpoint
    alarms: list[cloudwatch.MetricAlarm]
    scaling_target: appautoscaling.Target | None = None
    scaling_policy: appautoscaling.Policy | None = None


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
        super().__init__("tricloud:aws:ModelEndpoint", name, None, opts)
        args.validate()
        constraints.check_args("aws", "endpoint", args)
        tags = component_tags("aws", Concept.name, args.tags)
        project, stack = pulumi.get_project(), pulumi.get_stack()
        ctx = pol.context(self)
        child = pulumi.ResourceOptions(parent=self)
        endpoint_name = physical_name("aws:sagemaker", project, stack, "endpoint")
        record = serving_record(project, stack, self)
        model_data: pulumi.Output[str] = (
            pulumi.Output.from_input(args.model_data_uri)
            if args.model_data_uri
            else pulumi.Output.all(record, lake.uri(Zone.ARTIFACTS, LATEST_MODEL)).apply(
                lambda v: v[0].model_data_uri if v[0] else v[1]
            )
        )
        image: pulumi.Output[str] = (
            pulumi.Output.from_input(args.image_uri)
            if args.image_uri
            else pulumi.Output.all(record, training.training_image_uri).apply(
                lambda v: v[0].image if v[0] else v[1]
            )
        )
        capture_uri = lake.uri(Zone.ARTIFACTS, CAPTURE_PREFIX)

        # Its own role rather than the training role: serving reads models/ and writes capture/, and never reads
        # the curated training data.
        role = pol.role(
            f"{name}-role",
            physical=physical_name("aws:iam_role", project, stack, "sagemaker-endpoint"),
            service="sagemaker.amazonaws.com",
            ctx=ctx,
            tags=tags,
            parent=self,
            description="SageMaker endpoint: read models/, write capture/, pull the image, write logs",
        )
        lake.grant_read(role, zone=Zone.ARTIFACTS, prefix=MODELS_PREFIX, parent=self)
        lake.grant_write(role, zone=Zone.ARTIFACTS, prefix=CAPTURE_PREFIX, parent=self)
        pol.inline_policy(
            f"{name}-role-runtime",
            role,
            [
                *ecr_pull_statements(training.repository_arn),
                pol.logs_statement(ctx, "/aws/sagemaker/Endpoints/" + endpoint_name),
            ],
            parent=self,
        )

        isolated = args.mode is EndpointMode.INSTANCE
        model = sagemaker.Model(
            f"{name}-model",
            execution_role_arn=role.arn,
            primary_container={"image": image, "model_data_url": model_data, "mode": "SingleModel"},
            # Instances: the container cannot call out (no exfiltration path). Serverless Inference lists network
            # isolation among its feature exclusions, so it stays off there (the container has no VPC either way).
            enable_network_isolation=isolated,
            tags=tags,
            opts=child,
        )
        variant: sagemaker.EndpointConfigurationProductionVariantArgsDict = {
            "variant_name": VARIANT,
            "model_name": model.name,
        }
        if args.mode is EndpointMode.SERVERLESS:
            variant["serverless_config"] = {
                "memory_size_in_mb": args.serverless_memory_mb,
                "max_concurrency": args.serverless_max_concurrency,
            }
        else:
            variant["instance_type"] = args.instance_type or DEFAULT_INSTANCE_TYPE
            variant["initial_instance_count"] = args.min_instances
            variant["initial_variant_weight"] = 1
        # Serverless refuses capture (constraints.RULES); 0 is its default, and 0 turns capture off everywhere.
        capture: sagemaker.EndpointConfigurationDataCaptureConfigArgsDict | None = (
            {
                "enable_capture": True,
                "initial_sampling_percentage": args.data_capture_percent,
                "destination_s3_uri": capture_uri,
                "kms_key_id": lake.key_arn,  # captured requests are customer data: lake key
                "capture_options": [{"capture_mode": "Input"}, {"capture_mode": "Output"}],
                "capture_content_type_header": {"json_content_types": ["application/json"]},
            }
            if args.data_capture_percent
            else None
        )
        deployment: sagemaker.EndpointDeploymentConfigArgsDict = {
            "blue_green_update_policy": {
                "traffic_routing_configuration": {
                    "type": "CANARY",
                    "canary_size": {"type": "CAPACITY_PERCENT", "value": args.canary_percent},
                    "wait_interval_in_seconds": args.canary_wait_minutes * 60,
                },
                "termination_wait_in_seconds": TERMINATION_WAIT_SECONDS,
            },
        }
        constraints.check_sagemaker_endpoint(
            args.mode,
            variants=[variant],
            network_isolation=isolated,
            vpc_config=None,
            deployment_config=deployment,
        )
        config = sagemaker.EndpointConfiguration(
            f"{name}-config",
            production_variants=[variant],
            kms_key_arn=lake.key_arn,
            data_capture_config=capture,
            tags=tags,
            opts=child,
        )
        # The rollback alarms exist before the endpoint; the endpoint name they watch is deterministic.
        alarms = observability.watch_endpoint(endpoint_name, VARIANT)
        endpoint = sagemaker.Endpoint(
            f"{name}-endpoint",
            name=endpoint_name,
            endpoint_config_name=config.name,
            deployment_config={
                **deployment,
                "auto_rollback_configuration": {"alarms": [{"alarm_name": a.name} for a in alarms]},
            },
            tags=tags,
            opts=child,
        )
        target = policy = None
        if args.mode is EndpointMode.INSTANCE:
            target = appautoscaling.Target(
                f"{name}-scaling-target",
                service_namespace="sagemaker",
                resource_id=pulumi.Output.concat("endpoint/", endpoint.name, "/variant/", VARIANT),
                scalable_dimension="sagemaker:variant:DesiredInstanceCount",
                min_capacity=args.min_instances,
                max_capacity=args.max_instances,  # bounds spend
                tags=tags,
                opts=child,
            )
            policy = appautoscaling.Policy(
                f"{name}-scaling-policy",
                policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                resource_id=target.resource_id,
                scalable_dimension=target.scalable_dimension,
                target_tracking_scaling_policy_configuration={
                    "target_value": args.target_invocations_per_instance,
                    "predefined_metric_specification": {
                        "predefined_metric_type": "SageMakerVariantInvocationsPerInstance"
                    },
                    "scale_out_cooldown": 60,  # add capacity quickly
                    "scale_in_cooldown": 300,  # remove it slowly: avoids flapping
                },
                opts=child,
            )

        self.endpoint_arn: pulumi.Output[str] = endpoint.arn
        self.encryption_key_arn: pulumi.Output[str] = lake.key_arn
        self.role = role
        self.endpoint_name = endpoint.name
        self.model_data_uri = model_data
        self.capture_uri = capture_uri
        self.native = ModelEndpointNative(
            role=role,
            model=model,
            config=config,
            endpoint=endpoint,
            alarms=alarms,
            scaling_target=target,
            scaling_policy=policy,
        )
        self.register_outputs({k: getattr(self, k) for k in OUTPUTS})


def serving_record(
    project: str, stack: str, parent: pulumi.Resource
) -> pulumi.Output[serving.ServingModel | None]:
    """The rollout's serving record from SSM, or None before the first rollout (getParametersByPath answers [])."""
    found = ssm.get_parameters_by_path_output(
        path=serving.parameter_path(project, stack),
        recursive=False,
        with_decryption=False,  # a String parameter: versions, URIs and digests are not secrets
        opts=pulumi.InvokeOutputOptions(parent=parent),
    )
    # The provider marks `values` secret; the record holds no secret, and the Model inputs stay readable.
    return pulumi.Output.unsecret(
        pulumi.Output.all(found.names, found.values).apply(
            lambda v: serving.from_parameters(v[0] or [], v[1] or [], project, stack)
        )
    )

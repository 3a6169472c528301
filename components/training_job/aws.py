"""TrainingJob on AWS: the SageMaker execution role, the ECR repository of the training/serving image, locations, and
the SageMaker Model Registry group that `tricloud model register` records versions in.

The run itself (CreateTrainingJob) is `tricloud model train`'s; this component gives it an identity that may read
the curated zone, write the artifacts zone's models/ prefix, pull this repository's image and write its own logs,
and nothing else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_aws.ecr as ecr
import pulumi_aws.iam as iam
import pulumi_aws.sagemaker as sagemaker

from components import aws_policy as pol
from components.data_lake.aws import DataLake
from components.data_lake.spec import Zone
from components.naming import physical_name
from components.tags import component_tags
from components.training_job.spec import OUTPUTS, TrainingJobArgs
from components.training_job.spec import TrainingJob as Concept

DEFAULT_INSTANCE_TYPE = "ml.m5.large"  # a tree model on the demo data trains in minutes on 2 vCPU
MODELS_PREFIX = "models/"
IMAGE_TAG = "latest"  # the CD workflow pushes and deploys this tag
UNTAGGED_IMAGE_DAYS = 7
# What the account's principals may do in the registry; their own IAM policies decide who (no other account may).
REGISTRY_ACTIONS = (
    "sagemaker:DescribeModelPackageGroup",
    "sagemaker:DescribeModelPackage",
    "sagemaker:ListModelPackages",
    "sagemaker:CreateModelPackage",
    "sagemaker:UpdateModelPackage",
    "sagemaker:CreateModel",
)


def ecr_pull_statements(repository_arn: pulumi.Input[str]) -> list[pol.Statement]:
    return [
        # GetAuthorizationToken has no resource-level permissions: "*" is the only valid resource.
        pol.statement(["ecr:GetAuthorizationToken"], ["*"], sid="EcrLogin"),
        pol.statement(
            ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            [repository_arn],
            sid="PullOwnImage",
        ),
    ]


@dataclass(frozen=True)
class TrainingJobNative:
    role: iam.Role
    repository: ecr.Repository
    lifecycle: ecr.LifecyclePolicy
    registry: sagemaker.ModelPackageGroup
    registry_policy: sagemaker.ModelPackageGroupPolicy


class TrainingJob(pulumi.ComponentResource):
    OUTPUTS: ClassVar[tuple[str, ...]] = OUTPUTS  # the cloud-neutral outputs this class registers
    training_role: pulumi.Output[str]
    training_image_uri: pulumi.Output[str]
    training_instance_type: pulumi.Output[str]
    training_input_uri: pulumi.Output[str]
    training_output_uri: pulumi.Output[str]
    model_registry: pulumi.Output[str]
    native: TrainingJobNative

    def __init__(
        self, name: str, args: TrainingJobArgs, *, lake: DataLake, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tricloud:aws:TrainingJob", name, None, opts)
        args.validate()
        tags = component_tags("aws", Concept.name, args.tags)
        project, stack = pulumi.get_project(), pulumi.get_stack()
        ctx = pol.context(self)
        child = pulumi.ResourceOptions(parent=self)

        repository = ecr.Repository(
            f"{name}-images",
            name=physical_name("aws:generic", project, stack).lower(),
            image_scanning_configuration={"scan_on_push": True},  # known CVEs are reported before a deploy
            encryption_configurations=[{"encryption_type": "KMS", "kms_key": lake.key_arn}],
            # A pushed tag always names the same image (aws-ecr-immutable-tags): push a new tag per build.
            image_tag_mutability="IMMUTABLE",
            force_delete=False,  # a destroy must not silently delete images still referenced by endpoints
            tags=tags,
            opts=child,
        )
        lifecycle = ecr.LifecyclePolicy(
            f"{name}-images-lifecycle",
            repository=repository.name,
            # Untagged layers from rebuilt tags are storage cost only; tagged images stay for rollbacks.
            policy=json.dumps(
                {
                    "rules": [
                        {
                            "rulePriority": 1,
                            "description": f"expire untagged images after {UNTAGGED_IMAGE_DAYS} days",
                            "selection": {
                                "tagStatus": "untagged",
                                "countType": "sinceImagePushed",
                                "countUnit": "days",
                                "countNumber": UNTAGGED_IMAGE_DAYS,
                            },
                            "action": {"type": "expire"},
                        }
                    ]
                }
            ),
            opts=child,
        )
        role = pol.role(
            f"{name}-role",
            physical=physical_name("aws:iam_role", project, stack, "sagemaker-training"),
            service="sagemaker.amazonaws.com",
            ctx=ctx,
            tags=tags,
            parent=self,
            description="SageMaker training: read curated, write models/, pull the image, write logs",
        )
        lake.grant_read(role, zone=Zone.CURATED, parent=self)
        lake.grant_write(role, zone=Zone.ARTIFACTS, prefix=MODELS_PREFIX, parent=self)
        pol.inline_policy(
            f"{name}-role-runtime",
            role,
            [*ecr_pull_statements(repository.arn), pol.logs_statement(ctx, "/aws/sagemaker/TrainingJobs")],
            parent=self,
        )

        registry = sagemaker.ModelPackageGroup(
            f"{name}-registry",
            model_package_group_name=physical_name("aws:sagemaker", project, stack, "models"),
            model_package_group_description=f"{project}/{stack}: house-price model versions (tricloud model register)",
            tags=tags,
            opts=child,
        )
        root = pulumi.Output.concat("arn:", ctx.partition, ":iam::", ctx.account_id, ":root")
        registry_policy = sagemaker.ModelPackageGroupPolicy(
            f"{name}-registry-policy",
            model_package_group_name=registry.model_package_group_name,
            resource_policy=pol.document(
                [
                    {
                        "Sid": "ThisAccountOnly",
                        "Effect": "Allow",
                        "Principal": {"AWS": root},
                        "Action": sorted(REGISTRY_ACTIONS),
                        "Resource": [
                            registry.arn,
                            pol.arn(
                                ctx, "sagemaker", "model-package/", registry.model_package_group_name, "/*"
                            ),
                        ],
                    }
                ]
            ),
            opts=child,
        )

        self.role = role
        self.repository_arn: pulumi.Output[str] = repository.arn
        self.training_role = role.arn
        self.training_image_uri = (
            pulumi.Output.from_input(args.image_uri)
            if args.image_uri
            else pulumi.Output.concat(repository.repository_url, ":", IMAGE_TAG)
        )
        self.training_instance_type = pulumi.Output.from_input(args.instance_type or DEFAULT_INSTANCE_TYPE)
        self.training_input_uri = lake.uri(Zone.CURATED)
        self.training_output_uri = lake.uri(Zone.ARTIFACTS, MODELS_PREFIX)
        self.model_registry = registry.model_package_group_name
        self.native = TrainingJobNative(
            role=role,
            repository=repository,
            lifecycle=lifecycle,
            registry=registry,
            registry_policy=registry_policy,
        )
        self.register_outputs({k: getattr(self, k) for k in OUTPUTS})

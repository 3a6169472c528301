"""CiIdentity on AWS: GitHub's OIDC provider and a deploy role that only this repository's protected jobs can assume.

The role does what the deploy workflow does and no more: run a training job with the SageMaker role, upload to the
artifacts zone's models/ prefix, create models and endpoint configurations named `<project>-<stack>-*`, update this
stack's endpoint and pass the two SageMaker roles to SageMaker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_aws.iam as iam

from components import aws_policy as pol
from components.ci_identity.spec import GITHUB_ISSUER, OUTPUTS, CiIdentityArgs
from components.ci_identity.spec import CiIdentity as Concept
from components.data_lake.aws import DataLake
from components.data_lake.spec import Zone
from components.model_endpoint.aws import ModelEndpoint
from components.naming import physical_name
from components.tags import component_tags
from components.training_job.aws import MODELS_PREFIX, TrainingJob

AUDIENCE = "sts.amazonaws.com"


@dataclass(frozen=True)
class CiIdentityNative:
    provider: iam.OpenIdConnectProvider | None  # None when an existing provider was passed
    role: iam.Role
    policy: iam.RolePolicy


class CiIdentity(pulumi.ComponentResource):
    OUTPUTS: ClassVar[tuple[str, ...]] = OUTPUTS  # the cloud-neutral outputs this class registers
    ci_role: pulumi.Output[str]
    ci_identity_provider: pulumi.Output[str]
    native: CiIdentityNative

    def __init__(
        self,
        name: str,
        args: CiIdentityArgs,
        *,
        lake: DataLake,
        endpoint: ModelEndpoint,
        training: TrainingJob,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("tricloud:aws:CiIdentity", name, None, opts)
        args.validate()
        tags = component_tags("aws", Concept.name, args.tags)
        project, stack = pulumi.get_project(), pulumi.get_stack()
        ctx = pol.context(self)
        child = pulumi.ResourceOptions(parent=self)
        host = GITHUB_ISSUER.removeprefix("https://")

        # An account holds one GitHub OIDC provider: a second stack in the same account (or an account that
        # already federates GitHub) sets tricloud:ci.aws.existing_provider_arn instead of creating another.
        existing_provider_arn = args.aws.existing_provider_arn
        provider = None
        if existing_provider_arn is None:
            provider = iam.OpenIdConnectProvider(
                f"{name}-github-oidc",
                url=GITHUB_ISSUER,
                client_id_lists=[AUDIENCE],
                tags=tags,
                opts=child,
            )
        provider_arn: pulumi.Output[str] = (
            provider.arn if provider else pulumi.Output.from_input(existing_provider_arn or "")
        )
        trust = pol.document(
            [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        # Both claims pinned: the audience stops tokens minted for other clouds, the subject stops
                        # every other repository, branch and environment on GitHub.
                        "StringEquals": {f"{host}:aud": AUDIENCE, f"{host}:sub": args.subjects()},
                    },
                }
            ]
        )
        role = iam.Role(
            f"{name}-deploy-role",
            name=physical_name("aws:iam_role", project, stack, "github-deploy"),
            description=f"GitHub Actions deploys of {args.github_repository}",
            assume_role_policy=trust,
            max_session_duration=3600,  # a deploy fits in an hour; a leaked token expires with it
            tags=tags,
            opts=child,
        )
        prefix = physical_name("aws:sagemaker", project, stack)

        def sm_arn(kind: str, suffix: str) -> pulumi.Output[str]:
            return pol.arn(ctx, "sagemaker", kind, "/", suffix)

        statements = [
            pol.statement(
                [
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:AddTags",
                ],
                [sm_arn("training-job", f"{prefix.lower()}-*")],
                sid="TrainThisStack",
            ),
            pol.statement(
                [
                    "sagemaker:CreateModel",
                    "sagemaker:DescribeModel",
                    "sagemaker:CreateEndpointConfig",
                    "sagemaker:DescribeEndpointConfig",
                    "sagemaker:AddTags",
                ],
                [sm_arn("model", f"{prefix.lower()}-*"), sm_arn("endpoint-config", f"{prefix.lower()}-*")],
                sid="ModelsAndConfigsOfThisStack",
            ),
            pol.statement(
                ["sagemaker:UpdateEndpoint", "sagemaker:DescribeEndpoint"],
                [endpoint.endpoint_arn],
                sid="RollOutThisEndpoint",
            ),
            pol.statement(
                ["iam:PassRole"],
                [training.training_role, endpoint.role.arn],
                sid="PassSageMakerRoles",
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
            # The deploy workflow builds app/Dockerfile and pushes it to this stack's repository only.
            pol.statement(["ecr:GetAuthorizationToken"], ["*"], sid="EcrLogin"),
            pol.statement(
                [
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:InitiateLayerUpload",
                    "ecr:UploadLayerPart",
                    "ecr:CompleteLayerUpload",
                    "ecr:PutImage",
                    "ecr:BatchGetImage",
                ],
                [training.repository_arn],
                sid="PushTrainingImage",
            ),
            *lake.write_statements(Zone.ARTIFACTS, MODELS_PREFIX),
            *[
                s
                for s in lake.read_statements(Zone.ARTIFACTS, MODELS_PREFIX)
                if s.get("Sid", "").startswith(("List", "Read"))
            ],
        ]
        policy = pol.inline_policy(f"{name}-deploy-policy", role, statements, parent=self)

        self.ci_role = role.arn
        self.ci_identity_provider = provider_arn
        self.native = CiIdentityNative(provider=provider, role=role, policy=policy)
        self.register_outputs({k: getattr(self, k) for k in OUTPUTS})

"""CiIdentity on AWS: GitHub's OIDC provider and three roles split by duty, each trusting exactly one kind of job.

- `<prefix>-ci-preview`: read-only (aws_permissions with write=False), pull-request jobs of preview.yml;
- `<prefix>-ci-infrastructure`: what `pulumi up` of this stack does (aws_permissions), the deploy job's environment;
- `<prefix>-ci-rollout`: train, register, approve, roll out, smoke-test and roll back the model, its environment.

Trust conditions (STS evaluates GitHub's `sub`, `aud` and, since January 2026, `ref`, `job_workflow_ref` and
`repository_id`): the subject pins repository + environment (or pull_request), `ref` and `job_workflow_ref` pin the
branch and the workflow file in the trust itself, and `repository_id` (when configured) survives renames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi
import pulumi_aws.iam as iam

from components import aws_policy as pol
from components.api_frontend.aws import ApiFrontend
from components.ci_identity import aws_permissions as perms
from components.ci_identity.spec import GITHUB_ISSUER, OUTPUTS, CiIdentityArgs, Duty, Trust
from components.ci_identity.spec import CiIdentity as Concept
from components.data_lake.aws import DataLake
from components.data_lake.spec import Zone
from components.model_endpoint.aws import ModelEndpoint
from components.naming import physical_name
from components.tags import component_tags
from components.training_job.aws import MODELS_PREFIX, TrainingJob

AUDIENCE = "sts.amazonaws.com"
CURATED_LISTINGS = "listings/"  # the Spark feature job's runs (tricloud.model reads the same layout)
HOLDOUT_PREFIX = (
    "holdout/"  # the held-out listings of the approval gate (tricloud:delivery.holdout_uri default)
)
HOST = GITHUB_ISSUER.removeprefix("https://")
MANAGED_POLICY_STATEMENTS = 12  # keeps each document under IAM's 6,144-character limit (tested)
PREVIEW_SESSION_SECONDS = 3600  # a preview takes minutes; a leaked credential expires within the hour


def trust_conditions(trust: Trust) -> dict[str, dict[str, Any]]:
    """The Condition block of a role trusting `trust`: every key must match (AND); values in a list are OR."""
    equals: dict[str, Any] = {f"{HOST}:aud": AUDIENCE, f"{HOST}:sub": list(trust.subjects)}
    if trust.repository_id is not None:
        equals[f"{HOST}:repository_id"] = trust.repository_id
    return {
        "StringEquals": equals,
        # StringLike: `*` in a ref pattern (refs/pull/*/merge, refs/tags/v*) matches any run of characters.
        "StringLike": {
            f"{HOST}:ref": list(trust.refs),
            f"{HOST}:job_workflow_ref": list(trust.workflow_refs),
        },
    }


@dataclass(frozen=True)
class CiIdentityNative:
    provider: iam.OpenIdConnectProvider | None  # None when an existing provider was passed
    roles: dict[Duty, iam.Role]
    policies: dict[Duty, iam.RolePolicy]
    managed: dict[
        Duty, list[iam.Policy]
    ]  # the infrastructure role's policies (too large for one inline document)


class CiIdentity(pulumi.ComponentResource):
    OUTPUTS: ClassVar[tuple[str, ...]] = OUTPUTS  # the cloud-neutral outputs this class registers
    ci_preview_identity: pulumi.Output[str]
    ci_infrastructure_identity: pulumi.Output[str]
    ci_rollout_identity: pulumi.Output[str]
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
        api: ApiFrontend,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("tricloud:aws:CiIdentity", name, None, opts)
        args.validate()
        tags = component_tags("aws", Concept.name, args.tags)
        project, stack = pulumi.get_project(), pulumi.get_stack()
        ctx = pol.context(self)
        child = pulumi.ResourceOptions(parent=self)
        scope = perms.Scope(
            ctx=ctx, project=project, stack=stack, prefix=physical_name("aws:generic", project, stack)
        )

        # An account holds one GitHub OIDC provider: a second stack in the same account (or an account that
        # already federates GitHub) sets tricloud:ci.aws.existing_provider_arn instead of creating another.
        provider = None
        if args.aws.existing_provider_arn is None:
            provider = iam.OpenIdConnectProvider(
                f"{name}-github-oidc", url=GITHUB_ISSUER, client_id_lists=[AUDIENCE], tags=tags, opts=child
            )
        provider_arn: pulumi.Output[str] = (
            provider.arn if provider else pulumi.Output.from_input(args.aws.existing_provider_arn or "")
        )

        statements: dict[Duty, list[pol.Statement]] = {
            Duty.PREVIEW: perms.statements(scope, write=False),
            Duty.INFRASTRUCTURE: [*perms.statements(scope, write=True), perms.protect_ci(scope)],
            Duty.ROLLOUT: self._rollout_statements(ctx, scope, lake, endpoint, training, api),
        }
        roles: dict[Duty, iam.Role] = {}
        policies: dict[Duty, iam.RolePolicy] = {}
        managed: dict[Duty, list[iam.Policy]] = {}
        for trust in args.trusts():
            duty = trust.duty
            roles[duty] = iam.Role(
                f"{name}-{duty.value}-role",
                name=physical_name("aws:iam_role", project, stack, f"ci-{duty.value}"),
                description=f"GitHub Actions {duty.value} of {args.github_repository} ({stack})",
                assume_role_policy=pol.document(
                    [
                        {
                            "Effect": "Allow",
                            "Principal": {"Federated": provider_arn},
                            "Action": "sts:AssumeRoleWithWebIdentity",
                            "Condition": trust_conditions(trust),
                        }
                    ]
                ),
                # Deploy jobs train and bake a canary in one sign-in; previews take minutes.
                max_session_duration=PREVIEW_SESSION_SECONDS
                if duty is Duty.PREVIEW
                else args.session_minutes * 60,
                tags=tags,
                opts=child,
            )
            if duty is Duty.INFRASTRUCTURE:
                managed[duty] = self._managed(name, roles[duty], statements[duty], project, stack, tags)
            else:
                policies[duty] = pol.inline_policy(
                    f"{name}-{duty.value}-policy", roles[duty], statements[duty], parent=self
                )

        self.ci_preview_identity = (
            roles[Duty.PREVIEW].arn if Duty.PREVIEW in roles else pulumi.Output.from_input("")
        )
        self.ci_infrastructure_identity = roles[Duty.INFRASTRUCTURE].arn
        self.ci_rollout_identity = roles[Duty.ROLLOUT].arn
        self.ci_identity_provider = provider_arn
        self.native = CiIdentityNative(provider=provider, roles=roles, policies=policies, managed=managed)
        self.register_outputs({k: getattr(self, k) for k in OUTPUTS})

    def _managed(
        self,
        name: str,
        role: iam.Role,
        statements: list[pol.Statement],
        project: str,
        stack: str,
        tags: dict[str, str],
    ) -> list[iam.Policy]:
        """Managed policies of at most MANAGED_POLICY_STATEMENTS statements each: a role's inline policies share
        10,240 characters, a managed policy holds 6,144, and the infrastructure grants need more than one."""
        out: list[iam.Policy] = []
        for i in range(0, len(statements), MANAGED_POLICY_STATEMENTS):
            part = i // MANAGED_POLICY_STATEMENTS + 1
            policy = iam.Policy(
                f"{name}-infrastructure-policy-{part}",
                name=physical_name("aws:iam_role", project, stack, f"ci-infrastructure-{part}"),
                description=f"pulumi up of {project}/{stack} from GitHub Actions, part {part}",
                policy=pol.document(statements[i : i + MANAGED_POLICY_STATEMENTS]),
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            iam.RolePolicyAttachment(
                f"{name}-infrastructure-policy-{part}-attachment",
                role=role.name,
                policy_arn=policy.arn,
                opts=pulumi.ResourceOptions(parent=self),
            )
            out.append(policy)
        return out

    @staticmethod
    def _rollout_statements(
        ctx: pol.AwsContext,
        scope: perms.Scope,
        lake: DataLake,
        endpoint: ModelEndpoint,
        training: TrainingJob,
        api: ApiFrontend,
    ) -> list[pol.Statement]:
        """`tricloud model train -> register -> approve -> rollout -> smoke` (and rollback, status), nothing else."""
        prefix = scope.prefix.lower()  # SageMaker job and model names the commands create
        return [
            pol.statement(
                [
                    "sagemaker:AddTags",
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:ListTags",  # register reads the job's git commit tag
                    "sagemaker:StopTrainingJob",
                ],
                [scope.arn("sagemaker", f"training-job/{prefix}-*")],
                sid="TrainThisStack",
            ),
            pol.statement(
                [
                    "sagemaker:CreateModelPackage",
                    "sagemaker:DescribeModelPackage",
                    "sagemaker:DescribeModelPackageGroup",
                    "sagemaker:UpdateModelPackage",
                ],
                [
                    scope.arn("sagemaker", f"model-package-group/{prefix}-*"),
                    scope.arn("sagemaker", f"model-package/{prefix}-*/*"),
                ],
                sid="RegisterAndApprove",
            ),
            # ListModelPackages has no resource-level permissions (Service Authorization Reference): scoped to the
            # group it is denied on AWS. It lists version metadata only; every read or change stays scoped above.
            pol.statement(["sagemaker:ListModelPackages"], ["*"], sid="ListRegistryVersions"),
            # The serving version is a model + endpoint config per rollout: generated names, this stack's tags.
            pol.statement(
                ["sagemaker:AddTags", "sagemaker:CreateEndpointConfig", "sagemaker:CreateModel"],
                [scope.arn("sagemaker", "model/*"), scope.arn("sagemaker", "endpoint-config/*")],
                sid="CreateServingVersion",
                conditions=scope.tag_condition("RequestTag"),
            ),
            # The rollout's `pulumi up --target` replaces the model and its endpoint config: it reads them back and
            # deletes the replaced ones once the endpoint serves the new pair.
            pol.statement(
                [
                    "sagemaker:DeleteEndpointConfig",
                    "sagemaker:DeleteModel",
                    "sagemaker:DescribeEndpointConfig",
                    "sagemaker:DescribeModel",
                ],
                [scope.arn("sagemaker", "model/*"), scope.arn("sagemaker", "endpoint-config/*")],
                sid="ReplaceServingVersion",
                conditions=scope.tag_condition("ResourceTag"),
            ),
            pol.statement(
                ["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint", "sagemaker:UpdateEndpoint"],
                [endpoint.endpoint_arn],
                sid="RollOutThisEndpoint",
            ),
            # UpdateEndpoint also authorises on the endpoint configuration it switches to (Service Authorization
            # Reference: endpoint and endpoint-config are both required): the new one carries the stack's tags.
            pol.statement(
                ["sagemaker:UpdateEndpoint"],
                [scope.arn("sagemaker", "endpoint-config/*")],
                sid="SwitchToServingVersion",
                conditions=scope.tag_condition("ResourceTag"),
            ),
            pol.statement(
                # Delete: a rollout over the bootstrap model has no previous version to record. By path: the stack
                # program reads the records so when the rollout's `pulumi up` runs it.
                [
                    "ssm:DeleteParameter",
                    "ssm:GetParameter",
                    "ssm:GetParametersByPath",
                    "ssm:PutParameter",
                ],
                [scope.arn("ssm", f"parameter/{scope.project}/{scope.stack}/*")],
                sid="ServingModelVersion",
            ),
            pol.statement(
                ["cloudwatch:DescribeAlarms"],
                [scope.arn("cloudwatch", f"alarm:{scope.prefix}-*")],
                sid="JudgeTheCanary",
            ),
            # The smoke test calls the public API as a client does (SigV4, IAM auth on POST /predict).
            pol.statement(
                ["execute-api:Invoke"],
                [pulumi.Output.concat(api.native.api.execution_arn, "/*/POST/predict")],
                sid="SmokeTestTheApi",
            ),
            pol.statement(
                ["iam:PassRole"],
                [training.training_role, endpoint.role.arn],
                sid="PassSageMakerRoles",
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
            # The rollout job builds app/Dockerfile and pushes it to this stack's repository only.
            pol.statement(["ecr:GetAuthorizationToken"], ["*"], sid="EcrLogin"),
            pol.statement(
                [
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:BatchGetImage",
                    "ecr:CompleteLayerUpload",
                    "ecr:DescribeImages",
                    "ecr:InitiateLayerUpload",
                    "ecr:PutImage",
                    "ecr:UploadLayerPart",
                ],
                [training.repository_arn],
                sid="PushTrainingImage",
            ),
            # train finds the newest feature run (its `_SUCCESS` marker) by listing; SageMaker reads the data as the
            # training role. approve and the canary's traffic read the held-out listings.
            pol.statement(
                ["s3:ListBucket"],
                [lake.bucket(Zone.CURATED).arn],
                sid="FindTrainingDataAndHoldout",
                conditions={"StringLike": {"s3:prefix": [f"{CURATED_LISTINGS}*", f"{HOLDOUT_PREFIX}*"]}},
            ),
            pol.statement(
                ["s3:GetObject"], [lake.object_arn(Zone.CURATED, HOLDOUT_PREFIX)], sid="ReadHoldout"
            ),
            *lake.write_statements(Zone.ARTIFACTS, MODELS_PREFIX),
            # Objects only: no command lists the artifacts zone (its KMS use is UseLakeKey's, above).
            *[
                s
                for s in lake.read_statements(Zone.ARTIFACTS, MODELS_PREFIX)
                if s.get("Sid") == "ReadArtifacts"
            ],
        ]

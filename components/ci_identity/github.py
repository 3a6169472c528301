"""The GitHub side of the CI identities, as code (pulumi-github): nothing the pipeline's security depends on is clicked.

- the repository's OIDC subject template pinned to GitHub's default (`repo:...:environment:NAME` /
  `...:pull_request`), the form every cloud trust matches; a customised template would silently break or widen them;
- per stage two environments, `<stage>` (pulumi up) and `<stage>-model` (rollout), each deployable from the deploy
  branch only (custom branch policy): on Azure, whose trust cannot see the ref, this policy is the branch pin;
- required reviewers on the gated stages (prod), who may not approve their own run, with no admin bypass;
- the variables the workflows read, set from the cloud stacks' outputs: preview identities at repository level,
  infrastructure identities in `<stage>`, rollout identities in `<stage>-model` (a job sees only its own).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import pulumi
import pulumi_github as github

from components.errors import matches, require
from components.spec_base import Args

ENV_VAR_PREFIX = {"aws": "AWS", "azure": "AZURE", "gcp": "GCP"}
# What the workflows call each identity (vars.<NAME>): role ARN, client id, service account email.
IDENTITY_VAR = {"aws": "{duty}_ROLE_ARN", "azure": "{duty}_CLIENT_ID", "gcp": "{duty}_SERVICE_ACCOUNT"}


@dataclass(frozen=True, kw_only=True)
class GithubSettingsArgs(Args):
    repository: str = "tricloud"  # repository name; the owner is the provider's github:owner
    deploy_branch: str = "main"  # the only branch whose runs may enter a deploy environment
    stages: tuple[str, ...] = ("dev", "prod")  # deploy.yml's stages, in promotion order
    gated_stages: tuple[str, ...] = ("prod",)  # a person approves these before the infrastructure job runs
    reviewer_user_ids: tuple[int, ...] = ()  # numeric GitHub user ids allowed to approve gated stages
    reviewer_team_ids: tuple[int, ...] = ()  # numeric GitHub team ids allowed to approve gated stages
    pulumi_org: str = "tricloud"  # Pulumi Cloud organization of the stacks
    pulumi_read_team: str = "tricloud-read"  # team with stack read (previews, stack outputs)
    pulumi_deploy_team: str = "tricloud-deploy"  # team with stack write (pulumi up)

    def validate(self) -> None:
        matches("repository", self.repository, r"[A-Za-z0-9_.-]+", "a repository name (no owner)")
        matches("deploy_branch", self.deploy_branch, r"[A-Za-z0-9_./-]+", "a branch name such as main")
        require(len(self.stages) > 0, "stages", self.stages, "needs at least one stage")
        for stage in self.gated_stages:
            require(stage in self.stages, "gated_stages", stage, f"must be one of the stages {self.stages}")
        require(
            not self.gated_stages or bool(self.reviewer_user_ids or self.reviewer_team_ids),
            "reviewer_user_ids",
            self.reviewer_user_ids,
            "a gated stage needs at least one reviewer (user or team id)",
        )


@dataclass(frozen=True)
class CloudIdentities:
    """One cloud stack's CI outputs (ci_*_identity, ci_identity_provider, region) plus its account settings."""

    preview: pulumi.Input[str]
    infrastructure: pulumi.Input[str]
    rollout: pulumi.Input[str]
    provider: pulumi.Input[str]
    settings: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)  # AWS_REGION, AZURE_TENANT_ID


class GithubDeploySettings(pulumi.ComponentResource):
    ENVIRONMENT_SUFFIX: ClassVar[str] = "-model"

    def __init__(
        self,
        name: str,
        args: GithubSettingsArgs,
        *,
        identities: Mapping[tuple[str, str], CloudIdentities],  # (cloud, stage) -> that stack's outputs
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("tricloud:github:DeploySettings", name, None, opts)
        args.validate()
        child = pulumi.ResourceOptions(parent=self)
        repo = args.repository
        self.variables: dict[
            tuple[str | None, str], github.ActionsVariable | github.ActionsEnvironmentVariable
        ] = {}

        github.ActionsRepositoryOidcSubjectClaimCustomizationTemplate(
            f"{name}-oidc-subject", repository=repo, use_default=True, opts=child
        )
        self.environments: dict[str, github.RepositoryEnvironment] = {}
        for stage in args.stages:
            for env in (stage, stage + self.ENVIRONMENT_SUFFIX):
                gated = env in args.gated_stages
                environment = github.RepositoryEnvironment(
                    f"{name}-{env}",
                    repository=repo,
                    environment=env,
                    reviewers=[
                        github.RepositoryEnvironmentReviewerArgs(
                            users=list(args.reviewer_user_ids), teams=list(args.reviewer_team_ids)
                        )
                    ]
                    if gated
                    else None,
                    prevent_self_review=gated,  # the pusher cannot approve their own deploy
                    can_admins_bypass=False,
                    deployment_branch_policy=github.RepositoryEnvironmentDeploymentBranchPolicyArgs(
                        protected_branches=False, custom_branch_policies=True
                    ),
                    opts=child,
                )
                github.RepositoryEnvironmentDeploymentPolicy(
                    f"{name}-{env}-branch",
                    repository=repo,
                    environment=environment.environment,
                    branch_pattern=args.deploy_branch,
                    opts=child,
                )
                self.environments[env] = environment

        self._variable(name, repo, None, "PULUMI_ORG", args.pulumi_org)
        self._variable(name, repo, None, "PULUMI_READ_TEAM", args.pulumi_read_team)
        first = args.stages[0]  # pull requests preview the first stage
        for (cloud, stage), ids in sorted(identities.items()):
            prefix = ENV_VAR_PREFIX[cloud]
            pattern = IDENTITY_VAR[cloud]
            provider = {"GCP_WORKLOAD_IDENTITY_PROVIDER": ids.provider} if cloud == "gcp" else {}
            scoped = {**ids.settings, **provider}
            if stage == first:
                for key, value in scoped.items():
                    self._variable(name, repo, None, key, value)
                self._variable(name, repo, None, f"{prefix}_{pattern.format(duty='PREVIEW')}", ids.preview)
            infra, model = self.environments[stage], self.environments[stage + self.ENVIRONMENT_SUFFIX]
            for env in (infra, model):
                # Stack Write for both jobs: the AWS rollout is a targeted `pulumi up` of the endpoint (it writes state)
                self._variable(name, repo, env, "PULUMI_DEPLOY_TEAM", args.pulumi_deploy_team)
                for key, value in scoped.items():
                    self._variable(name, repo, env, key, value)
            self._variable(
                name, repo, infra, f"{prefix}_{pattern.format(duty='INFRASTRUCTURE')}", ids.infrastructure
            )
            self._variable(name, repo, model, f"{prefix}_{pattern.format(duty='ROLLOUT')}", ids.rollout)
        self.register_outputs({"environments": sorted(self.environments)})

    def _variable(
        self,
        name: str,
        repo: str,
        env: github.RepositoryEnvironment | None,
        key: str,
        value: pulumi.Input[str],
    ) -> None:
        scope = None if env is None else env.pulumi_resource_name
        if (scope, key) in self.variables:
            return  # a setting shared by several clouds' stages is set once
        child = pulumi.ResourceOptions(parent=self)
        if env is None:
            var: github.ActionsVariable | github.ActionsEnvironmentVariable = github.ActionsVariable(
                f"{name}-var-{key.lower()}", repository=repo, variable_name=key, value=value, opts=child
            )
        else:
            var = github.ActionsEnvironmentVariable(
                f"{scope}-var-{key.lower()}",
                repository=repo,
                environment=env.environment,
                variable_name=key,
                value=value,
                opts=child,
            )
        self.variables[(scope, key)] = var

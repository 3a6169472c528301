"""The GitHub side as code (components/ci_identity/github.py) under Pulumi mocks: environments deployable from main
only, reviewers on prod, the default OIDC subject template, and every variable each workflow job reads set where
that job can see it (repository level, or the environment the job runs in)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from aws_support import settled

from components.ci_identity.github import CloudIdentities, GithubDeploySettings, GithubSettingsArgs
from components.errors import InvalidArgs
from tricloud.mocks import RecordingMocks, install

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


class GithubMocks(RecordingMocks):
    def create(self, args: Any) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", {}


@pytest.fixture
def gh() -> GithubMocks:
    rec = install(GithubMocks("aws", "ap-south-1"), project="tricloud-github", stack="main")
    assert isinstance(rec, GithubMocks)
    return rec


def identities() -> dict[tuple[str, str], CloudIdentities]:
    out = {}
    for stage in ("dev", "prod"):
        out[("aws", stage)] = CloudIdentities(
            preview=f"arn:aws:iam::1:role/p-{stage}", infrastructure=f"arn:aws:iam::1:role/i-{stage}",
            rollout=f"arn:aws:iam::1:role/r-{stage}", provider="arn:oidc", settings={"AWS_REGION": "ap-south-1"},
        )  # fmt: skip
        out[("azure", stage)] = CloudIdentities(
            preview=f"az-p-{stage}", infrastructure=f"az-i-{stage}", rollout=f"az-r-{stage}", provider="issuer",
            settings={"AZURE_TENANT_ID": "t", "AZURE_SUBSCRIPTION_ID": f"s-{stage}"},
        )  # fmt: skip
        out[("gcp", stage)] = CloudIdentities(
            preview=f"p-{stage}@x", infrastructure=f"i-{stage}@x", rollout=f"r-{stage}@x",
            provider=f"projects/1/locations/global/workloadIdentityPools/{stage}/providers/github",
        )  # fmt: skip
    return out


def workflow_vars() -> dict[tuple[str, str], set[str]]:
    """(workflow file, job id) -> the `vars.NAME` its steps, env and with: read."""
    out: dict[tuple[str, str], set[str]] = {}
    for path in WORKFLOWS.glob("*.yml"):
        for job_id, job in yaml.safe_load(path.read_text())["jobs"].items():
            names = set(re.findall(r"vars\.([A-Z0-9_]+)", yaml.safe_dump(job)))
            if names:
                out[(path.name, job_id)] = names
    return out


def by_scope(mocks: GithubMocks) -> dict[str | None, dict[str, str]]:
    scopes: dict[str | None, dict[str, str]] = {}
    for r in mocks.of_type("github:index/actionsVariable:ActionsVariable"):
        scopes.setdefault(None, {})[r.inputs["variableName"]] = r.inputs["value"]
    for r in mocks.of_type("github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable"):
        scopes.setdefault(r.inputs["environment"], {})[r.inputs["variableName"]] = r.inputs["value"]
    return scopes


@pulumi.runtime.test
def test_environments_branch_policies_reviewers_and_subject_template(gh: GithubMocks):
    GithubDeploySettings("github", GithubSettingsArgs(reviewer_team_ids=(42,)), identities=identities())

    def check() -> None:
        envs = {
            r.inputs["environment"]: r.inputs
            for r in gh.of_type("github:index/repositoryEnvironment:RepositoryEnvironment")
        }
        assert set(envs) == {"dev", "dev-model", "prod", "prod-model"}
        for name, env in envs.items():
            assert env["deploymentBranchPolicy"] == {
                "protectedBranches": False,
                "customBranchPolicies": True,
            }, name
            assert env["canAdminsBypass"] is False
        assert (
            envs["prod"]["reviewers"] == [{"teams": [42], "users": []}] and envs["prod"]["preventSelfReview"]
        )
        assert "reviewers" not in envs["dev"]
        policies = gh.of_type(
            "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy"
        )
        assert sorted((p.inputs["environment"], p.inputs["branchPattern"]) for p in policies) == [
            ("dev", "main"), ("dev-model", "main"), ("prod", "main"), ("prod-model", "main"),
        ]  # fmt: skip
        (template,) = gh.of_type(
            "github:index/actionsRepositoryOidcSubjectClaimCustomizationTemplate:ActionsRepositoryOidcSubjectClaimCustomizationTemplate"
        )
        assert template.inputs["useDefault"] is True  # the sub form every cloud trust matches

    return settled(check)


@pulumi.runtime.test
def test_every_variable_a_job_reads_is_set_where_the_job_sees_it(gh: GithubMocks):
    GithubDeploySettings("github", GithubSettingsArgs(reviewer_user_ids=(7,)), identities=identities())
    jobs = workflow_vars()
    environments = {
        ("preview.yml", "preview"): [None],
        ("deploy-stack.yml", "infrastructure"): ["dev", "prod"],
        ("deploy-stack.yml", "model"): ["dev-model", "prod-model"],
    }

    def check() -> None:
        scopes = by_scope(gh)
        assert set(jobs) == set(environments)  # every job that reads a variable is listed above
        for job, names in jobs.items():
            for env in environments[job]:
                visible = {**scopes[None], **scopes.get(env, {})}
                assert names - set(visible) == set(), (job, env)
        # Each deploy environment holds its own duty's identity and no other duty's.
        assert scopes["prod"]["AWS_INFRASTRUCTURE_ROLE_ARN"] == "arn:aws:iam::1:role/i-prod"
        assert (
            "AWS_ROLLOUT_ROLE_ARN" not in scopes["prod"]
            and "AWS_INFRASTRUCTURE_ROLE_ARN" not in scopes["prod-model"]
        )
        assert scopes["dev-model"]["GCP_ROLLOUT_SERVICE_ACCOUNT"] == "r-dev@x"
        assert (
            scopes[None]["AWS_PREVIEW_ROLE_ARN"] == "arn:aws:iam::1:role/p-dev"
        )  # pull requests preview dev
        assert (
            "PULUMI_DEPLOY_TEAM" not in scopes[None]
            and scopes["dev"]["PULUMI_DEPLOY_TEAM"] == "tricloud-deploy"
            # the AWS rollout's targeted `pulumi up` writes the stack: the model job needs Stack Write too
            and scopes["prod-model"]["PULUMI_DEPLOY_TEAM"] == "tricloud-deploy"
        )
        assert scopes["prod"]["AZURE_SUBSCRIPTION_ID"] == "s-prod"

    return settled(check)


def test_a_gated_stage_needs_a_reviewer() -> None:
    with pytest.raises(InvalidArgs, match="reviewer_user_ids"):
        GithubSettingsArgs()
    with pytest.raises(InvalidArgs, match="gated_stages = 'staging'"):
        GithubSettingsArgs(gated_stages=("staging",), reviewer_user_ids=(1,))

"""CiIdentity on GCP: a Workload Identity pool + GitHub OIDC provider and a deploy service account.

The deploy account does what the deploy workflow does and no more: run a Vertex training job as the training
account, upload the model, (un)deploy it on the platform's endpoint, write the lake's models/ prefix.
GitHub Actions exchanges its OIDC token for short-lived credentials of the deploy account
(google-github-actions/auth with workload_identity_provider = ci_identity_provider, service_account = ci_role);
no key is ever created. The provider's attribute condition pins the repository, the subject (environment or ref)
and the ref, so a fork or another branch cannot mint credentials.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_gcp.iam as iam
import pulumi_gcp.projects as projects
import pulumi_gcp.serviceaccount as serviceaccount
import pulumi_gcp.vertex as vertex

from components.ci_identity.spec import GITHUB_ISSUER, OUTPUTS, CiIdentityArgs
from components.ci_identity.spec import CiIdentity as Concept
from components.data_lake.gcp import (
    MODELS_PREFIX,
    DataLake,
    base_name,
    enable_services,
    project_grant,
    service_account,
)
from components.data_lake.spec import Zone
from components.model_endpoint.gcp import ModelEndpoint
from components.naming import physical_name
from components.training_job.gcp import TrainingJob

CLOUD = "gcp"
# (Un)deploy models and change the traffic split: bound on the platform's endpoint only.
ENDPOINT_PERMISSIONS = (
    "aiplatform.endpoints.get",
    "aiplatform.endpoints.deploy",
    "aiplatform.endpoints.undeploy",
    "aiplatform.endpoints.update",
)
# Run the training job and upload its model: both target the location, not an endpoint, so this role is bound on
# the project; it holds nothing else (jobs run as the training account, which CI may only act as).
MODEL_PERMISSIONS = (
    "aiplatform.customJobs.create",
    "aiplatform.customJobs.get",
    "aiplatform.customJobs.cancel",
    "aiplatform.models.upload",
    "aiplatform.models.get",
    "aiplatform.models.list",
)


def _cel(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid CEL string literal


def _any_of(attribute: str, patterns: tuple[str, ...] | list[str]) -> str:
    """CEL: the claim equals one of the patterns; a trailing * (GitHub ref globs) becomes a prefix match."""
    tests = [
        f"{attribute}.startsWith({_cel(p[:-1])})" if p.endswith("*") else f"{attribute} == {_cel(p)}"
        for p in patterns
    ]
    return tests[0] if len(tests) == 1 else "(" + " || ".join(tests) + ")"


def attribute_condition(args: CiIdentityArgs) -> str:
    """CEL over the GitHub token: this repository, these subjects (environment or refs) and these refs."""
    return " && ".join(
        (
            f"assertion.repository == {_cel(args.github_repository)}",
            _any_of("assertion.sub", args.subjects()),
            _any_of("assertion.ref", args.allowed_refs),
        )
    )


@dataclass(frozen=True)
class CiIdentityNative:
    services: dict[str, projects.Service]
    pool: iam.WorkloadIdentityPool
    provider: iam.WorkloadIdentityPoolProvider
    service_account: serviceaccount.Account
    roles: dict[str, projects.IAMCustomRole]
    grants: tuple[pulumi.Resource, ...]


class CiIdentity(pulumi.ComponentResource):
    """GitHub OIDC -> Workload Identity -> deploy service account (Vertex deploy + the lake's models/ prefix)."""

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
        super().__init__(f"tricloud:{CLOUD}:{Concept.name}", name, None, opts)
        args.validate()
        condition = attribute_condition(args)
        services = enable_services(self, name, ("iamcredentials.googleapis.com", "sts.googleapis.com"))
        # The pool, custom roles and service account need the IAM API, which the lake enables.
        iam_api = lake.native.services["iam.googleapis.com"]
        after_apis = pulumi.ResourceOptions(parent=self, depends_on=[*services.values(), iam_api])

        # Pool ids are 4-32 chars and stay reserved for 30 days after a delete.
        pool = iam.WorkloadIdentityPool(
            f"{name}-pool",
            workload_identity_pool_id=base_name("gcp:generic", "github")[:32].rstrip("-"),
            display_name="GitHub Actions",
            description=f"GitHub Actions of {args.github_repository}",
            opts=after_apis,
        )
        mapping = {
            "google.subject": "assertion.sub",
            "attribute.repository": "assertion.repository",
            "attribute.ref": "assertion.ref",
        }
        if args.environment:
            mapping["attribute.environment"] = "assertion.environment"
        provider = iam.WorkloadIdentityPoolProvider(
            f"{name}-provider",
            workload_identity_pool_id=pool.workload_identity_pool_id,
            workload_identity_pool_provider_id="github",
            display_name="GitHub OIDC",
            attribute_mapping=mapping,
            attribute_condition=condition,
            oidc=iam.WorkloadIdentityPoolProviderOidcArgs(issuer_uri=GITHUB_ISSUER),
            opts=pulumi.ResourceOptions(parent=self),
        )

        sa = service_account(
            self,
            f"{name}-sa",
            "ci-deploy",
            f"tricloud deploy from GitHub ({args.github_repository})",
            lake=lake,
        )
        # Only identities from this pool with the pinned repository may impersonate the deploy account.
        impersonation = serviceaccount.IAMMember(
            f"{name}-wif-user",
            service_account_id=sa.name,
            role="roles/iam.workloadIdentityUser",
            member=pool.name.apply(
                lambda p: (
                    f"principalSet://iam.googleapis.com/{p}/attribute.repository/{args.github_repository}"
                )
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        roles = {
            purpose: projects.IAMCustomRole(
                f"{name}-{purpose}-role",
                # Custom role ids stay reserved for 37 days after a delete; the stack name keeps stacks apart.
                role_id=physical_name("gcp:custom_role", pulumi.get_project(), pulumi.get_stack(), purpose),
                title=f"tricloud CI {purpose}",
                permissions=list(permissions),
                opts=after_apis,
            )
            for purpose, permissions in (("deploy", ENDPOINT_PERMISSIONS), ("models", MODEL_PERMISSIONS))
        }
        grants: tuple[pulumi.Resource, ...] = (
            impersonation,
            vertex.AiEndpointIamMember(
                f"{name}-deploy",
                endpoint=endpoint.native.endpoint.name,
                location=endpoint.native.endpoint.location,
                project=lake.project_id,
                role=roles["deploy"].name,
                member=sa.member,
                opts=pulumi.ResourceOptions(parent=self),
            ),
            project_grant(self, f"{name}-models", lake.project_id, roles["models"].name, sa.member),
            # Training jobs run as the training account; CI may act as that account and no other.
            serviceaccount.IAMMember(
                f"{name}-act-as-training",
                service_account_id=training.native.service_account.name,
                role="roles/iam.serviceAccountUser",
                member=sa.member,
                opts=pulumi.ResourceOptions(parent=self),
            ),
            # The CD step uploads the trained model and promotes models/latest/.
            lake.grant_write(sa, zone=Zone.ARTIFACTS, prefix=MODELS_PREFIX),
        )
        self.native = CiIdentityNative(
            services=services,
            pool=pool,
            provider=provider,
            service_account=sa,
            roles=roles,
            grants=grants,
        )
        self.ci_role = sa.email
        self.ci_identity_provider = provider.name
        self.register_outputs({k: getattr(self, k) for k in OUTPUTS})

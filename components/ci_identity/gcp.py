"""CiIdentity on GCP: one Workload Identity pool + GitHub provider, and three service accounts split by duty.

The provider's attribute condition (CEL over the GitHub token) accepts exactly the union of the three trusts: for each
duty its subject, `ref`, `job_workflow_ref` and, when configured, `repository_id`/`repository_owner_id`. Each
service account then lets in only the principal of its own subject
(`principal://iam.googleapis.com/<pool>/subject/<sub>`), so a token accepted for one duty cannot impersonate another.
GitHub Actions exchanges its token with google-github-actions/auth (workload_identity_provider =
ci_identity_provider, service_account = the duty's output); no key is ever created. Client libraries re-exchange
the token when the access token expires, so long jobs need no longer token lifetime.

- preview: roles/viewer on the project (read-only; no object reads);
- infrastructure: the predefined admin roles of the services the stack manages, on the project (docs/cicd.md lists
  them and why nothing narrower works for `pulumi up`);
- rollout: Vertex jobs and model upload, (un)deploy on the platform's endpoint, push to the image repository, act
  as the training account, write the lake's models/ prefix, read the API key for the smoke request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_gcp.artifactregistry as artifactregistry
import pulumi_gcp.iam as iam
import pulumi_gcp.projects as projects
import pulumi_gcp.serviceaccount as serviceaccount
import pulumi_gcp.vertex as vertex

from components.api_frontend.gcp import ApiFrontend
from components.ci_identity.spec import GITHUB_ISSUER, OUTPUTS, CiIdentityArgs, Duty, Trust
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
    "aiplatform.endpoints.predict",  # canary traffic during the bake
)
# Run the training job, register and read models, read the API key for the smoke request: these target the
# location or project, not an endpoint, so this role is bound on the project and holds nothing else.
MODEL_PERMISSIONS = (
    "aiplatform.customJobs.create",
    "aiplatform.customJobs.get",
    "aiplatform.customJobs.cancel",
    "aiplatform.models.upload",
    "aiplatform.models.get",
    "aiplatform.models.list",
    "aiplatform.models.update",
    "aiplatform.operations.get",
    "apikeys.keys.getKeyString",
    "apikeys.keys.list",
)
PREVIEW_ROLES = ("roles/viewer",)
# The project-level roles the stack's own components grant (checked against every mode's inventory): the
# infrastructure account's projectIamAdmin may add or remove these and nothing else (an IAM condition on the grant).
PROJECT_ROLES_THE_STACK_GRANTS = (
    "roles/artifactregistry.writer",
    "roles/dataproc.worker",
    "roles/logging.logWriter",
    # Model monitoring (components/observability/monitoring_gcp.py): the scheduler starts the drift batch, the
    # batch writes its metrics, the drift trigger runs the dispatch workflow; none has a narrower resource.
    "roles/dataproc.editor",
    "roles/monitoring.metricWriter",
    "roles/workflows.invoker",
)
IAM_ADMIN = "roles/resourcemanager.projectIamAdmin"
# `pulumi up` of stacks/gcp manages these services; each predefined admin role is the narrowest that can create,
# update and delete its resources; project role grants go through IAM_ADMIN under a condition (below).
INFRASTRUCTURE_ROLES = (
    "roles/serviceusage.serviceUsageAdmin",
    "roles/iam.serviceAccountAdmin",
    "roles/iam.serviceAccountUser",
    "roles/iam.roleAdmin",
    "roles/iam.workloadIdentityPoolViewer",
    "roles/storage.admin",
    "roles/bigquery.admin",
    "roles/cloudkms.admin",
    "roles/dataproc.editor",
    "roles/aiplatform.admin",
    "roles/artifactregistry.admin",
    "roles/cloudfunctions.admin",
    "roles/run.admin",
    "roles/apigateway.admin",
    "roles/serviceusage.apiKeysAdmin",
    "roles/monitoring.editor",
    "roles/logging.configWriter",
    # Model monitoring: the drift schedule, the retrain trigger and its workflow, the GitHub token's secret.
    "roles/cloudscheduler.admin",
    "roles/eventarc.admin",
    "roles/workflows.admin",
    "roles/secretmanager.admin",
    "roles/pubsub.admin",
)


def _cel(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid CEL string literal


def _pattern(attribute: str, pattern: str) -> str:
    """CEL for one `Trust` pattern: `*` (any run of characters) becomes a regex, otherwise equality."""
    if "*" not in pattern:
        return f"{attribute} == {_cel(pattern)}"
    regex = "^" + ".*".join(_re_escape(part) for part in pattern.split("*")) + "$"
    return f"{attribute}.matches({_cel(regex)})"


def _re_escape(text: str) -> str:
    import re

    return re.escape(text)


def _any(attribute: str, patterns: tuple[str, ...]) -> str:
    tests = [_pattern(attribute, p) for p in patterns]
    return tests[0] if len(tests) == 1 else "(" + " || ".join(tests) + ")"


def trust_condition(trust: Trust) -> str:
    """CEL accepting exactly the tokens `trust` describes."""
    parts = [
        _any("assertion.sub", trust.subjects),
        f"assertion.repository == {_cel(trust.repository)}",
        _any("assertion.ref", trust.refs),
        _any("assertion.job_workflow_ref", trust.workflow_refs),
    ]
    if trust.repository_id is not None:
        parts.append(f"assertion.repository_id == {_cel(trust.repository_id)}")
    if trust.owner_id is not None:
        parts.append(f"assertion.repository_owner_id == {_cel(trust.owner_id)}")
    return "(" + " && ".join(parts) + ")"


def attribute_condition(args: CiIdentityArgs) -> str:
    """The provider accepts a token when it matches one duty's trust; bindings then pick the duty by subject."""
    return " || ".join(trust_condition(t) for t in args.trusts())


def grantable_roles_condition(roles: tuple[str, ...]) -> str:
    """CEL limiting a projectIamAdmin grant to adding/removing these roles (GCP's delegated role-grant condition)."""
    listed = ", ".join(_cel(r) for r in roles)
    return f"api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly([{listed}])"


@dataclass(frozen=True)
class CiIdentityNative:
    services: dict[str, projects.Service]
    pool: iam.WorkloadIdentityPool
    provider: iam.WorkloadIdentityPoolProvider
    service_accounts: dict[Duty, serviceaccount.Account]
    roles: dict[str, projects.IAMCustomRole]
    grants: dict[Duty, tuple[pulumi.Resource, ...]]


class CiIdentity(pulumi.ComponentResource):
    """GitHub OIDC -> Workload Identity -> one service account per duty."""

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
        super().__init__(f"tricloud:{CLOUD}:{Concept.name}", name, None, opts)
        args.validate()
        services = enable_services(self, name, ("iamcredentials.googleapis.com", "sts.googleapis.com"))
        # The pool, custom roles and service accounts need the IAM API, which the lake enables.
        iam_api = lake.native.services["iam.googleapis.com"]
        after_apis = pulumi.ResourceOptions(parent=self, depends_on=[*services.values(), iam_api])
        child = pulumi.ResourceOptions(parent=self)

        # Pool ids are 4-32 chars and stay reserved for 30 days after a delete.
        pool = iam.WorkloadIdentityPool(
            f"{name}-pool",
            workload_identity_pool_id=base_name("gcp:generic", "github")[:32].rstrip("-"),
            display_name="GitHub Actions",
            description=f"GitHub Actions of {args.github_repository}",
            opts=after_apis,
        )
        provider = iam.WorkloadIdentityPoolProvider(
            f"{name}-provider",
            workload_identity_pool_id=pool.workload_identity_pool_id,
            workload_identity_pool_provider_id="github",
            display_name="GitHub OIDC",
            attribute_mapping={
                "google.subject": "assertion.sub",  # the bindings below select a duty by its exact subject
                "attribute.repository": "assertion.repository",
                "attribute.ref": "assertion.ref",
            },
            attribute_condition=attribute_condition(args),
            oidc=iam.WorkloadIdentityPoolProviderOidcArgs(issuer_uri=GITHUB_ISSUER),
            opts=child,
        )

        accounts: dict[Duty, serviceaccount.Account] = {}
        grants: dict[Duty, tuple[pulumi.Resource, ...]] = {}
        for trust in args.trusts():
            duty = trust.duty
            sa = service_account(
                self, f"{name}-{duty.value}-sa", f"ci-{duty.value[:5] if duty is Duty.INFRASTRUCTURE else duty.value}",
                f"GitHub {duty.value} ({args.github_repository})",
                lake=lake,
            )  # fmt: skip
            accounts[duty] = sa
            (subject,) = trust.subjects
            grants[duty] = (
                serviceaccount.IAMMember(
                    f"{name}-{duty.value}-wif-user",
                    service_account_id=sa.name,
                    role="roles/iam.workloadIdentityUser",
                    member=pool.name.apply(
                        lambda p, s=subject: f"principal://iam.googleapis.com/{p}/subject/{s}"
                    ),
                    opts=child,
                ),
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
        rollout = accounts[Duty.ROLLOUT]
        grants[Duty.ROLLOUT] += (
            vertex.AiEndpointIamMember(
                f"{name}-deploy",
                endpoint=endpoint.native.endpoint.name,
                location=endpoint.native.endpoint.location,
                project=lake.project_id,
                role=roles["deploy"].name,
                member=rollout.member,
                opts=child,
            ),
            project_grant(self, f"{name}-models", lake.project_id, roles["models"].name, rollout.member),
            # Training jobs run as the training account; CI may act as that account and no other.
            serviceaccount.IAMMember(
                f"{name}-act-as-training",
                service_account_id=training.native.service_account.name,
                role="roles/iam.serviceAccountUser",
                member=rollout.member,
                opts=child,
            ),
            # The rollout job pushes the app/Dockerfile image to this stack's repository only.
            artifactregistry.RepositoryIamMember(
                f"{name}-image-push",
                project=training.native.repository.project,
                location=training.native.repository.location,
                repository=training.native.repository.name,
                role="roles/artifactregistry.writer",
                member=rollout.member,
                opts=child,
            ),
            # The CD step uploads the trained model and promotes models/latest/.
            lake.grant_write(rollout, zone=Zone.ARTIFACTS, prefix=MODELS_PREFIX),
        )
        infra = accounts[Duty.INFRASTRUCTURE]
        grants[Duty.INFRASTRUCTURE] += (
            projects.IAMMember(
                f"{name}-infrastructure-projectIamAdmin",
                project=lake.project_id,
                role=IAM_ADMIN,
                member=infra.member,
                condition=projects.IAMMemberConditionArgs(
                    title="only the roles the stack grants",
                    description="pulumi up may grant and revoke the stack's own project roles, no other",
                    expression=grantable_roles_condition(PROJECT_ROLES_THE_STACK_GRANTS),
                ),
                opts=child,
            ),
        )
        for duty, role_names in ((Duty.PREVIEW, PREVIEW_ROLES), (Duty.INFRASTRUCTURE, INFRASTRUCTURE_ROLES)):
            if duty in accounts:
                grants[duty] += tuple(
                    project_grant(
                        self,
                        f"{name}-{duty.value}-{r.split('/')[-1]}",
                        lake.project_id,
                        r,
                        accounts[duty].member,
                    )
                    for r in role_names
                )

        self.native = CiIdentityNative(
            services=services,
            pool=pool,
            provider=provider,
            service_accounts=accounts,
            roles=roles,
            grants=grants,
        )
        self.ci_preview_identity = (
            accounts[Duty.PREVIEW].email if Duty.PREVIEW in accounts else pulumi.Output.from_input("")
        )
        self.ci_infrastructure_identity = accounts[Duty.INFRASTRUCTURE].email
        self.ci_rollout_identity = rollout.email
        self.ci_identity_provider = provider.name
        self.register_outputs({k: getattr(self, k) for k in OUTPUTS})

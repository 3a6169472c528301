"""CiIdentity on Azure: three user-assigned identities, split by duty, that GitHub Actions signs in as through
federated credentials (no client secret exists).

Entra ID matches a managed identity's federated credential on issuer, audience and the exact `sub`; flexible
credentials (claims expressions over `ref`/`job_workflow_ref`) are a preview available on app registrations only, and
pulumi-azure-native's credential has no such field. So on Azure the trust pins repository + environment (or
pull_request) exactly, each duty has its own environment, and the branch pin of a deploy environment is its GitHub
deployment branch policy (stacks/github sets it as code). docs/cicd.md says so.

- preview: Reader on the subscription (no data actions, no listKeys), for pull-request jobs;
- infrastructure: Contributor + Role Based Access Control Administrator on the subscription (`pulumi up` creates the
  stack's resource groups and role assignments; nothing narrower can create a resource group), the latter under a
  condition that allows assigning only the built-in roles the stack's components use;
- rollout: the ML workspace (jobs, models, deployments, traffic), ACR Tasks builds on the registry, the artifacts
  zone's models/ prefix and the API Management subscription key for the smoke request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.managedidentity as managedidentity
import pulumi_azure_native.resources as resources

from components.api_frontend.azure import ApiFrontend
from components.azure_common import (
    ROLES,
    AzurePrincipal,
    assign_role,
    azure_name,
    resource_group,
    subscription_scope,
    tags_for,
)
from components.ci_identity.spec import GITHUB_ISSUER, OUTPUTS, CiIdentityArgs, Duty
from components.ci_identity.spec import CiIdentity as Concept
from components.data_lake.azure import DataLake
from components.data_lake.spec import Zone
from components.model_endpoint.azure import ModelEndpoint
from components.training_job.azure import MODELS_PREFIX, TrainingJob

AUDIENCE = "api://AzureADTokenExchange"  # the audience Entra ID accepts for workload identity federation

# Built-in roles this component assigns at subscription scope (ids are the same in every tenant).
SUBSCRIPTION_ROLES = {
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "Role Based Access Control Administrator": "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
}
# ACR Tasks (`az acr build`): upload the build context, schedule the run, read its status and logs. AcrPush alone
# cannot schedule a run, which is why the old deploy identity could not build images.
ACR_TASK_ACTIONS = (
    "Microsoft.ContainerRegistry/registries/read",
    "Microsoft.ContainerRegistry/registries/listBuildSourceUploadUrl/action",
    "Microsoft.ContainerRegistry/registries/scheduleRun/action",
    "Microsoft.ContainerRegistry/registries/runs/read",
    "Microsoft.ContainerRegistry/registries/runs/listLogSasUrl/action",
)
# The smoke request authenticates as an API consumer: read the subscription key API Management issued.
SMOKE_ACTIONS = (
    "Microsoft.ApiManagement/service/read",
    "Microsoft.ApiManagement/service/subscriptions/read",
    "Microsoft.ApiManagement/service/subscriptions/listSecrets/action",
)


def assignable_roles_condition(role_ids: list[str]) -> str:
    """ABAC condition on Role Based Access Control Administrator: create and delete assignments of these role
    definitions only (never Owner, User Access Administrator or itself), Azure's delegated-assignment pattern."""
    guids = ", ".join(sorted(role_ids))
    return (
        "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR "
        f"(@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{guids}}})) "
        "AND ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR "
        f"(@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{guids}}}))"
    )


@dataclass(frozen=True)
class CiIdentityNative:
    resource_group: resources.ResourceGroup
    identities: dict[Duty, managedidentity.UserAssignedIdentity]
    credentials: dict[Duty, managedidentity.FederatedIdentityCredential]
    custom_roles: tuple[authorization.RoleDefinition, ...]
    grants: dict[Duty, tuple[pulumi.Resource, ...]]


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
        super().__init__(f"tricloud:azure:{Concept.name}", name, None, opts)
        args.validate()
        tags = tags_for(Concept.name, args.tags)
        child = pulumi.ResourceOptions(parent=self)
        rg = resource_group(name, "ci", tags, self)
        subscription = subscription_scope(rg.id)

        identities: dict[Duty, managedidentity.UserAssignedIdentity] = {}
        credentials: dict[Duty, managedidentity.FederatedIdentityCredential] = {}
        principals: dict[Duty, AzurePrincipal] = {}
        for trust in args.trusts():
            duty = trust.duty
            identities[duty] = managedidentity.UserAssignedIdentity(
                f"{name}-{duty.value}-identity",
                resource_name_=azure_name("generic", "github", duty.value),
                resource_group_name=rg.name,
                tags=tags,
                opts=child,
            )
            (subject,) = trust.subjects  # one job kind per identity: Entra compares `sub` exactly
            credentials[duty] = managedidentity.FederatedIdentityCredential(
                f"{name}-{duty.value}-github",
                federated_identity_credential_resource_name=f"github-{duty.value}",
                resource_name_=identities[duty].name,
                resource_group_name=rg.name,
                issuer=GITHUB_ISSUER,
                subject=subject,
                audiences=[AUDIENCE],
                opts=child,
            )
            principals[duty] = AzurePrincipal(f"{name}-{duty.value}-identity", identities[duty].principal_id)

        def on_subscription(
            duty: Duty, role: str, condition: str | None = None
        ) -> authorization.RoleAssignment:
            slug = role.lower().replace(" ", "-")
            return authorization.RoleAssignment(
                f"{name}-{duty.value}-{slug}",
                principal_id=principals[duty].principal_id,
                principal_type="ServicePrincipal",
                role_definition_id=subscription.apply(
                    lambda s: (
                        f"{s}/providers/Microsoft.Authorization/roleDefinitions/{SUBSCRIPTION_ROLES[role]}"
                    )
                ),
                scope=subscription,
                description=f"tricloud: {role} for GitHub {duty.value} jobs",
                condition=condition,
                condition_version="2.0" if condition else None,
                opts=child,
            )

        def custom_role(
            purpose: str, scope: pulumi.Input[str], actions: tuple[str, ...]
        ) -> authorization.RoleDefinition:
            return authorization.RoleDefinition(
                f"{name}-{purpose}-role",
                role_name=azure_name("generic", "ci", purpose),
                description=f"tricloud CI: {purpose}",
                scope=scope,
                assignable_scopes=[scope],
                permissions=[authorization.PermissionArgs(actions=list(actions))],
                opts=child,
            )

        image_role = custom_role("image-build", training.registry_id, ACR_TASK_ACTIONS)
        smoke_role = custom_role("smoke", api.native.gateway.id, SMOKE_ACTIONS)
        rollout = principals[Duty.ROLLOUT]

        def assign_custom(
            purpose: str, role: authorization.RoleDefinition, scope: pulumi.Input[str]
        ) -> pulumi.Resource:
            return authorization.RoleAssignment(
                f"{name}-rollout-{purpose}",
                principal_id=rollout.principal_id,
                principal_type="ServicePrincipal",
                role_definition_id=role.id,
                scope=scope,
                description=f"tricloud: {purpose} for GitHub rollout jobs",
                opts=child,
            )

        grants: dict[Duty, tuple[pulumi.Resource, ...]] = {
            Duty.INFRASTRUCTURE: (
                on_subscription(Duty.INFRASTRUCTURE, "Contributor"),
                # Only the built-in roles the stack's components assign (azure_common.ROLES); the CI identities'
                # own roles stay an administrator's.
                on_subscription(
                    Duty.INFRASTRUCTURE,
                    "Role Based Access Control Administrator",
                    assignable_roles_condition(list(ROLES.values())),
                ),
            ),
            Duty.ROLLOUT: (
                # Submit training jobs, register models, create deployments and shift traffic in this workspace.
                assign_role(
                    f"{name}-rollout-ml", rollout, "AzureML Data Scientist", endpoint.workspace_id, self
                ),
                assign_role(f"{name}-rollout-acr-push", rollout, "AcrPush", training.registry_id, self),
                assign_custom("image-build", image_role, training.registry_id),
                assign_custom("smoke", smoke_role, api.native.gateway.id),
                lake.grant_write(rollout, zone=Zone.ARTIFACTS, prefix=MODELS_PREFIX, parent=self),
            ),
        }
        if Duty.PREVIEW in principals:
            grants[Duty.PREVIEW] = (on_subscription(Duty.PREVIEW, "Reader"),)

        # What `azure/login` needs as client-id (with the tenant and subscription ids).
        self.ci_preview_identity = (
            identities[Duty.PREVIEW].client_id if Duty.PREVIEW in identities else pulumi.Output.from_input("")
        )
        self.ci_infrastructure_identity = identities[Duty.INFRASTRUCTURE].client_id
        self.ci_rollout_identity = identities[Duty.ROLLOUT].client_id
        self.ci_identity_provider = pulumi.Output.from_input(GITHUB_ISSUER)
        self.native = CiIdentityNative(
            resource_group=rg,
            identities=identities,
            credentials=credentials,
            custom_roles=(image_role, smoke_role),
            grants=grants,
        )
        self.register_outputs({k: getattr(self, k) for k in OUTPUTS})

"""CiIdentity on Azure: a user-assigned identity that GitHub Actions signs in as through federated credentials.

No client secret exists: `azure/login` exchanges the job's OIDC token (issuer GitHub, audience
api://AzureADTokenExchange, subject pinned to the repository's environment or refs) for a token of this identity.
Its roles reach the ML workspace (jobs, endpoints, deployments), the registry (push images) and models/ in the
artifacts filesystem; nothing else in the subscription.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.managedidentity as managedidentity
import pulumi_azure_native.resources as resources

from components.azure_common import AzurePrincipal, assign_role, azure_name, resource_group, tags_for
from components.ci_identity.spec import GITHUB_ISSUER, OUTPUTS, CiIdentityArgs
from components.ci_identity.spec import CiIdentity as Concept
from components.data_lake.azure import DataLake
from components.data_lake.spec import Zone
from components.model_endpoint.azure import ModelEndpoint
from components.training_job.azure import MODELS_PREFIX, TrainingJob

AUDIENCE = "api://AzureADTokenExchange"  # the audience Entra ID accepts for workload identity federation


@dataclass(frozen=True)
class CiIdentityNative:
    resource_group: resources.ResourceGroup
    identity: managedidentity.UserAssignedIdentity
    credentials: tuple[managedidentity.FederatedIdentityCredential, ...]
    grants: tuple[authorization.RoleAssignment, ...]


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
        super().__init__(f"tricloud:azure:{Concept.name}", name, None, opts)
        args.validate()
        tags = tags_for(Concept.name, args.tags)
        child = pulumi.ResourceOptions(parent=self)

        rg = resource_group(name, "ci", tags, self)
        identity = managedidentity.UserAssignedIdentity(
            f"{name}-deploy-identity",
            resource_name_=azure_name("generic", "github", "deploy"),
            resource_group_name=rg.name,
            tags=tags,
            opts=child,
        )
        # One credential per subject (Entra matches `sub` exactly): an environment, or each allowed ref.
        credentials = tuple(
            managedidentity.FederatedIdentityCredential(
                f"{name}-github-{i}",
                federated_identity_credential_resource_name=f"github-{i}",
                resource_name_=identity.name,
                resource_group_name=rg.name,
                issuer=GITHUB_ISSUER,
                subject=subject,
                audiences=[AUDIENCE],
                opts=child,
            )
            for i, subject in enumerate(args.subjects())
        )
        principal = AzurePrincipal(f"{name}-deploy-identity", identity.principal_id)
        grants = (
            # Submit training jobs, register models, create deployments and shift traffic in this workspace only.
            assign_role(
                f"{name}-deploy-ml", principal, "AzureML Data Scientist", endpoint.workspace_id, self
            ),
            assign_role(f"{name}-deploy-acr-push", principal, "AcrPush", training.registry_id, self),
            lake.grant_write(principal, zone=Zone.ARTIFACTS, prefix=MODELS_PREFIX, parent=self),
        )

        # What `azure/login` needs as client-id (with the tenant and subscription ids).
        self.ci_role = identity.client_id
        self.ci_identity_provider = credentials[0].id
        self.native = CiIdentityNative(
            resource_group=rg, identity=identity, credentials=credentials, grants=grants
        )
        self.register_outputs({k: getattr(self, k) for k in OUTPUTS})

"""TrainingJob on Azure: an Azure ML workspace and a compute cluster that scales from 0, run as a managed identity.

The workspace brings its own Key Vault, Application Insights, storage account (ADLS Gen2 is not supported as a
workspace's default storage, so the lake is not reused) and container registry. The compute cluster runs as a
user-assigned identity that may read the curated zone and write models under artifacts/models/, nothing else.

The model registry is a model container in the workspace (`model_registry` is its resource id): versions registered
by `tricloud model register` live next to the jobs and endpoints that use them, under the workspace's RBAC and
network rules. A separate Azure ML registry resource only pays off when several workspaces or regions share models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_azure_native.applicationinsights as applicationinsights
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.containerregistry as containerregistry
import pulumi_azure_native.keyvault as keyvault
import pulumi_azure_native.machinelearningservices as ml
import pulumi_azure_native.managedidentity as managedidentity
import pulumi_azure_native.resources as resources
import pulumi_azure_native.storage as storage

from components.azure_common import (
    AzurePrincipal,
    app_insights,
    assign_role,
    azure_name,
    key_vault,
    log_workspace,
    recoverable_logged_blobs,
    resource_group,
    storage_account,
    tags_for,
)
from components.data_lake.azure import DataLake
from components.data_lake.spec import Zone
from components.training_job.spec import OUTPUTS, TrainingJobArgs
from components.training_job.spec import TrainingJob as Concept

MODELS_PREFIX = "models/"
DEFAULT_INSTANCE_TYPE = "Standard_DS3_v2"
TRAINING_REPOSITORY = "tricloud-train"
IDLE_SCALE_DOWN = "PT5M"  # nodes stop billing five minutes after the last job; a retried job reuses them
LOG_RETENTION_DAYS = 30


@dataclass(frozen=True)
class TrainingJobNative:
    resource_group: resources.ResourceGroup
    workspace: ml.Workspace
    compute: ml.Compute
    identity: managedidentity.UserAssignedIdentity
    registry: containerregistry.Registry
    key_vault: keyvault.Vault
    storage_account: storage.StorageAccount
    app_insights: applicationinsights.Component
    grants: tuple[authorization.RoleAssignment, ...]
    registry_container: ml.ModelContainer


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
        self,
        name: str,
        args: TrainingJobArgs,
        *,
        lake: DataLake,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(f"tricloud:azure:{Concept.name}", name, None, opts)
        args.validate()
        tags = tags_for(Concept.name, args.tags)
        child = pulumi.ResourceOptions(parent=self)
        instance_type = args.instance_type or DEFAULT_INSTANCE_TYPE

        rg = resource_group(name, "ml", tags, self)
        identity = managedidentity.UserAssignedIdentity(
            f"{name}-identity",
            resource_name_=azure_name("generic", "training", "id"),
            resource_group_name=rg.name,
            tags=tags,
            opts=child,
        )
        principal = AzurePrincipal(f"{name}-identity", identity.principal_id)
        vault = key_vault(f"{name}-vault", "ml", rg.name, identity.tenant_id, tags, self)
        # Run logs and snapshots are reproducible: one zone is enough. The workspace uses identity-based
        # datastores (below), so the baseline's shared-key ban holds.
        store = storage_account(f"{name}-storage", "ml", rg.name, tags, self)
        logs = log_workspace(f"{name}-logs", "ml-logs", rg.name, LOG_RETENTION_DAYS, tags, self)
        # Run outputs and snapshots: a week to undo a delete, and who touched them in the workspace's logs.
        recoverable_logged_blobs(f"{name}-storage", store, rg.name, logs.id, self)
        # Azure ML's online deployments send request telemetry with the connection string: local auth stays on.
        insights = app_insights(
            f"{name}-app-insights", "ml-appi", rg.name, logs, tags, self, entra_only=False
        )
        registry = containerregistry.Registry(
            f"{name}-registry",
            registry_name=azure_name("storage_account", "acr"),  # 5-50 alphanumerics, like storage accounts
            resource_group_name=rg.name,
            sku={"name": "Standard"},
            admin_user_enabled=False,  # pulls and pushes use Entra identities, never a shared admin password
            anonymous_pull_enabled=False,  # images contain the model code
            tags=tags,
            opts=child,
        )
        workspace = ml.Workspace(
            f"{name}-workspace",
            workspace_name=azure_name("ml_workspace", "mlw"),
            resource_group_name=rg.name,
            kind="Default",
            sku={"name": "Basic", "tier": "Basic"},
            identity={
                "type": "SystemAssigned"
            },  # the workspace reaches its dependencies with its own identity
            key_vault=vault.id,
            application_insights=insights.id,
            storage_account=store.id,
            container_registry=registry.id,
            system_datastores_auth_mode="identity",  # no storage account keys stored in the workspace
            # A workspace-managed VNet: compute nodes get no public IP; outbound internet stays for pip/conda.
            # The lake denies public networks, so the managed VNet reaches it through private endpoints.
            managed_network=ml.ManagedNetworkSettingsArgs(
                isolation_mode="AllowInternetOutbound",
                outbound_rules={
                    f"lake-{sub}": ml.PrivateEndpointOutboundRuleArgs(
                        type="PrivateEndpoint",
                        category="UserDefined",
                        destination=ml.PrivateEndpointDestinationArgs(
                            service_resource_id=lake.account_id, subresource_target=sub, spark_enabled=False
                        ),
                    )
                    for sub in ("dfs", "blob")
                },
            ),
            public_network_access="Enabled",  # Entra-authenticated studio/CLI access for learners and CI
            hbi_workspace=False,
            v1_legacy_mode=False,
            tags=tags,
            opts=child,
        )
        compute = ml.Compute(
            f"{name}-cluster",
            compute_name="train",
            workspace_name=workspace.name,
            resource_group_name=rg.name,
            identity={"type": "UserAssigned", "user_assigned_identities": [identity.id]},
            # Typed args: `properties` is a union of compute kinds, so a plain dict would not be translated.
            properties=ml.AmlComputeArgs(
                compute_type="AmlCompute",
                disable_local_auth=True,  # jobs authenticate with the managed identity only
                properties=ml.AmlComputePropertiesArgs(
                    vm_size=instance_type,
                    # Training is restartable: low priority is much cheaper and an eviction only retries.
                    vm_priority="LowPriority" if args.use_spot else "Dedicated",
                    scale_settings=ml.ScaleSettingsArgs(
                        min_node_count=0,  # nothing bills between jobs
                        max_node_count=args.max_instances,
                        node_idle_time_before_scale_down=IDLE_SCALE_DOWN,
                    ),
                    enable_node_public_ip=False,  # nodes are reachable only through the managed network
                    remote_login_port_public_access="Disabled",  # no SSH from the internet
                    os_type="Linux",
                ),
            ),
            tags=tags,
            opts=child,
        )
        registry_container = ml.ModelContainer(
            f"{name}-model-registry",
            name=azure_name("generic", "house-prices"),
            workspace_name=workspace.name,
            resource_group_name=rg.name,
            properties=ml.ModelContainerPropertiesArgs(
                description="house-price model versions (tricloud model register)", tags=tags
            ),
            opts=child,
        )
        grants = (
            lake.grant_read(principal, zone=Zone.CURATED, parent=self),
            lake.grant_write(principal, zone=Zone.ARTIFACTS, prefix=MODELS_PREFIX, parent=self),
            assign_role(f"{name}-identity-acr-pull", principal, "AcrPull", registry.id, self),
        )

        self.workspace_name: pulumi.Output[str] = workspace.name
        self.workspace_id: pulumi.Output[str] = workspace.id
        self.resource_group_name: pulumi.Output[str] = rg.name
        self.registry_id: pulumi.Output[str] = registry.id
        self.key_vault_id: pulumi.Output[str] = vault.id
        self.key_vault_name: pulumi.Output[str] = vault.name
        self.training_role = identity.id
        self.training_image_uri = (
            pulumi.Output.from_input(args.image_uri)
            if args.image_uri
            else pulumi.Output.concat(registry.login_server, f"/{TRAINING_REPOSITORY}:latest")
        )
        self.training_instance_type = pulumi.Output.from_input(instance_type)
        self.training_input_uri = lake.curated_uri
        self.training_output_uri = lake.uri(Zone.ARTIFACTS, MODELS_PREFIX)
        self.model_registry = registry_container.id
        self.native = TrainingJobNative(
            resource_group=rg,
            workspace=workspace,
            compute=compute,
            identity=identity,
            registry=registry,
            key_vault=vault,
            storage_account=store,
            app_insights=insights,
            grants=grants,
            registry_container=registry_container,
        )
        self.register_outputs({k: getattr(self, k) for k in OUTPUTS})

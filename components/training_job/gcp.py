"""TrainingJob on GCP: the Vertex AI custom-job identity, a CMEK staging bucket and an Artifact Registry repository.

No Pulumi resource exists for a Vertex training job: `tricloud model train gcp` creates the custom job with the
outputs below (identity, image, machine type, input and output URIs); app.train reads AIP_TRAINING_DATA_URI and
writes AIP_MODEL_DIR. No Pulumi resource exists for a Vertex Model Registry entry either: `model_registry` is the
resource name the first `tricloud model register gcp` creates (model id chosen here), later versions join it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_gcp.artifactregistry as artifactregistry
import pulumi_gcp.kms as kms
import pulumi_gcp.projects as projects
import pulumi_gcp.serviceaccount as serviceaccount
import pulumi_gcp.storage as storage

from components.data_lake.gcp import (
    MODELS_PREFIX,
    DataLake,
    base_name,
    enable_services,
    project_grant,
    region,
    secure_bucket,
    service_account,
)
from components.data_lake.spec import Zone
from components.tags import component_tags
from components.training_job.spec import OUTPUTS, TrainingJobArgs
from components.training_job.spec import TrainingJob as Concept

CLOUD = "gcp"
DEFAULT_MACHINE = "n1-standard-4"
IMAGE_NAME = "tricloud-app"
STAGING_RETENTION_DAYS = 30  # Vertex staging files are scratch; a month covers debugging a failed run
KEEP_IMAGE_VERSIONS = 10  # rollback needs recent images, not every image ever pushed


@dataclass(frozen=True)
class TrainingJobNative:
    services: dict[str, projects.Service]
    service_account: serviceaccount.Account
    staging_bucket: storage.Bucket
    repository: artifactregistry.Repository
    vertex_agent: projects.ServiceIdentity
    agent_key_grants: tuple[kms.CryptoKeyIAMMember, ...]
    grants: tuple[pulumi.Resource, ...]


class TrainingJob(pulumi.ComponentResource):
    """Vertex service account (curated read, models/ write), CMEK staging bucket, CMEK Docker repository."""

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
        super().__init__(f"tricloud:{CLOUD}:{Concept.name}", name, None, opts)
        args.validate()
        labels = component_tags(CLOUD, Concept.name, args.tags)
        here = region()
        services = enable_services(
            self, name, ("aiplatform.googleapis.com", "artifactregistry.googleapis.com")
        )

        # Service agents encrypt with the lake key on our behalf; they exist only once asked for.
        agents = {
            svc: projects.ServiceIdentity(
                f"{name}-agent-{svc.split('.')[0]}",
                service=svc,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[services[svc]]),
            )
            for svc in ("aiplatform.googleapis.com", "artifactregistry.googleapis.com")
        }
        key_grants = tuple(
            lake.grant_key(f"{name}-key-{svc.split('.')[0]}", agent.member) for svc, agent in agents.items()
        )

        sa = service_account(self, f"{name}-sa", "train", "tricloud Vertex training jobs", lake=lake)
        staging = secure_bucket(
            f"{name}-staging",
            role="vertex-staging",
            parent=self,
            labels=labels,
            key=lake.key,
            versioning=False,  # scratch space: versions would only keep garbage
            force_destroy=True,  # nothing in it outlives a run
            lifecycle_rules=[
                storage.BucketLifecycleRuleArgs(
                    action=storage.BucketLifecycleRuleActionArgs(type="Delete"),
                    condition=storage.BucketLifecycleRuleConditionArgs(age=STAGING_RETENTION_DAYS),
                )
            ],
            log_bucket=lake.native.log_bucket,  # who read or wrote job files, like every lake bucket
            depends_on=lake.native.agent_key_grants,
        )
        grants: tuple[pulumi.Resource, ...] = (
            lake.grant_read(sa, zone=Zone.CURATED),
            # Bucket-level objectAdmin narrowed to models/ by an IAM condition: the job cannot touch other artifacts.
            lake.grant_write(sa, zone=Zone.ARTIFACTS, prefix=MODELS_PREFIX),
            storage.BucketIAMMember(
                f"{name}-staging-admin",
                bucket=staging.name,
                role="roles/storage.objectAdmin",
                member=sa.member,
                opts=pulumi.ResourceOptions(parent=self),
            ),
            # The job's stdout reaches Cloud Logging; log writing exists only at project scope.
            project_grant(self, f"{name}-log-writer", lake.project_id, "roles/logging.logWriter", sa.member),
        )

        repository = artifactregistry.Repository(
            f"{name}-registry",
            repository_id=base_name("gcp:generic", "images"),
            location=here,
            format="DOCKER",
            description="tricloud training and serving images (app/Dockerfile)",
            kms_key_name=lake.encryption_key,
            # Immutable: a tag names one build forever (the CD step pushes :<git sha> only; registered versions record
            # the digest), so an overwritten tag cannot swap what a past version trained or served on.
            docker_config=artifactregistry.RepositoryDockerConfigArgs(immutable_tags=True),
            cleanup_policy_dry_run=False,
            cleanup_policies=[
                artifactregistry.RepositoryCleanupPolicyArgs(
                    id="keep-recent",
                    action="KEEP",
                    most_recent_versions=artifactregistry.RepositoryCleanupPolicyMostRecentVersionsArgs(
                        keep_count=KEEP_IMAGE_VERSIONS
                    ),
                ),
                artifactregistry.RepositoryCleanupPolicyArgs(
                    id="delete-untagged",
                    action="DELETE",
                    condition=artifactregistry.RepositoryCleanupPolicyConditionArgs(
                        tag_state="UNTAGGED", older_than=f"{30 * 86400}s"
                    ),
                ),
            ],
            labels=labels,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*key_grants]),
        )

        self.native = TrainingJobNative(
            services=services,
            service_account=sa,
            staging_bucket=staging,
            repository=repository,
            vertex_agent=agents["aiplatform.googleapis.com"],
            agent_key_grants=key_grants,
            grants=grants,
        )
        # What the CD step passes to `gcloud ai custom-jobs create` (no Pulumi resource runs a Vertex job).
        self.job_settings: dict[str, object] = {
            "machine_type": args.instance_type or DEFAULT_MACHINE,
            "replica_count": args.max_instances,
            "timeout": f"{args.max_runtime_minutes * 60}s",  # scheduling.timeout: a runaway job stops
            "strategy": "SPOT" if args.use_spot else "STANDARD",  # scheduling.strategy
            "args": [
                f"--hp={k}={v}" for k, v in sorted(args.hyperparameters.items())
            ],  # app.train --hp NAME=VALUE
        }
        self.training_role = sa.email
        self.training_image_uri = (
            pulumi.Output.from_input(args.image_uri)
            if args.image_uri
            else pulumi.Output.concat(
                here,
                "-docker.pkg.dev/",
                repository.project,
                "/",
                repository.repository_id,
                f"/{IMAGE_NAME}:latest",
            )
        )
        self.training_instance_type = pulumi.Output.from_input(args.instance_type or DEFAULT_MACHINE)
        self.training_input_uri = lake.curated_uri
        self.training_output_uri = lake.uri(Zone.ARTIFACTS, MODELS_PREFIX)
        # Vertex model ids are [a-z0-9_-], up to 63 characters, not starting with a digit or hyphen.
        self.model_registry = pulumi.Output.concat(
            "projects/",
            lake.project_id,
            "/locations/",
            here,
            "/models/",
            base_name("gcp:generic", "house-prices"),
        )
        self.register_outputs({k: getattr(self, k) for k in OUTPUTS})

    @property
    def service_account(self) -> serviceaccount.Account:
        return self.native.service_account

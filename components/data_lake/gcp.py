"""DataLake on GCP: CMEK-encrypted GCS buckets per zone, an access-log bucket and a BigQuery dataset.

The helpers at the top (project/region, API enablement, the secure bucket) are shared by every GCP component:
the other `components/*/gcp.py` import them from here, so the secure defaults live in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_gcp.bigquery as bigquery
import pulumi_gcp.config as gcp_config
import pulumi_gcp.kms as kms
import pulumi_gcp.organizations as organizations
import pulumi_gcp.projects as projects
import pulumi_gcp.serviceaccount as serviceaccount
import pulumi_gcp.storage as storage

from components.data_lake.query_gcp import LakeQueryGcp, add_query
from components.data_lake.spec import OUTPUTS, DataLakeArgs, Zone
from components.data_lake.spec import DataLake as Concept
from components.errors import InvalidArgs
from components.naming import physical_name
from components.tags import component_tags

CLOUD = "gcp"
KEY_ROLE = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
# Where app.features writes rejected rows and where trained models land (the CD step reads models/latest/).
MODELS_PREFIX = "models/"
ACCESS_LOG_RETENTION_DAYS = 365  # a year of access logs covers the usual audit window


def region() -> str:
    """The provider's region (`gcp:region`): GCP resources need it explicitly, unlike AWS's implicit region."""
    value = gcp_config.region
    if not value:
        raise InvalidArgs("gcp:region", value, "is required (pulumi config set gcp:region asia-south1)")
    return value


def project() -> str:
    """The provider's project (`gcp:project`): bucket names are global, so they start with the project id."""
    value = gcp_config.project
    if not value:
        raise InvalidArgs("gcp:project", value, "is required (pulumi config set gcp:project <project-id>)")
    return value


def base_name(kind: str, role: str) -> str:
    return physical_name(kind, pulumi.get_project(), pulumi.get_stack(), role)


def service_account_id(role: str) -> str:
    """SA ids are 6-30 chars: a longer `<project>-<stack>-<role>` keeps its head plus a hash (physical_name)."""
    return base_name("gcp:service_account", role)


def enable_services(
    parent: pulumi.Resource, name: str, services: Sequence[str]
) -> dict[str, projects.Service]:
    """Enable the APIs a component uses; disable_on_destroy=False so a destroy never breaks other workloads."""
    return {
        svc: projects.Service(
            f"{name}-api-{svc.split('.')[0]}",
            service=svc,
            disable_on_destroy=False,
            disable_dependent_services=False,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for svc in services
    }


def service_account(
    parent: pulumi.Resource, resource_name: str, role: str, display_name: str, *, lake: DataLake
) -> serviceaccount.Account:
    """One identity per workload, so each grant names exactly who may do what (after the lake enables IAM)."""
    return serviceaccount.Account(
        resource_name,
        account_id=service_account_id(role),
        display_name=display_name,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[lake.native.services["iam.googleapis.com"]]),
    )


def project_grant(
    parent: pulumi.Resource,
    resource_name: str,
    project: pulumi.Input[str],
    role: str,
    member: pulumi.Input[str],
) -> projects.IAMMember:
    """A project-level role: only for permissions GCP offers at no narrower scope (each caller says why)."""
    return projects.IAMMember(
        resource_name, project=project, role=role, member=member, opts=pulumi.ResourceOptions(parent=parent)
    )


def secure_bucket(
    resource_name: str,
    *,
    role: str,
    parent: pulumi.Resource,
    labels: dict[str, str],
    key: kms.CryptoKey,
    versioning: bool,
    force_destroy: bool,
    lifecycle_rules: Sequence[storage.BucketLifecycleRuleArgs] = (),
    log_bucket: storage.Bucket | None = None,
    depends_on: Sequence[pulumi.Resource] = (),
) -> storage.Bucket:
    """A bucket with the platform's defaults; every GCS bucket of tricloud is made here."""
    return storage.Bucket(
        resource_name,
        # Bucket names are global across GCP: the project id (itself globally unique) keeps them ours.
        name=physical_name("gcp:bucket", project(), pulumi.get_stack(), role),
        location=region().upper(),
        # IAM only, no object ACLs: one place to audit who can read what.
        uniform_bucket_level_access=True,
        # No allUsers/allAuthenticatedUsers grant can ever be added, even by mistake.
        public_access_prevention="enforced",
        versioning=storage.BucketVersioningArgs(enabled=versioning),
        # Customer-managed key: access can be revoked by disabling the key, and rotation is ours.
        encryption=storage.BucketEncryptionArgs(default_kms_key_name=key.id),
        logging=(
            storage.BucketLoggingArgs(log_bucket=log_bucket.name, log_object_prefix=role)
            if log_bucket is not None
            else None
        ),
        lifecycle_rules=list(lifecycle_rules),
        force_destroy=force_destroy,
        labels=labels,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )


def prefix_condition(bucket: storage.Bucket, prefix: str, title: str) -> pulumi.Output[dict[str, str]]:
    """IAM condition limiting object access to one prefix.

    List calls are checked against the bucket itself, so the condition also admits the bucket resource: object
    names become listable bucket-wide, while reads and writes stay under the prefix.
    """
    return bucket.name.apply(
        lambda b: {
            "title": title,
            "description": f"objects under gs://{b}/{prefix} only",
            "expression": (
                'resource.type == "storage.googleapis.com/Bucket" || '
                f'resource.name.startsWith("projects/_/buckets/{b}/objects/{prefix}")'
            ),
        }
    )


@dataclass(frozen=True)
class DataLakeNative:
    services: dict[str, projects.Service]
    key_ring: kms.KeyRing
    key: kms.CryptoKey
    agent_key_grants: tuple[kms.CryptoKeyIAMMember, ...]
    log_bucket: storage.Bucket | None
    buckets: dict[Zone, storage.Bucket]
    dataset: bigquery.Dataset
    curated_table: bigquery.Table
    query: LakeQueryGcp  # BigLake connection, its grant, the table, the daily scan quota


class DataLake(pulumi.ComponentResource):
    """GCS zones (raw/curated/artifacts) + access-log bucket, CMEK via Cloud KMS, BigQuery dataset over curated."""

    OUTPUTS: ClassVar[tuple[str, ...]] = OUTPUTS  # the cloud-neutral outputs this class registers
    lake_uri: pulumi.Output[str]
    raw_uri: pulumi.Output[str]
    curated_uri: pulumi.Output[str]
    artifacts_uri: pulumi.Output[str]
    encryption_key: pulumi.Output[str]
    catalog: pulumi.Output[str]
    curated_table: pulumi.Output[str]
    query_endpoint: pulumi.Output[str]
    native: DataLakeNative

    def __init__(self, name: str, args: DataLakeArgs, *, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"tricloud:{CLOUD}:{Concept.name}", name, None, opts)
        # validate -> resolve defaults
        args.validate()
        labels = component_tags(CLOUD, Concept.name, args.tags)
        here = region()
        project = organizations.get_project_output()
        self.project_id: pulumi.Output[str] = project.project_id
        self.project_number: pulumi.Output[str] = project.number

        services = enable_services(
            self,
            name,
            # IAM too: every component that takes the lake creates service accounts and grants on it.
            (
                "storage.googleapis.com",
                "cloudkms.googleapis.com",
                "bigquery.googleapis.com",
                "iam.googleapis.com",
            ),
        )
        # Key rings and keys cannot be deleted on GCP: a destroy only schedules the key versions for destruction.
        key_ring = kms.KeyRing(
            f"{name}-keyring",
            name=base_name("gcp:generic", "lake"),
            location=here,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[services["cloudkms.googleapis.com"]]),
        )
        self._key = kms.CryptoKey(
            f"{name}-key",
            name="lake",
            key_ring=key_ring.id,
            purpose="ENCRYPT_DECRYPT",
            # Automatic rotation bounds how much data one key version protects.
            rotation_period=f"{args.key_rotation_days * 86400}s",
            labels=labels,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The GCS and BigQuery service agents encrypt on our behalf; they need the key before any bucket/dataset.
        gcs_agent = storage.get_project_service_account_output()
        bq_agent = bigquery.get_default_service_account_output()
        grants = (
            self.grant_key(
                f"{name}-key-gcs-agent", gcs_agent.email_address.apply(lambda e: f"serviceAccount:{e}")
            ),
            self.grant_key(f"{name}-key-bq-agent", bq_agent.email.apply(lambda e: f"serviceAccount:{e}")),
        )

        noncurrent = storage.BucketLifecycleRuleArgs(
            action=storage.BucketLifecycleRuleActionArgs(type="Delete"),
            condition=storage.BucketLifecycleRuleConditionArgs(
                days_since_noncurrent_time=args.noncurrent_version_expiry_days, with_state="ARCHIVED"
            ),
        )
        log_bucket = None
        if args.access_logging:
            log_bucket = secure_bucket(
                f"{name}-logs",
                role="access-logs",
                parent=self,
                labels=labels,
                key=self._key,
                # Audit logs must survive an overwrite or a delete for their retention, as on AWS; logs are
                # write-once, so versions only appear when someone tampers (or the year-end expiry deletes).
                versioning=args.versioning,
                force_destroy=args.force_destroy,
                lifecycle_rules=[
                    storage.BucketLifecycleRuleArgs(
                        action=storage.BucketLifecycleRuleActionArgs(type="Delete"),
                        condition=storage.BucketLifecycleRuleConditionArgs(age=ACCESS_LOG_RETENTION_DAYS),
                    ),
                    noncurrent,
                ],
                depends_on=[*grants, services["storage.googleapis.com"]],
            )
            # GCS usage logs are delivered by this Google group; it may only create objects in the log bucket.
            storage.BucketIAMMember(
                f"{name}-logs-writer",
                bucket=log_bucket.name,
                role="roles/storage.objectCreator",
                member="group:cloud-storage-analytics@google.com",
                opts=pulumi.ResourceOptions(parent=self),
            )

        raw_rules = [
            noncurrent,
            storage.BucketLifecycleRuleArgs(
                action=storage.BucketLifecycleRuleActionArgs(
                    type="SetStorageClass", storage_class="NEARLINE"
                ),
                condition=storage.BucketLifecycleRuleConditionArgs(
                    age=args.raw_cold_after_days, matches_storage_classes=["STANDARD"], with_state="LIVE"
                ),
            ),
        ]
        if args.raw_expiry_days is not None:
            raw_rules.append(
                storage.BucketLifecycleRuleArgs(
                    action=storage.BucketLifecycleRuleActionArgs(type="Delete"),
                    condition=storage.BucketLifecycleRuleConditionArgs(age=args.raw_expiry_days),
                )
            )
        self._buckets: dict[Zone, storage.Bucket] = {
            zone: secure_bucket(
                f"{name}-{zone.value}",
                role=zone.value,
                parent=self,
                labels={**labels, "zone": zone.value},
                key=self._key,
                versioning=args.versioning,
                force_destroy=args.force_destroy,
                lifecycle_rules=raw_rules if zone is Zone.RAW else [noncurrent],
                log_bucket=log_bucket,
                depends_on=[*grants, services["storage.googleapis.com"]],
            )
            for zone in Zone
        }

        dataset = bigquery.Dataset(
            f"{name}-dataset",
            dataset_id=physical_name(
                "gcp:bigquery_dataset", pulumi.get_project(), pulumi.get_stack(), "lake"
            ).lower(),
            location=here,
            description="tricloud curated zone (external tables over GCS Parquet)",
            # New tables are encrypted with the lake key unless a table says otherwise.
            default_encryption_configuration=bigquery.DatasetDefaultEncryptionConfigurationArgs(
                kms_key_name=self._key.id
            ),
            # No `accesses` entries: only the project's own IAM roles apply, never allUsers/allAuthenticatedUsers.
            delete_contents_on_destroy=args.force_destroy,
            labels=labels,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[*grants, services["bigquery.googleapis.com"]]
            ),
        )
        query = add_query(
            self,
            name,
            args.query,
            project=project.project_id,
            region=here,
            dataset=dataset,
            bucket=self._buckets[Zone.CURATED],
            labels=labels,
            force_destroy=args.force_destroy,
        )

        self.native = DataLakeNative(
            services=services,
            key_ring=key_ring,
            key=self._key,
            agent_key_grants=grants,
            log_bucket=log_bucket,
            buckets=dict(self._buckets),
            dataset=dataset,
            curated_table=query.table,
            query=query,
        )
        # outputs
        uris = {zone: b.name.apply(lambda n: f"gs://{n}/") for zone, b in self._buckets.items()}
        self.raw_uri = uris[Zone.RAW]
        self.curated_uri = uris[Zone.CURATED]
        self.artifacts_uri = uris[Zone.ARTIFACTS]
        self.lake_uri = self.curated_uri
        self.encryption_key = self._key.id
        self.catalog = pulumi.Output.concat(dataset.project, ".", dataset.dataset_id)
        self.curated_table = query.curated_table
        self.query_endpoint = query.query_endpoint
        self.register_outputs({k: getattr(self, k) for k in OUTPUTS})

    # --- permissions -------------------------------------------------------------------------------------------

    def bucket(self, zone: Zone) -> storage.Bucket:
        return self._buckets[zone]

    @property
    def key(self) -> kms.CryptoKey:
        return self._key

    def grant_key(
        self, resource_name: str, member: pulumi.Input[str], *, after: Sequence[pulumi.Resource] = ()
    ) -> kms.CryptoKeyIAMMember:
        """Let a service agent (GCS, BigQuery, Artifact Registry, Vertex, Dataproc...) use the lake key.

        `after`: what makes the agent exist (usually enabling its API); a grant to a missing agent fails.
        """
        return kms.CryptoKeyIAMMember(
            resource_name,
            crypto_key_id=self._key.id,
            role=KEY_ROLE,
            member=member,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(after)),
        )

    def uri(self, zone: Zone, prefix: str = "") -> pulumi.Output[str]:
        """`gs://<zone bucket>/<prefix>`."""
        return pulumi.Output.concat("gs://", self._buckets[zone].name, "/", prefix)

    def grant_read(
        self,
        principal: serviceaccount.Account,
        *,
        zone: Zone,
        prefix: str = "",
        parent: pulumi.Resource | None = None,
    ) -> storage.BucketIAMMember:
        """objectViewer on one zone (optionally one prefix). The key stays with the GCS agent: no KMS role."""
        return self._grant("read", principal, zone, prefix, "roles/storage.objectViewer", parent)

    def grant_write(
        self,
        principal: serviceaccount.Account,
        *,
        zone: Zone,
        prefix: str = "",
        parent: pulumi.Resource | None = None,
    ) -> storage.BucketIAMMember:
        """objectAdmin on one zone (optionally one prefix): Spark overwrites and model promotion need delete."""
        return self._grant("write", principal, zone, prefix, "roles/storage.objectAdmin", parent)

    def _grant(
        self,
        verb: str,
        principal: serviceaccount.Account,
        zone: Zone,
        prefix: str,
        role: str,
        parent: pulumi.Resource | None,
    ) -> storage.BucketIAMMember:
        if not isinstance(principal, serviceaccount.Account):
            raise InvalidArgs("principal", principal, "must be a pulumi_gcp.serviceaccount.Account")
        zone = Zone(zone)
        bucket = self._buckets[zone]
        slug = physical_name("gcp:generic", prefix.strip("/")) if prefix else ""
        name = "-".join(p for p in (principal.pulumi_resource_name, "lake", zone.value, slug, verb) if p)
        return storage.BucketIAMMember(
            name,
            bucket=bucket.name,
            role=role,
            member=principal.member,
            # Bucket-level IAM is the finest GCS grant; an IAM condition narrows it to the prefix.
            condition=prefix_condition(bucket, prefix, f"{verb}-{slug}") if prefix else None,
            opts=pulumi.ResourceOptions(parent=parent or principal),
        )

"""DataLake on AWS: one S3 bucket per zone, a customer-managed KMS key, a Glue catalog + crawler, an Athena workgroup.

Zones are buckets, not prefixes of one bucket: each zone gets its own lifecycle (raw goes cold, curated does not),
its own bucket policy and access logs, and a mistake in one zone's policy cannot expose another (blast radius).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_aws.athena as athena
import pulumi_aws.glue as glue
import pulumi_aws.iam as iam
import pulumi_aws.kms as kms
import pulumi_aws.s3 as s3

from components import aws_policy as pol
from components.data_lake.query_aws import LakeQueryAws, add_query
from components.data_lake.spec import OUTPUTS, DataLakeArgs, Zone
from components.data_lake.spec import DataLake as Concept
from components.naming import physical_name
from components.tags import component_tags

LOG_RETENTION_DAYS = 365  # server access logs are audit evidence for a year, then cost only
MULTIPART_ABORT_DAYS = 7  # abandoned multipart uploads are invisible storage cost


@dataclass(frozen=True)
class DataLakeNative:
    key: kms.Key
    alias: kms.Alias
    buckets: Mapping[Zone, s3.Bucket]
    log_bucket: s3.Bucket
    database: glue.CatalogDatabase
    crawler: glue.Crawler
    crawler_role: iam.Role
    workgroup: athena.Workgroup
    query: LakeQueryAws  # the curated table, the workgroup, the saved example queries


class DataLake(pulumi.ComponentResource):
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
        super().__init__("tricloud:aws:DataLake", name, None, opts)
        args.validate()
        tags = component_tags("aws", Concept.name, args.tags)
        project, stack = pulumi.get_project(), pulumi.get_stack()
        ctx = pol.context(self)
        child = pulumi.ResourceOptions(parent=self)

        key = kms.Key(
            f"{name}-key",
            description=f"{project}-{stack} data lake",
            enable_key_rotation=True,  # limits the data any one key version protects
            rotation_period_in_days=args.key_rotation_days,
            deletion_window_in_days=30,  # the longest window: a mistaken delete can be cancelled
            policy=self._key_policy(ctx),
            tags=tags,
            opts=child,
        )
        alias = kms.Alias(
            f"{name}-key-alias",
            name=f"alias/{physical_name('aws:generic', project, stack, 'lake')}",
            target_key_id=key.key_id,
            opts=child,
        )
        self.key_arn: pulumi.Output[str] = key.arn

        def bucket_name(zone: str) -> pulumi.Output[str]:
            # S3 names are global: account and region make the deterministic name unique per learner account.
            return pulumi.Output.all(ctx.account_id, ctx.region).apply(
                lambda ar: physical_name("aws:s3_bucket", project, stack, zone, ar[0], ar[1])
            )

        log_bucket = s3.Bucket(
            f"{name}-logs",
            bucket=bucket_name("logs"),
            force_destroy=args.force_destroy,
            tags=tags,
            opts=child,
        )
        # S3 server access logging cannot deliver to an SSE-KMS bucket: the log bucket uses SSE-S3.
        # Versioned like the zones: audit logs must survive an overwrite or a delete for their retention.
        pab = harden(self, f"{name}-logs", log_bucket, sse={"sse_algorithm": "AES256"}, versioning=True)
        lifecycle(
            self,
            f"{name}-logs",
            log_bucket,
            [
                lifecycle_rule(
                    "expire-logs",
                    expiry_days=LOG_RETENTION_DAYS,
                    noncurrent_days=args.noncurrent_version_expiry_days,
                )
            ],
        )
        log_policy = tls_only_policy(
            self,
            f"{name}-logs",
            log_bucket,
            pab,
            extra=[
                {
                    "Sid": "S3ServerAccessLogs",
                    "Effect": "Allow",
                    "Principal": {"Service": "logging.s3.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": pulumi.Output.concat(log_bucket.arn, "/*"),
                    "Condition": {"StringEquals": {"aws:SourceAccount": ctx.account_id}},
                }
            ],
        )

        buckets: dict[Zone, s3.Bucket] = {}
        for zone in Zone:
            b = s3.Bucket(
                f"{name}-{zone.value}",
                bucket=bucket_name(zone.value),
                force_destroy=args.force_destroy,
                tags=tags,
                opts=child,
            )
            pab = harden(
                self,
                f"{name}-{zone.value}",
                b,
                sse={"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn},
                versioning=args.versioning,
            )
            rules = [
                lifecycle_rule(
                    "noncurrent-and-multipart", noncurrent_days=args.noncurrent_version_expiry_days
                )
            ]
            if zone is Zone.RAW:
                rules.append(
                    lifecycle_rule(
                        "raw-cold",
                        cold_after_days=args.raw_cold_after_days,
                        expiry_days=args.raw_expiry_days,
                    )
                )
            lifecycle(self, f"{name}-{zone.value}", b, rules)
            tls_only_policy(self, f"{name}-{zone.value}", b, pab)
            if args.access_logging:
                s3.BucketLogging(
                    f"{name}-{zone.value}-logging",
                    bucket=b.id,
                    target_bucket=log_bucket.id,
                    target_prefix=f"{zone.value}/",
                    # S3 checks that the log bucket lets logging.s3 write before it accepts the configuration.
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[log_policy]),
                )
            buckets[zone] = b
        self._buckets = buckets

        database = glue.CatalogDatabase(
            f"{name}-catalog",
            name=physical_name("aws:glue_database", project, stack, "lake"),
            description="Curated zone tables (Parquet) found by the crawler",
            tags=tags,
            opts=child,
        )
        glue_security = glue.SecurityConfiguration(
            f"{name}-glue-security",
            name=physical_name("aws:generic", project, stack, "lake-glue"),
            encryption_configuration={
                # The crawler's logs and any output carry table contents: encrypt them with the lake key.
                "cloudwatch_encryption": {"cloudwatch_encryption_mode": "SSE-KMS", "kms_key_arn": key.arn},
                "job_bookmarks_encryption": {
                    "job_bookmarks_encryption_mode": "CSE-KMS",
                    "kms_key_arn": key.arn,
                },
                "s3_encryption": {"s3_encryption_mode": "SSE-KMS", "kms_key_arn": key.arn},
            },
            # Immutable and fixed-name: a change must delete the old configuration before creating the new one.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        crawler_role = pol.role(
            f"{name}-crawler-role",
            physical=physical_name("aws:iam_role", project, stack, "lake-crawler"),
            service="glue.amazonaws.com",
            ctx=ctx,
            tags=tags,
            parent=self,
            description="Glue crawler: read the curated zone, write its own catalog database",
        )
        catalog_arn = pol.arn(ctx, "glue", "catalog")
        db_arn = pol.arn(ctx, "glue", "database/", database.name)
        table_arn = pol.arn(ctx, "glue", "table/", database.name, "/*")
        self.grant_read(crawler_role, zone=Zone.CURATED, parent=self)
        pol.inline_policy(
            f"{name}-crawler-catalog",
            crawler_role,
            [
                pol.statement(
                    [
                        "glue:GetDatabase",
                        "glue:GetTable",
                        "glue:GetTables",
                        "glue:CreateTable",
                        "glue:UpdateTable",
                        "glue:BatchGetPartition",
                        "glue:GetPartition",
                        "glue:GetPartitions",
                        "glue:CreatePartition",
                        "glue:BatchCreatePartition",
                        "glue:UpdatePartition",
                        "glue:GetSecurityConfiguration",
                    ],
                    [catalog_arn, db_arn, table_arn],
                    sid="OwnDatabaseOnly",
                ),
                pol.logs_statement(ctx, "/aws-glue/crawlers"),
                pol.statement(
                    ["logs:AssociateKmsKey"],
                    [pol.log_group_arn(ctx, "/aws-glue/crawlers*")],
                    sid="EncryptCrawlerLogs",
                ),
                pol.kms_use_statement(key.arn, encrypt=True),
            ],
            parent=self,
        )
        curated_uri = self.uri(Zone.CURATED)
        crawler = glue.Crawler(
            f"{name}-crawler",
            name=physical_name("aws:generic", project, stack, "curated-crawler"),
            database_name=database.name,
            role=crawler_role.arn,
            s3_targets=[{"path": curated_uri}],
            security_configuration=glue_security.name,
            # Schema changes update tables but never drop them: a bad file must not delete a queried table.
            schema_change_policy={"update_behavior": "UPDATE_IN_DATABASE", "delete_behavior": "LOG"},
            recrawl_policy={"recrawl_behavior": "CRAWL_NEW_FOLDERS_ONLY"},
            tags=tags,
            opts=child,
        )
        query = add_query(
            self,
            name,
            args.query,
            database=database,
            key=key,
            ctx=ctx,
            tags=tags,
            force_destroy=args.force_destroy,
        )
        workgroup = query.workgroup

        self.raw_uri = self.uri(Zone.RAW)
        self.curated_uri = curated_uri
        self.artifacts_uri = self.uri(Zone.ARTIFACTS)
        self.lake_uri = curated_uri  # the data the platform queries and trains on
        self.encryption_key = key.arn
        self.catalog = database.name
        self.curated_table = query.curated_table
        self.query_endpoint = query.query_endpoint
        self.native = DataLakeNative(
            key=key,
            alias=alias,
            buckets=dict(buckets),
            log_bucket=log_bucket,
            database=database,
            crawler=crawler,
            crawler_role=crawler_role,
            workgroup=workgroup,
            query=query,
        )
        self.register_outputs({k: getattr(self, k) for k in OUTPUTS})

    # --- locations ---------------------------------------------------------------------------------------------

    def bucket(self, zone: Zone) -> s3.Bucket:
        return self._buckets[zone]

    def uri(self, zone: Zone, prefix: str = "") -> pulumi.Output[str]:
        """`s3://<zone bucket>/<prefix>`."""
        return pulumi.Output.concat("s3://", self._buckets[zone].bucket, "/", prefix)

    def object_arn(self, zone: Zone, prefix: str = "") -> pulumi.Output[str]:
        return pulumi.Output.concat(self._buckets[zone].arn, "/", prefix, "*")

    # --- permissions -------------------------------------------------------------------------------------------

    def read_statements(self, zone: Zone, prefix: str = "") -> list[pol.Statement]:
        b = self._buckets[zone]
        list_cond = {"StringLike": {"s3:prefix": [f"{prefix}*"]}} if prefix else None
        return [
            pol.statement(
                ["s3:ListBucket", "s3:GetBucketLocation"],
                [b.arn],
                sid=f"List{zone.value.title()}",
                conditions=list_cond,
            ),
            # Current objects only: no reader (SageMaker, EMR, Glue, s3a) asks for a past version by id.
            pol.statement(["s3:GetObject"], [self.object_arn(zone, prefix)], sid=f"Read{zone.value.title()}"),
            pol.kms_use_statement(self.key_arn, encrypt=False),
        ]

    def write_statements(self, zone: Zone, prefix: str = "", *, delete: bool = False) -> list[pol.Statement]:
        actions = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
        return [
            pol.statement(
                [*actions, "s3:DeleteObject"] if delete else actions,
                [self.object_arn(zone, prefix)],
                sid=f"Write{zone.value.title()}",
            ),
            # Multipart uploads with SSE-KMS need Decrypt as well as GenerateDataKey.
            pol.kms_use_statement(self.key_arn, encrypt=True),
        ]

    def grant_read(
        self, role: iam.Role, *, zone: Zone, prefix: str = "", parent: pulumi.Resource | None = None
    ) -> iam.RolePolicy:
        """Inline policy: list and read one zone (optionally one prefix), decrypt with the lake key."""
        return self._grant("read", role, zone, prefix, self.read_statements(zone, prefix), parent)

    def grant_write(
        self,
        role: iam.Role,
        *,
        zone: Zone,
        prefix: str = "",
        delete: bool = False,
        parent: pulumi.Resource | None = None,
    ) -> iam.RolePolicy:
        """Inline policy: put objects under one zone prefix (delete only if asked), encrypt with the lake key."""
        return self._grant(
            "write", role, zone, prefix, self.write_statements(zone, prefix, delete=delete), parent
        )

    def _grant(
        self,
        verb: str,
        role: iam.Role,
        zone: Zone,
        prefix: str,
        statements: list[pol.Statement],
        parent: pulumi.Resource | None,
    ) -> iam.RolePolicy:
        slug = physical_name("aws:generic", prefix.strip("/")) if prefix else ""
        name = "-".join(p for p in (role.pulumi_resource_name, "lake", zone.value, slug, verb) if p)
        return pol.inline_policy(name, role, statements, parent=parent or role)

    # --- building blocks ---------------------------------------------------------------------------------------

    def _key_policy(self, ctx: pol.AwsContext) -> pulumi.Output[str]:
        logs_principal = pulumi.Output.concat("logs.", ctx.region, ".", ctx.dns_suffix)
        return pol.document(
            [
                pol.key_admin_statement(ctx),
                {
                    "Sid": "CloudWatchLogsOfThisAccount",
                    "Effect": "Allow",
                    "Principal": {"Service": logs_principal},
                    "Action": [
                        "kms:Encrypt*",
                        "kms:Decrypt*",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:Describe*",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "ArnLike": {"kms:EncryptionContext:aws:logs:arn": pol.arn(ctx, "logs", "*")}
                    },
                },
            ]
        )


# --- a hardened bucket: shared by the lake's zones and any other bucket of the AWS components ------------------


def harden(
    parent: pulumi.Resource,
    name: str,
    bucket: s3.Bucket,
    *,
    sse: s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgsDict,
    versioning: bool,
) -> s3.BucketPublicAccessBlock:
    child = pulumi.ResourceOptions(parent=parent)
    s3.BucketServerSideEncryptionConfiguration(
        f"{name}-sse",
        bucket=bucket.id,
        rules=[
            # Bucket keys cut KMS request cost (and throttling) by ~99% for busy buckets.
            {
                "apply_server_side_encryption_by_default": sse,
                "bucket_key_enabled": sse["sse_algorithm"] != "AES256",
            }
        ],
        opts=child,
    )
    s3.BucketVersioning(
        f"{name}-versioning",
        bucket=bucket.id,
        versioning_configuration={"status": "Enabled" if versioning else "Suspended"},
        opts=child,
    )
    pab = s3.BucketPublicAccessBlock(
        f"{name}-public-access",
        bucket=bucket.id,
        # All four flags: no ACL or policy can ever make lake data public.
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=child,
    )
    s3.BucketOwnershipControls(
        f"{name}-ownership",
        bucket=bucket.id,
        rule={"object_ownership": "BucketOwnerEnforced"},  # disables ACLs: access is policy-only
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[pab]),
    )
    return pab


def tls_only_policy(
    parent: pulumi.Resource,
    name: str,
    bucket: s3.Bucket,
    pab: s3.BucketPublicAccessBlock,
    extra: list[dict] | None = None,
) -> s3.BucketPolicy:
    deny_plain_http = {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket.arn, pulumi.Output.concat(bucket.arn, "/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    return s3.BucketPolicy(
        f"{name}-policy",
        bucket=bucket.id,
        policy=pol.document([deny_plain_http, *(extra or [])]),
        # Applying a policy while the public access block is being set races; order them.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[pab]),
    )


def lifecycle_rule(
    rule_id: str,
    *,
    noncurrent_days: int | None = None,
    cold_after_days: int | None = None,
    expiry_days: int | None = None,
) -> s3.BucketLifecycleConfigurationRuleArgsDict:
    rule: s3.BucketLifecycleConfigurationRuleArgsDict = {
        "id": rule_id,
        "status": "Enabled",
        "filter": {"prefix": ""},
        "abort_incomplete_multipart_upload": {"days_after_initiation": MULTIPART_ABORT_DAYS},
    }
    if noncurrent_days is not None:
        rule["noncurrent_version_expiration"] = {"noncurrent_days": noncurrent_days}
    if cold_after_days is not None:
        rule["transitions"] = [{"days": cold_after_days, "storage_class": "STANDARD_IA"}]
    if expiry_days is not None:
        rule["expiration"] = {"days": expiry_days}
    return rule


def lifecycle(
    parent: pulumi.Resource,
    name: str,
    bucket: s3.Bucket,
    rules: list[s3.BucketLifecycleConfigurationRuleArgsDict],
) -> s3.BucketLifecycleConfiguration:
    return s3.BucketLifecycleConfiguration(
        f"{name}-lifecycle", bucket=bucket.id, rules=rules, opts=pulumi.ResourceOptions(parent=parent)
    )

"""SparkCluster on AWS: an EMR Serverless application (default, scales to zero) or an EMR on EC2 cluster.

The job role reads the raw zone, writes the curated zone and writes Spark logs under the artifacts zone; nothing else
in the account. EMR on EC2 in-transit encryption needs a PEM certificate bundle in S3 that this stack cannot mint
(ACM private CA costs ~400 USD/month): set `tricloud:spark.aws.tls_certificate_s3_uri` to enable it; without it only at-rest
encryption is on and a warning says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_aws.emr as emr
import pulumi_aws.emrserverless as emrserverless
import pulumi_aws.iam as iam

from components import aws_policy as pol
from components.data_lake.aws import DataLake
from components.data_lake.spec import Zone
from components.naming import physical_name
from components.spark_cluster.spec import OUTPUTS, SparkClusterArgs, SparkMode
from components.spark_cluster.spec import SparkCluster as Concept
from components.tags import component_tags

LOGS_PREFIX = "spark-logs/"
# Spot bid cap per task node (USD/h): above m5.xlarge on-demand in ap-south-1, so it caps a price spike; the bill
# is the spot price. Task nodes hold no HDFS data, so an interruption loses no data.
SPOT_BID_USD = "0.25"
EMR_SERVICE_POLICY = (
    "service-role/AmazonEMRServicePolicy_v2"  # AWS-maintained, tag-scoped to EMR-created resources
)


@dataclass(frozen=True)
class SparkClusterNative:
    job_role: iam.Role
    application: emrserverless.Application | None = None
    cluster: emr.Cluster | None = None
    security_configuration: emr.SecurityConfiguration | None = None
    service_role: iam.Role | None = None
    instance_profile: iam.InstanceProfile | None = None
    task_group: emr.InstanceGroup | None = None


class SparkCluster(pulumi.ComponentResource):
    OUTPUTS: ClassVar[tuple[str, ...]] = OUTPUTS  # the cloud-neutral outputs this class registers
    spark_application: pulumi.Output[str]
    spark_job_role: pulumi.Output[str]
    spark_logs_uri: pulumi.Output[str]
    native: SparkClusterNative

    def __init__(
        self,
        name: str,
        args: SparkClusterArgs,
        *,
        lake: DataLake,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("tricloud:aws:SparkCluster", name, None, opts)
        args.validate()
        tags = component_tags("aws", Concept.name, args.tags)
        project, stack = pulumi.get_project(), pulumi.get_stack()
        ctx = pol.context(self)
        child = pulumi.ResourceOptions(parent=self)
        serverless = args.mode is SparkMode.SERVERLESS
        logs_uri = lake.uri(Zone.ARTIFACTS, LOGS_PREFIX)

        job_role = pol.role(
            f"{name}-job-role",
            physical=physical_name("aws:iam_role", project, stack, "spark-job"),
            # Serverless jobs assume the role directly; EMR on EC2 nodes get it through an instance profile.
            service="emr-serverless.amazonaws.com" if serverless else "ec2.amazonaws.com",
            ctx=ctx,
            tags=tags,
            parent=self,
            description="Spark jobs: read raw, overwrite curated, write Spark logs",
        )
        lake.grant_read(job_role, zone=Zone.RAW, parent=self)
        # Spark over s3a with mode("overwrite") lists, reads and deletes under the output path and commits by
        # copy + delete: PutObject alone fails on a real account with AccessDenied (DESIGN.md section 8).
        lake.grant_read(job_role, zone=Zone.CURATED, parent=self)
        lake.grant_write(job_role, zone=Zone.CURATED, delete=True, parent=self)
        lake.grant_write(job_role, zone=Zone.ARTIFACTS, prefix=LOGS_PREFIX, parent=self)

        if serverless:
            app = emrserverless.Application(
                f"{name}-app",
                name=physical_name("aws:generic", project, stack, "spark"),
                release_label=args.aws.release_label,
                type="spark",
                auto_start_configuration={"enabled": args.auto_start},
                # Nothing bills between jobs once the application stops.
                auto_stop_configuration={"enabled": True, "idle_timeout_minutes": args.idle_timeout_minutes},
                maximum_capacity={"cpu": f"{args.max_vcpu} vCPU", "memory": f"{args.max_memory_gb} GB"},
                monitoring_configuration={
                    "s3_monitoring_configuration": {"log_uri": logs_uri, "encryption_key_arn": lake.key_arn}
                },
                tags=tags,
                opts=child,
            )
            self.spark_application = app.id
            self.native = SparkClusterNative(job_role=job_role, application=app)
        else:
            self.native = self._cluster(
                name, args, lake, job_role, tags, args.aws.tls_certificate_s3_uri, logs_uri, ctx
            )
            assert self.native.cluster is not None
            self.spark_application = self.native.cluster.id

        self.spark_job_role = job_role.arn
        self.spark_logs_uri = logs_uri
        self.register_outputs({k: getattr(self, k) for k in OUTPUTS})

    def _cluster(
        self,
        name: str,
        args: SparkClusterArgs,
        lake: DataLake,
        job_role: iam.Role,
        tags: dict[str, str],
        tls_uri: str | None,
        logs_uri: pulumi.Output[str],
        ctx: pol.AwsContext,
    ) -> SparkClusterNative:
        project, stack = pulumi.get_project(), pulumi.get_stack()
        child = pulumi.ResourceOptions(parent=self)
        o = args.aws
        encryption: dict = {
            "EnableAtRestEncryption": True,
            "AtRestEncryptionConfiguration": {
                "S3EncryptionConfiguration": {"EncryptionMode": "SSE-KMS", "AwsKmsKey": lake.key_arn},
                "LocalDiskEncryptionConfiguration": {
                    "EncryptionKeyProviderType": "AwsKms",
                    "AwsKmsKey": lake.key_arn,
                    "EnableEbsEncryption": True,  # root and EBS volumes too, not only instance store
                },
            },
            "EnableInTransitEncryption": tls_uri is not None,
        }
        if tls_uri is not None:
            encryption["InTransitEncryptionConfiguration"] = {
                "TLSCertificateConfiguration": {"CertificateProviderType": "PEM", "S3Object": tls_uri}
            }
        else:
            pulumi.log.warn(
                "EMR on EC2: in-transit encryption is off (no tls_certificate_s3_uri); at-rest encryption is on",
                resource=self,
            )
        security = emr.SecurityConfiguration(
            f"{name}-security",
            # Immutable: a changed configuration is a new one, created before the old is deleted, so the name varies.
            name_prefix=physical_name("aws:generic", project, stack, "spark-security") + "-",
            configuration=pulumi.Output.json_dumps({"EncryptionConfiguration": encryption}),
            opts=child,
        )
        service_role = iam.Role(
            f"{name}-service-role",
            name=physical_name("aws:iam_role", project, stack, "emr-service"),
            assume_role_policy=pol.service_trust(
                "elasticmapreduce.amazonaws.com", source_account=ctx.account_id
            ),
            tags=tags,
            opts=child,
        )
        iam.RolePolicyAttachment(
            f"{name}-service-role-policy",
            role=service_role.name,
            policy_arn=pulumi.Output.concat("arn:", ctx.partition, ":iam::aws:policy/", EMR_SERVICE_POLICY),
            opts=child,
        )
        # EMR encrypts the local disks and logs with the lake key on the nodes' behalf.
        pol.inline_policy(
            f"{name}-job-role-kms-grants",
            job_role,
            [
                pol.statement(
                    ["kms:CreateGrant"],
                    [lake.key_arn],
                    conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
                )
            ],
            parent=self,
        )
        profile = iam.InstanceProfile(
            f"{name}-instance-profile",
            name=physical_name("aws:iam_role", project, stack, "spark-nodes"),
            role=job_role.name,
            tags=tags,
            opts=child,
        )
        ec2_attributes: emr.ClusterEc2AttributesArgsDict = {"instance_profile": profile.arn}
        if o.subnet_id:
            ec2_attributes["subnet_id"] = o.subnet_id
        cluster = emr.Cluster(
            f"{name}-cluster",
            name=physical_name("aws:generic", project, stack, "spark"),
            release_label=o.release_label,
            applications=["Spark"],
            service_role=service_role.arn,
            security_configuration=security.name,
            ec2_attributes=ec2_attributes,
            master_instance_group={"instance_type": o.master_instance_type, "instance_count": 1},
            core_instance_group={
                "instance_type": o.core_instance_type,
                "instance_count": o.core_instance_count,
            },
            # Idle clusters terminate themselves: the most common surprise bill in EMR courses.
            auto_termination_policy={"idle_timeout": args.idle_timeout_minutes * 60},
            keep_job_flow_alive_when_no_steps=True,
            log_uri=logs_uri,
            log_encryption_kms_key_id=lake.key_arn,
            visible_to_all_users=False,  # only the creating principal and IAM-allowed users see the cluster
            tags=tags,
            opts=child,
        )
        task_group = None
        if o.task_spot_instance_count > 0:
            task_group = emr.InstanceGroup(
                f"{name}-task-spot",
                cluster_id=cluster.id,
                name="task-spot",
                instance_type=o.task_instance_type,
                instance_count=o.task_spot_instance_count,
                bid_price=SPOT_BID_USD,  # a bid price makes the group spot
                opts=child,
            )
        return SparkClusterNative(
            job_role=job_role,
            cluster=cluster,
            security_configuration=security,
            service_role=service_role,
            instance_profile=profile,
            task_group=task_group,
        )


__all__ = ["SparkCluster", "SparkClusterNative"]

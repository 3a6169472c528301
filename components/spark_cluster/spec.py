"""SparkCluster spec (cloud-neutral).

AWS: EMR Serverless application (default) or EMR on EC2. Azure: Databricks workspace + job cluster policy.
GCP: Dataproc Serverless (default) or a Dataproc cluster. All run the Spark 3.5 line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from components.errors import in_range, matches, positive, require
from components.spec_base import Args, Concept


class SparkMode(StrEnum):
    SERVERLESS = "serverless"  # pay per job; nothing runs between jobs
    CLUSTER = "cluster"  # long-lived cluster for interactive work; idles out after idle_timeout_minutes


OUTPUTS = ("spark_application", "spark_job_role", "spark_logs_uri")


@dataclass(frozen=True, kw_only=True)
class AwsSparkOptions(Args):
    release_label: str = "emr-7.5.0"  # Spark 3.5.2, the line app/features is tested with
    master_instance_type: str = "m5.xlarge"  # EMR on EC2 primary node
    core_instance_type: str = "m5.xlarge"  # on-demand: core nodes hold HDFS
    core_instance_count: int = 2  # EMR on EC2 core nodes
    task_instance_type: str = "m5.xlarge"  # spot task nodes add compute only
    task_spot_instance_count: int = 2  # task nodes hold no HDFS data, so spot interruptions lose no data
    subnet_id: str | None = None  # EMR on EC2 only; None uses the default VPC
    # A private CA would cost ~400 USD/month, so the certificate is the user's own PEM zip in S3.
    tls_certificate_s3_uri: str | None = None  # EMR on EC2 in-transit encryption; None: at-rest only

    def validate(self) -> None:
        matches(
            "release_label", self.release_label, r"emr-7\.\d+\.\d+", "an EMR 7.x release label (Spark 3.5)"
        )
        positive("core_instance_count", self.core_instance_count)
        in_range("task_spot_instance_count", self.task_spot_instance_count, 0, 100)
        if self.tls_certificate_s3_uri is not None:
            matches(
                "tls_certificate_s3_uri",
                self.tls_certificate_s3_uri,
                r"s3://[a-z0-9.-]{3,63}/.+\.zip",
                "an s3://bucket/key.zip URI",
            )


@dataclass(frozen=True, kw_only=True)
class GcpSparkOptions(Args):
    # Flow logs are billed per GiB generated (~0.50 USD/GiB, plus Cloud Logging ingestion); a feature job's few
    # executors produce kilobytes to megabytes per run. Lower the sampling for heavy interactive clusters.
    flow_log_sampling_percent: int = 100  # VPC flow logs of the Spark subnet (CIS GCP 3.8); 0 turns them off

    def validate(self) -> None:
        in_range("flow_log_sampling_percent", self.flow_log_sampling_percent, 0, 100)


@dataclass(frozen=True, kw_only=True)
class SparkClusterArgs(Args):
    mode: SparkMode = SparkMode.SERVERLESS  # serverless (pay per job) or cluster (long-lived, idles out)
    idle_timeout_minutes: int = 15  # stop paying soon after the last job
    max_vcpu: int = 16  # hard ceiling on spend per job burst
    max_memory_gb: int = 64  # memory ceiling to match max_vcpu
    auto_start: bool = True  # a submitted job starts the application; nothing to remember
    aws: AwsSparkOptions = field(default_factory=AwsSparkOptions)
    gcp: GcpSparkOptions = field(default_factory=GcpSparkOptions)

    def validate(self) -> None:
        in_range("idle_timeout_minutes", self.idle_timeout_minutes, 1, 1440)
        in_range("max_vcpu", self.max_vcpu, 1, 4000)
        in_range("max_memory_gb", self.max_memory_gb, 1, 16000)
        require(
            self.max_memory_gb >= self.max_vcpu,
            "max_memory_gb",
            self.max_memory_gb,
            f"must be at least 1 GB per vCPU (max_vcpu = {self.max_vcpu})",
        )


class SparkCluster(Concept):
    name = "SparkCluster"
    outputs = OUTPUTS

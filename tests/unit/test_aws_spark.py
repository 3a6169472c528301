"""SparkCluster on AWS: EMR Serverless scales to zero with a capped capacity; EMR on EC2 encrypts and idles out."""

from __future__ import annotations

import json

import pulumi
from aws_support import KEY_ARN, actions_and_resources, bucket_arn, role_statements, settled

from components.data_lake.aws import DataLake
from components.data_lake.spec import DataLakeArgs
from components.spark_cluster.aws import SparkCluster
from components.spark_cluster.spec import OUTPUTS, AwsSparkOptions, SparkClusterArgs, SparkMode
from tricloud.mocks import RecordingMocks


def _spark(args: SparkClusterArgs) -> SparkCluster:
    lake = DataLake("lake", DataLakeArgs())
    return SparkCluster("spark", args, lake=lake)


@pulumi.runtime.test
def test_serverless_application_auto_starts_stops_and_caps_capacity(mocks: RecordingMocks):
    spark = _spark(SparkClusterArgs(idle_timeout_minutes=20, max_vcpu=8, max_memory_gb=32))

    def check(app_id: str) -> None:
        app = mocks.one("aws:emrserverless/application:Application").inputs
        assert app["type"] == "spark" and app["releaseLabel"] == "emr-7.5.0"
        assert app["autoStartConfiguration"] == {"enabled": True}
        assert app["autoStopConfiguration"] == {"enabled": True, "idleTimeoutMinutes": 20}
        assert app["maximumCapacity"] == {"cpu": "8 vCPU", "memory": "32 GB"}
        logs = app["monitoringConfiguration"]["s3MonitoringConfiguration"]
        assert logs == {
            "logUri": "s3://tricloud-aws-dev-artifacts-123456789012-ap-south-1/spark-logs/",
            "encryptionKeyArn": KEY_ARN,
        }
        assert app_id == mocks.one("aws:emrserverless/application:Application").id
        assert mocks.of_type("aws:emr/cluster:Cluster") == []
        assert mocks.registered_outputs["spark"] == sorted(OUTPUTS)

    return pulumi.Output.all(settled(lambda: None), spark.spark_application).apply(lambda v: check(v[1]))


@pulumi.runtime.test
def test_job_role_reads_raw_writes_curated_and_logs_only(mocks: RecordingMocks):
    _spark(SparkClusterArgs())

    def check() -> None:
        pairs = actions_and_resources(role_statements(mocks, "tricloud-aws-dev-spark-job"))
        s3 = {(a, r) for a, r in pairs if a.startswith("s3:")}
        assert ("s3:GetObject", bucket_arn("raw") + "/*") in s3
        assert ("s3:PutObject", bucket_arn("curated") + "/*") in s3
        # mode("overwrite") over s3a lists, reads and deletes under the output path (DESIGN.md section 8)
        assert ("s3:ListBucket", bucket_arn("curated")) in s3
        assert {
            ("s3:GetObject", bucket_arn("curated") + "/*"),
            ("s3:DeleteObject", bucket_arn("curated") + "/*"),
        } <= s3
        assert {r for a, r in s3 if a == "s3:DeleteObject"} == {bucket_arn("curated") + "/*"}
        assert ("s3:PutObject", bucket_arn("artifacts") + "/spark-logs/*") in s3
        allowed = {bucket_arn(z) for z in ("raw", "curated")} | {
            bucket_arn("raw") + "/*",
            bucket_arn("curated") + "/*",
        }
        allowed.add(bucket_arn("artifacts") + "/spark-logs/*")
        assert {r for _, r in s3} <= allowed
        assert not any(a == "s3:PutObject" and "raw" in r for a, r in s3)  # raw is never written
        assert {r for a, r in pairs if a.startswith("kms:")} == {KEY_ARN}
        assert all(r != "*" for _, r in pairs)
        trust = json.loads(mocks.one("aws:iam/role:Role", "spark-job-role").inputs["assumeRolePolicy"])
        assert trust["Statement"][0]["Principal"] == {"Service": "emr-serverless.amazonaws.com"}
        assert trust["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}

    return settled(check)


@pulumi.runtime.test
def test_cluster_mode_encrypts_at_rest_idles_out_and_uses_spot_task_nodes(mocks: RecordingMocks):
    args = SparkClusterArgs(
        mode=SparkMode.CLUSTER,
        idle_timeout_minutes=30,
        aws=AwsSparkOptions(task_spot_instance_count=3, core_instance_count=2, subnet_id="subnet-0abc"),
    )
    _spark(args)

    def check() -> None:
        cluster = mocks.one("aws:emr/cluster:Cluster").inputs
        assert cluster["autoTerminationPolicy"] == {"idleTimeout": 1800}
        assert cluster["applications"] == ["Spark"]
        assert cluster["coreInstanceGroup"] == {"instanceType": "m5.xlarge", "instanceCount": 2}
        assert cluster["ec2Attributes"]["subnetId"] == "subnet-0abc"
        sec_rec = mocks.one("aws:emr/securityConfiguration:SecurityConfiguration")
        assert sec_rec.inputs["namePrefix"] == "tricloud-aws-dev-spark-security-"
        assert cluster["securityConfiguration"] == sec_rec.state["name"]
        assert cluster["securityConfiguration"].startswith("tricloud-aws-dev-spark-security-")
        assert cluster["logEncryptionKmsKeyId"] == KEY_ARN
        sec = json.loads(
            mocks.one("aws:emr/securityConfiguration:SecurityConfiguration").inputs["configuration"]
        )
        enc = sec["EncryptionConfiguration"]
        assert enc["EnableAtRestEncryption"] is True
        rest = enc["AtRestEncryptionConfiguration"]
        assert rest["S3EncryptionConfiguration"] == {"EncryptionMode": "SSE-KMS", "AwsKmsKey": KEY_ARN}
        assert rest["LocalDiskEncryptionConfiguration"]["AwsKmsKey"] == KEY_ARN
        assert rest["LocalDiskEncryptionConfiguration"]["EnableEbsEncryption"] is True
        assert enc["EnableInTransitEncryption"] is False  # no certificate given: documented limitation
        task = mocks.one("aws:emr/instanceGroup:InstanceGroup").inputs
        assert task["instanceCount"] == 3 and task["bidPrice"]  # a bid price makes the group spot
        trust = json.loads(mocks.one("aws:iam/role:Role", "spark-job-role").inputs["assumeRolePolicy"])
        assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
        assert mocks.of_type("aws:emrserverless/application:Application") == []

    return settled(check)


@pulumi.runtime.test
def test_cluster_mode_turns_on_in_transit_encryption_with_a_certificate(mocks: RecordingMocks):
    _spark(
        SparkClusterArgs(
            mode=SparkMode.CLUSTER, aws=AwsSparkOptions(tls_certificate_s3_uri="s3://certs/emr.zip")
        )
    )

    def check() -> None:
        enc = json.loads(
            mocks.one("aws:emr/securityConfiguration:SecurityConfiguration").inputs["configuration"]
        )["EncryptionConfiguration"]
        assert enc["EnableInTransitEncryption"] is True
        assert enc["InTransitEncryptionConfiguration"]["TLSCertificateConfiguration"] == {
            "CertificateProviderType": "PEM",
            "S3Object": "s3://certs/emr.zip",
        }

    return settled(check)

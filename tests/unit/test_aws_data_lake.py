"""DataLake on AWS: encryption with the lake key, versioning, public access, TLS-only, lifecycle, logs, Glue, Athena."""

from __future__ import annotations

import json

import pulumi
from aws_support import KEY_ARN, bucket_arn, doc, role_statements, settled

from components.data_lake.aws import DataLake
from components.data_lake.spec import OUTPUTS, DataLakeArgs, Zone
from tricloud.mocks import RecordingMocks

ZONES = ("raw", "curated", "artifacts")


@pulumi.runtime.test
def test_zone_buckets_use_sse_kms_with_the_lake_key_and_bucket_keys(mocks: RecordingMocks):
    DataLake("lake", DataLakeArgs())

    def check() -> None:
        for zone in ZONES:
            rule = mocks.one(
                "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                f"lake-{zone}-sse",
            ).inputs["rules"][0]
            assert rule["applyServerSideEncryptionByDefault"] == {
                "sseAlgorithm": "aws:kms",
                "kmsMasterKeyId": KEY_ARN,
            }
            assert rule["bucketKeyEnabled"] is True
        # Server access logs cannot be delivered to SSE-KMS buckets.
        logs = mocks.one(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "lake-logs-sse",
        )
        assert logs.inputs["rules"][0]["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
        key = mocks.one("aws:kms/key:Key", "lake-key").inputs
        assert key["enableKeyRotation"] is True and key["rotationPeriodInDays"] == 90

    return settled(check)


@pulumi.runtime.test
def test_versioning_public_access_block_and_ownership(mocks: RecordingMocks):
    DataLake("lake", DataLakeArgs())

    def check() -> None:
        for zone in (*ZONES, "logs"):
            v = mocks.one("aws:s3/bucketVersioning:BucketVersioning", f"lake-{zone}-versioning").inputs
            assert v["versioningConfiguration"] == {"status": "Enabled"}
        for zone in (*ZONES, "logs"):
            pab = mocks.one(
                "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"lake-{zone}-public-access"
            ).inputs
            for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
                assert pab[flag] is True, (zone, flag)
            own = mocks.one(
                "aws:s3/bucketOwnershipControls:BucketOwnershipControls", f"lake-{zone}-ownership"
            )
            assert own.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}

    return settled(check)


@pulumi.runtime.test
def test_every_bucket_denies_plain_http(mocks: RecordingMocks):
    DataLake("lake", DataLakeArgs())

    def check() -> None:
        for zone in (*ZONES, "logs"):
            rec = mocks.one("aws:s3/bucketPolicy:BucketPolicy", f"lake-{zone}-policy")
            deny = [s for s in doc(rec)["Statement"] if s["Effect"] == "Deny"]
            assert len(deny) == 1
            assert deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            assert deny[0]["Action"] == "s3:*" and deny[0]["Principal"] == "*"
            arn = bucket_arn(zone)
            assert deny[0]["Resource"] == [arn, f"{arn}/*"]
            # The policy waits for the public access block (they race otherwise).
            assert f"lake-{zone}-public-access" in rec.depends_on

    return settled(check)


@pulumi.runtime.test
def test_lifecycle_raw_goes_cold_and_every_zone_expires_noncurrent_and_multipart(mocks: RecordingMocks):
    DataLake(
        "lake", DataLakeArgs(raw_cold_after_days=45, raw_expiry_days=400, noncurrent_version_expiry_days=14)
    )

    def check() -> None:
        raw = {
            r["id"]: r
            for r in mocks.one(
                "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "lake-raw-lifecycle"
            ).inputs["rules"]
        }
        assert raw["raw-cold"]["transitions"] == [{"days": 45, "storageClass": "STANDARD_IA"}]
        assert raw["raw-cold"]["expiration"] == {"days": 400}
        for zone in ZONES:
            rules = mocks.one(
                "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", f"lake-{zone}-lifecycle"
            ).inputs["rules"]
            base = next(r for r in rules if r["id"] == "noncurrent-and-multipart")
            assert base["noncurrentVersionExpiration"] == {"noncurrentDays": 14}
            assert base["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}
            assert all(r["status"] == "Enabled" for r in rules)
            if zone != "raw":
                assert not any("transitions" in r for r in rules), zone

    return settled(check)


@pulumi.runtime.test
def test_access_logging_of_each_zone_goes_to_the_log_bucket(mocks: RecordingMocks):
    DataLake("lake", DataLakeArgs())

    def check() -> None:
        for zone in ZONES:
            rec = mocks.one("aws:s3/bucketLogging:BucketLogging", f"lake-{zone}-logging").inputs
            assert rec["targetBucket"] == f"tricloud-aws-dev-logs-{'123456789012'}-ap-south-1"
            assert rec["targetPrefix"] == f"{zone}/"
        log_policy = doc(mocks.one("aws:s3/bucketPolicy:BucketPolicy", "lake-logs-policy"))
        allow = next(s for s in log_policy["Statement"] if s["Effect"] == "Allow")
        assert allow["Principal"] == {"Service": "logging.s3.amazonaws.com"}
        assert allow["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}

    return settled(check)


@pulumi.runtime.test
def test_access_logging_can_be_turned_off(mocks: RecordingMocks):
    DataLake("lake", DataLakeArgs(access_logging=False))
    return settled(lambda: _assert_equal(mocks.of_type("aws:s3/bucketLogging:BucketLogging"), []))


def _assert_equal(a: object, b: object) -> None:
    assert a == b


@pulumi.runtime.test
def test_crawler_targets_the_curated_zone_with_a_role_scoped_to_it(mocks: RecordingMocks):
    DataLake("lake", DataLakeArgs())

    def check() -> None:
        crawler = mocks.one("aws:glue/crawler:Crawler").inputs
        curated = "s3://tricloud-aws-dev-curated-123456789012-ap-south-1/"
        assert crawler["s3Targets"] == [{"path": curated}]
        assert crawler["databaseName"] == "tricloud_aws_dev_lake"
        assert crawler["schemaChangePolicy"]["deleteBehavior"] == "LOG"
        assert crawler["securityConfiguration"] == "tricloud-aws-dev-lake-glue"
        statements = role_statements(mocks, "tricloud-aws-dev-lake-crawler")
        s3_resources = {r for s in statements for r in s["Resource"] if r.startswith("arn:aws:s3")}
        assert s3_resources == {bucket_arn("curated"), bucket_arn("curated") + "/*"}
        assert not any(
            a.startswith("s3:Put") or a.startswith("s3:Delete") for s in statements for a in s["Action"]
        )
        glue = next(s for s in statements if s.get("Sid") == "OwnDatabaseOnly")
        assert all("tricloud_aws_dev_lake" in r or r.endswith(":catalog") for r in glue["Resource"])
        trust = json.loads(mocks.one("aws:iam/role:Role", "lake-crawler-role").inputs["assumeRolePolicy"])
        assert trust["Statement"][0]["Principal"] == {"Service": "glue.amazonaws.com"}

    return settled(check)


@pulumi.runtime.test
def test_athena_workgroup_enforces_kms_encrypted_results_in_the_artifacts_zone(mocks: RecordingMocks):
    DataLake("lake", DataLakeArgs())

    def check() -> None:
        conf = mocks.one("aws:athena/workgroup:Workgroup").inputs["configuration"]
        assert conf["enforceWorkgroupConfiguration"] is True
        result = conf["resultConfiguration"]
        assert result["encryptionConfiguration"] == {"encryptionOption": "SSE_KMS", "kmsKeyArn": KEY_ARN}
        assert (
            result["outputLocation"]
            == "s3://tricloud-aws-dev-artifacts-123456789012-ap-south-1/athena-results/"
        )
        assert conf["bytesScannedCutoffPerQuery"] == 10 * 1024**3

    return settled(check)


@pulumi.runtime.test
def test_outputs_are_the_cloud_neutral_names(mocks: RecordingMocks):
    lake = DataLake("lake", DataLakeArgs())

    def check(values: list[str]) -> None:
        got = dict(zip(OUTPUTS, values, strict=True))
        assert (
            got["lake_uri"] == got["curated_uri"] == "s3://tricloud-aws-dev-curated-123456789012-ap-south-1/"
        )
        assert got["raw_uri"].startswith("s3://tricloud-aws-dev-raw-")
        assert got["encryption_key"] == KEY_ARN
        assert got["catalog"] == "tricloud_aws_dev_lake"
        assert mocks.registered_outputs["lake"] == sorted(OUTPUTS)
        assert all(r.parent == "lake" for r in mocks.resources if r.type != "tricloud:aws:DataLake")

    return pulumi.Output.all(settled(lambda: None), *[getattr(lake, k) for k in OUTPUTS]).apply(
        lambda v: check(v[1:])
    )


@pulumi.runtime.test
def test_grants_are_scoped_to_a_zone_prefix_and_the_lake_key(mocks: RecordingMocks):
    import pulumi_aws.iam as iam

    lake = DataLake("lake", DataLakeArgs())
    role = iam.Role("reader", name="reader", assume_role_policy="{}")
    lake.grant_read(role, zone=Zone.ARTIFACTS, prefix="models/")
    lake.grant_write(role, zone=Zone.RAW, prefix="uploads/")

    def check() -> None:
        r = doc(mocks.one("aws:iam/rolePolicy:RolePolicy", "reader-lake-artifacts-models-read"))["Statement"]
        listing = next(s for s in r if "s3:ListBucket" in s["Action"])
        assert listing["Resource"] == [bucket_arn("artifacts")]
        assert listing["Condition"] == {"StringLike": {"s3:prefix": ["models/*"]}}
        get = next(s for s in r if "s3:GetObject" in s["Action"])
        assert get["Resource"] == [bucket_arn("artifacts") + "/models/*"]
        assert get["Action"] == [
            "s3:GetObject"
        ]  # no past versions: the emulator's evaluation showed none read
        kms = next(s for s in r if s["Action"][0].startswith("kms:"))
        assert kms["Resource"] == [KEY_ARN] and "kms:GenerateDataKey" not in kms["Action"]
        w = doc(mocks.one("aws:iam/rolePolicy:RolePolicy", "reader-lake-raw-uploads-write"))["Statement"]
        put = next(s for s in w if "s3:PutObject" in s["Action"])
        assert put["Resource"] == [bucket_arn("raw") + "/uploads/*"]
        assert not any("s3:DeleteObject" in s["Action"] for s in w)
        assert "kms:GenerateDataKey" in next(s for s in w if s["Action"][0].startswith("kms:"))["Action"]

    return settled(check)

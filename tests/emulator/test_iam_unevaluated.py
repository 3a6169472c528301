"""What moto's IAM evaluation does not cover, proved by reading the rendered AWS inventory instead.

moto (5.2, read in moto/iam/access_control.py, policy_conditions.py, s3/responses.py) evaluates identity policies
only: it ignores conditions (except sts:ExternalId in trust policies), never consults KMS key policies, Lambda
permissions, SCPs, permission boundaries or session policies, applies a bucket policy only as an unconditional
Deny on object requests, and never checks the caller's KMS permissions behind SSE-KMS. docs/security.md lists each
gap; each test here reads the statements the gap would let through unnoticed. Known answers only.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tricloud.inventory import build_inventory

ACCOUNT = "123456789012"  # the mocks' account
REGION = "ap-south-1"


@pytest.fixture(scope="module")
def resources() -> list[dict[str, Any]]:
    return build_inventory("aws")["resources"]


def _of(resources: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["type"] == type_]


def _doc(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else value


def _statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    st = doc["Statement"]
    return st if isinstance(st, list) else [st]


def _as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def _role_statements(resources: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Role name -> the statements of its inline policies (every role policy of this stack is inline)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for rp in _of(resources, "aws:iam/rolePolicy:RolePolicy"):
        out.setdefault(rp["inputs"]["role"], []).extend(_statements(_doc(rp["inputs"]["policy"])))
    return out


def test_every_lake_bucket_denies_plain_http(resources) -> None:
    """Bucket policy conditions: moto would apply this Deny unconditionally, so the emulator leaves it out."""
    policies = {
        p["inputs"]["bucket"]: _doc(p["inputs"]["policy"])
        for p in _of(resources, "aws:s3/bucketPolicy:BucketPolicy")
    }
    zones = ("raw", "curated", "artifacts", "logs")
    assert sorted(policies) == sorted(f"tricloud-aws-dev-{z}-{ACCOUNT}-{REGION}" for z in zones)
    for bucket, doc in policies.items():
        deny = [s for s in _statements(doc) if s.get("Sid") == "DenyInsecureTransport"]
        assert deny == [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ], bucket


def test_the_log_bucket_admits_only_s3_logging_of_this_account(resources) -> None:
    """A bucket policy Allow grants nothing in moto; on AWS it is the only way the S3 logging service may write."""
    bucket = f"tricloud-aws-dev-logs-{ACCOUNT}-{REGION}"
    doc = next(
        _doc(p["inputs"]["policy"])
        for p in _of(resources, "aws:s3/bucketPolicy:BucketPolicy")
        if p["inputs"]["bucket"] == bucket
    )
    allows = [s for s in _statements(doc) if s["Effect"] == "Allow"]
    assert allows == [
        {
            "Sid": "S3ServerAccessLogs",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        }
    ]
    others = [
        p for p in _of(resources, "aws:s3/bucketPolicy:BucketPolicy") if p["inputs"]["bucket"] != bucket
    ]
    assert all(s["Effect"] == "Deny" for p in others for s in _statements(_doc(p["inputs"]["policy"])))


def test_kms_key_policies_delegate_to_iam_and_admit_services_only_under_conditions(resources) -> None:
    """moto never reads a key policy: the lake key and the alert key are checked here."""
    keys = {k["name"]: _statements(_doc(k["inputs"]["policy"])) for k in _of(resources, "aws:kms/key:Key")}
    assert sorted(keys) == ["lake-key", "observability-key"]
    root = {
        "Sid": "AccountAdmin",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    for name, statements in keys.items():
        assert statements[0] == root, name
        assert len(statements) == 2, name
        service = statements[1]
        assert service["Effect"] == "Allow" and set(service["Principal"]) == {"Service"}, name
        assert service["Condition"], f"{name}: a service statement without a condition admits every account"
    logs = keys["lake-key"][1]
    assert logs["Principal"] == {"Service": f"logs.{REGION}.amazonaws.com"}
    assert logs["Condition"] == {
        "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:*"}
    }
    alarms = keys["observability-key"][1]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert alarms["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    assert sorted(alarms["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]


def test_every_role_reading_or_writing_the_lake_may_use_its_key(resources) -> None:
    """SSE-KMS: S3 asks KMS as the caller (kms:Decrypt to read, kms:GenerateDataKey to write); moto's S3 does not."""
    lake_key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/key-lake-key"
    lake = "arn:aws:s3:::tricloud-aws-dev-"
    checked = 0
    for role, statements in _role_statements(resources).items():
        if role == "tricloud-aws-dev-ci-preview":
            # its s3:GetObject on code/monitor/* serves the preview's refresh of the drift job's code object, which
            # reads metadata and tags only (HeadObject, GetObjectTagging): no object body, so no key use
            continue

        def allows(action: str, prefix: str, statements: list[dict[str, Any]] = statements) -> bool:
            return any(
                s["Effect"] == "Allow"
                and action in _as_list(s["Action"])
                and any(str(r).startswith(prefix) for r in _as_list(s["Resource"]))
                for s in statements
            )

        reads = allows("s3:GetObject", lake)
        writes = allows("s3:PutObject", lake)
        if reads or writes:
            checked += 1
            assert allows("kms:Decrypt", lake_key), (
                f"{role} reads or writes SSE-KMS objects without kms:Decrypt"
            )
        if writes:
            assert allows("kms:GenerateDataKey", lake_key), (
                f"{role} writes SSE-KMS objects without GenerateDataKey"
            )
    # the crawler, the Spark job, training, the endpoint, the CI rollout role (models/) and capture's Firehose
    assert checked == 6


def test_conditions_moto_ignores_are_where_they_must_be(resources) -> None:
    roles = {
        r["inputs"]["name"]: _doc(r["inputs"]["assumeRolePolicy"])
        for r in _of(resources, "aws:iam/role:Role")
    }
    services = {
        name: st
        for name, doc in roles.items()
        for st in _statements(doc)
        if "Service" in st.get("Principal", {})
    }
    assert sorted(services) == sorted(
        f"tricloud-aws-dev-{n}"
        for n in (
            "api-function",
            "capture-firehose",
            "capture-logs",
            "dispatch",
            "drift-scheduler",
            "lake-crawler",
            "sagemaker-endpoint",
            "sagemaker-training",
            "spark-job",
        )
    )
    for name, st in services.items():  # the confused-deputy guard moto would never test
        assert st["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}, name
    # The three CI identities (preview, infrastructure, rollout): web identity only, GitHub's audience, one subject.
    for duty in ("preview", "infrastructure", "rollout"):
        ci = [
            st
            for st in _statements(roles[f"tricloud-aws-dev-ci-{duty}"])
            if "Federated" in st.get("Principal", {})
        ]
        assert ci and ci[0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:aud"] == (
            "sts.amazonaws.com"
        ), duty
        subjects = {**ci[0]["Condition"].get("StringEquals", {}), **ci[0]["Condition"].get("StringLike", {})}
        assert "token.actions.githubusercontent.com:sub" in subjects, duty  # only one repository's jobs
    # The endpoint may list models/ only: the s3:prefix condition moto would treat as satisfied for any prefix.
    endpoint = _role_statements(resources)["tricloud-aws-dev-sagemaker-endpoint"]
    listing = [s for s in endpoint if "s3:ListBucket" in _as_list(s["Action"])]
    assert [s.get("Condition") for s in listing] == [{"StringLike": {"s3:prefix": ["models/*"]}}]


def test_nothing_relies_on_what_moto_never_evaluates(resources) -> None:
    """No permission boundary, SCP, session policy or Lambda function URL: the stack's limits are all identity
    policies (evaluated) or the resource policies read above. One that appears must get a reading test first."""
    roles = _of(resources, "aws:iam/role:Role")
    assert roles and not [r["name"] for r in roles if r["inputs"].get("permissionsBoundary")]
    assert not [r["type"] for r in resources if r["type"].startswith("aws:organizations/")]
    assert not _of(resources, "aws:lambda/functionUrl:FunctionUrl")
    permissions = _of(resources, "aws:lambda/permission:Permission")
    assert [(p["inputs"]["principal"], p["inputs"]["action"]) for p in permissions] == [
        ("apigateway.amazonaws.com", "lambda:InvokeFunction")
    ]
    api = next(a for a in _of(resources, "aws:apigatewayv2/api:Api"))
    assert permissions[0]["inputs"]["sourceArn"].startswith(f"arn:aws:execute-api:{REGION}:{ACCOUNT}:")
    assert (
        permissions[0]["inputs"]["sourceArn"].endswith("/*/*")
        and api["inputs"]["name"] == "tricloud-aws-dev-api"
    )

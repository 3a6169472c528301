"""The three reference stacks against the policy pack, the fixes the review asked for, and the CLI.

KNOWN pins what the stacks still violate, with the file and the owner that will fix it: a new finding fails
this test (that is the CI gate), and a fixed one fails it too until it is removed here, so the list only shrinks.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest
from typer.testing import CliRunner

from tricloud.inventory import build_inventory, stack_config
from tricloud.policy.evaluate import Report, check_stack

# (level, policy, resource) -> where it is fixed and by whom. Mandatory entries block `tricloud policy check`.
KNOWN: dict[str, dict[tuple[str, str, str], str]] = {
    "aws": {
        ("advisory", "aws-lambda-code-signing", "api-function"): (
            "components/api_frontend/aws.py (policy): off by default, needs the signing job (docs/security.md)"
        ),
        ("advisory", "aws-sagemaker-image-digest", "endpoint-model"): (
            "components/model_endpoint/aws.py (endpoint owner): the model image pinned by digest"
        ),
    },
    "azure": {},
    "gcp": {},
}
# The findings each stack's declared exceptions excuse (tricloud:policy): (policy, resource, item). The CI
# infrastructure identities are excused by a name prefix (`ci-infrastructure-*`): every grant below must be listed.
_HEALTH = {
    "aws": {("aws-apigw-route-authorization", "api-route-health", None)},
    "azure": {
        ("azure-apim-operation-auth", "api-health", None),
        ("azure-keyvault-firewall", "api-vault", None),
    },
    "gcp": {
        ("gcp-api-gateway-auth", "api-config", "GET /health"),
        ("gcp-function-ingress", "api-function", None),
    },
}
# Azure ML's workspace is reached from the studio and runners outside any VNet (reasons in Pulumi.<stack>.yaml).
# Serving reached over public networks from plans without VNet integration (reasons in Pulumi.<stack>.yaml).
_SERVING = {
    "aws": set(),
    "azure": {
        ("azure-ml-endpoint-private", "endpoint-endpoint", None),
        ("azure-storage-network-deny", "api-host-storage", None),
    },
    "gcp": {("gcp-vertex-endpoint-private", "endpoint-endpoint", None)},
}
_TRAINING = {
    # not training, but the same kind: the rollout identity's one unscoped list (reason in Pulumi.<stack>.yaml)
    "aws": {("aws-iam-wildcard-resource", "ci-rollout-policy", None)},
    "azure": {
        ("azure-ml-workspace-private", "training-workspace", None),
        ("azure-storage-network-deny", "training-storage", None),
        ("azure-app-insights-entra-auth", "training-app-insights", None),
    },
    "gcp": set(),
}
_CI_INFRASTRUCTURE = {
    "aws": set(),
    "azure": {
        ("azure-rbac-least-privilege", "ci-infrastructure-contributor", None),
        ("azure-rbac-least-privilege", "ci-infrastructure-role-based-access-control-administrator", None),
    },
    "gcp": {
        ("gcp-iam-project-roles", f"ci-infrastructure-{role}", None)
        for role in (
            "aiplatform.admin",
            "apigateway.admin",
            "artifactregistry.admin",
            "bigquery.admin",
            "cloudfunctions.admin",
            "cloudkms.admin",
            "cloudscheduler.admin",
            "eventarc.admin",
            "iam.roleAdmin",
            "iam.serviceAccountAdmin",
            "iam.serviceAccountUser",
            "projectIamAdmin",
            "pubsub.admin",
            "run.admin",
            "secretmanager.admin",
            "serviceusage.apiKeysAdmin",
            "serviceusage.serviceUsageAdmin",
            "storage.admin",
            "workflows.admin",
        )
    },
}
# The retrain trigger's vault is read by a consumption Logic App, which no vault firewall admits.
_MONITORING = {
    "aws": set(),
    "azure": {("azure-keyvault-firewall", "observability-dispatch-vault", None)},
    "gcp": set(),
}
_CI_PREVIEW = {  # dev only: pull requests preview dev (prod has no preview identity)
    "aws": set(),
    "azure": {("azure-rbac-least-privilege", "ci-preview-reader", None)},
    "gcp": {("gcp-iam-project-roles", "ci-preview-viewer", None)},
}
EXCUSED = {
    (cloud, stack): _HEALTH[cloud]
    | _TRAINING[cloud]
    | _SERVING[cloud]
    | _CI_INFRASTRUCTURE[cloud]
    | _MONITORING[cloud]
    | (_CI_PREVIEW[cloud] if stack == "dev" else set())
    for cloud in ("aws", "azure", "gcp")
    for stack in ("dev", "prod")
}


@pytest.fixture(scope="module", params=sorted(EXCUSED), ids=lambda p: f"{p[0]}-{p[1]}")
def reference(request: pytest.FixtureRequest) -> Report:
    cloud, stack = request.param
    return check_stack(cloud, stack)


def test_reference_stacks_violate_exactly_the_known_list(reference: Report) -> None:
    found = {(v.level, v.policy, v.resource) for v in reference.violations}
    known = KNOWN[reference.cloud]
    new, fixed = found - set(known), set(known) - found
    assert not new, (
        f"new {reference.cloud} policy findings (fix them, or declare an exception with a reason): {new}"
    )
    assert not fixed, f"fixed {reference.cloud} findings: remove them from KNOWN: {fixed}"


def test_reference_stacks_apply_every_declared_exception(reference: Report) -> None:
    assert {(e.policy, e.resource, e.item) for e in reference.excused} == EXCUSED[
        (reference.cloud, reference.stack)
    ]
    assert reference.unused_exceptions == []
    assert all(len(e.reason) >= 20 for e in reference.excused)


def _variant(cloud: str, **changes: Any) -> dict[str, Any]:
    values = stack_config(cloud)
    for key, value in changes.items():
        values[f"tricloud:{key}"] = value
    return values


def _findings(report: Report, level: str = "mandatory") -> Counter[tuple[str, str]]:
    return Counter((v.policy, v.resource) for v in report.violations if v.level == level)


def test_without_its_exception_the_open_health_route_fails_the_check() -> None:
    values = stack_config("aws")
    values.pop("tricloud:policy")
    report = check_stack("aws", config=values)
    assert _findings(report) == {
        ("aws-apigw-route-authorization", "api-route-health"): 1,
        ("aws-iam-wildcard-resource", "ci-rollout-policy"): 1,  # its own exception went with the others
    }


@pytest.mark.parametrize(
    ("cloud", "policy", "key"),
    [("aws", "aws-kms-key-rotation", "lake-key"), ("azure", "azure-keyvault-key-rotation", "lake-key"),
     ("gcp", "gcp-kms-rotation", "lake-key")],
)  # fmt: skip
def test_a_yearly_key_rotation_is_a_mandatory_violation_on_every_cloud(
    cloud: str, policy: str, key: str
) -> None:
    lake = {**(stack_config(cloud).get("tricloud:lake") or {}), "key_rotation_days": 365}
    report = check_stack(cloud, config=_variant(cloud, lake=lake))
    assert _findings(report)[(policy, key)] == 1


def _inputs(inv: dict[str, Any], name: str, type_suffix: str) -> dict[str, Any]:
    (row,) = [r for r in inv["resources"] if r["name"] == name and r["type"].endswith(type_suffix)]
    return dict(row["inputs"])


def test_aws_fixes_log_groups_cmk_immutable_images_and_90_day_rotation() -> None:
    inv = build_inventory("aws")
    lake_key = inv["outputs"]["encryption_key"]
    for name in ("api-function-logs", "api-access-logs"):
        assert _inputs(inv, name, ":LogGroup")["kmsKeyId"] == lake_key
    assert _inputs(inv, "training-images", ":Repository")["imageTagMutability"] == "IMMUTABLE"
    for name in ("lake-key", "observability-key"):
        key = _inputs(inv, name, "kms/key:Key")
        assert key["enableKeyRotation"] is True and key["rotationPeriodInDays"] == 90


def test_gcp_fixes_topic_cmek_flow_logs_rotation_and_versioned_access_logs() -> None:
    inv = build_inventory("gcp")
    topic = _inputs(inv, "observability-alerts", "pubsub/topic:Topic")
    key = _inputs(inv, "observability-key", "kms/cryptoKey:CryptoKey")
    assert topic["kmsKeyName"].endswith("/keyRings/tricloud-gcp-dev-alerts/cryptoKeys/alerts")
    assert topic["messageStoragePolicy"] == {"allowedPersistenceRegions": ["asia-south1"]}
    assert key["rotationPeriod"] == "7776000s"
    grant = _inputs(inv, "observability-key-pubsub-agent", ":CryptoKeyIAMMember")
    assert grant["cryptoKeyId"] == topic["kmsKeyName"] and "gcp-sa-pubsub" in grant["member"]
    assert grant["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    assert _inputs(inv, "lake-key", "kms/cryptoKey:CryptoKey")["rotationPeriod"] == "7776000s"
    subnet = _inputs(inv, "spark-subnet", ":Subnetwork")
    assert subnet["logConfig"] == {
        "aggregationInterval": "INTERVAL_5_SEC",
        "flowSampling": 1,
        "metadata": "INCLUDE_ALL_METADATA",
    }
    assert _inputs(inv, "lake-logs", "storage/bucket:Bucket")["versioning"] == {"enabled": True}


def test_gcp_flow_logs_off_is_a_mandatory_violation() -> None:
    spark = {**stack_config("gcp")["tricloud:spark"], "gcp": {"flow_log_sampling_percent": 0}}
    report = check_stack("gcp", config=_variant("gcp", spark=spark))
    assert _findings(report)[("gcp-subnet-flow-logs", "spark-subnet")] == 1


def test_cli_prints_the_table_and_the_exceptions_and_exits_zero() -> None:
    from tricloud.cli import app

    result = CliRunner().invoke(app, ["policy", "check", "aws"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "aws-lambda-code-signing" in result.output and "exceptions (tricloud:policy)" in result.output
    assert "GET /health is open by design" in result.output
    assert "passed: 0 mandatory, 2 advisory, 2 excused" in result.output


def test_cli_json_and_exit_one_on_a_mandatory_violation(monkeypatch: pytest.MonkeyPatch) -> None:
    import tricloud.inventory
    from tricloud.cli import app

    real = tricloud.inventory.stack_config
    monkeypatch.setattr(
        tricloud.inventory,
        "stack_config",
        lambda cloud, stack="dev": {
            **real(cloud, stack),
            "tricloud:api": {"cors_origins": []},
            "tricloud:policy": {},
        },
    )
    result = CliRunner().invoke(app, ["policy", "check", "aws", "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["summary"]["mandatory"] == 2 and report["exceptions"] == []
    mandatory = {v["policy"]: v for v in report["violations"] if v["level"] == "mandatory"}
    assert set(mandatory) == {"aws-apigw-route-authorization", "aws-iam-wildcard-resource"}
    assert mandatory["aws-apigw-route-authorization"]["checkov"] == ["CKV_AWS_309"]


def test_cli_reports_an_unknown_stack_in_one_red_line_and_exits_two() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tricloud", "policy", "check", "aws", "--stack", "missing"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "stack = 'missing'" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("exception", "field", "reason"),
    [
        (
            {"policy": "azure-tags", "resource": "api-function", "reason": "x" * 30},
            "policy",
            "is not a policy of the aws stack",
        ),
        ({"policy": "aws-tags", "resource": "no-such-thing", "reason": "x" * 30}, "resource", "no resource"),
        (
            {"policy": "aws-tagz", "resource": "api-function", "reason": "x" * 30},
            "policy",
            "is not a policy id",
        ),
        ({"policy": "aws-tags", "resource": "api-function", "reason": "because"}, "reason", "at least 20"),
    ],
)
def test_a_bad_exception_is_refused_naming_the_field(
    exception: dict[str, str], field: str, reason: str
) -> None:
    from components.errors import InvalidArgs

    with pytest.raises(InvalidArgs) as err:
        check_stack("aws", config=_variant("aws", policy={"exceptions": [exception]}))
    assert err.value.field == f"tricloud:policy.exceptions[0].{field}" and reason in err.value.reason


def test_an_exception_that_excuses_nothing_is_reported_as_unused() -> None:
    stale = {"policy": "aws-tags", "resource": "api-function", "reason": "tags are added by hand later"}
    policy = {"exceptions": [*stack_config("aws")["tricloud:policy"]["exceptions"], stale]}
    report = check_stack("aws", config=_variant("aws", policy=policy))
    assert [(e.policy, e.resource) for e in report.unused_exceptions] == [("aws-tags", "api-function")]


def test_aws_code_signing_option_signs_the_zip_and_enforces_signatures() -> None:
    api = {**stack_config("aws").get("tricloud:api", {}), "aws": {"code_signing": True}}
    values = _variant("aws", api=api)
    inv = build_inventory("aws", config=values)
    config = _inputs(inv, "api-code-signing", "lambda/codeSigningConfig:CodeSigningConfig")
    assert config["policies"] == {"untrustedArtifactOnDeployment": "Enforce"}
    profile = _inputs(inv, "api-signing-profile", "signer/signingProfile:SigningProfile")
    assert profile["platformId"] == "AWSLambda-SHA384-ECDSA"
    job = _inputs(inv, "api-signing-job", "signer/signingJob:SigningJob")
    bucket = _inputs(inv, "api-code", "s3/bucket:Bucket")["bucket"]
    assert job["destination"] == {"s3": {"bucket": bucket, "prefix": "signed/"}}
    assert job["ignoreSigningJobFailure"] is False
    function = _inputs(inv, "api-function", "lambda/function:Function")
    assert function["codeSigningConfigArn"].endswith("api-code-signing") and "code" not in function
    # Signer reads an object version: the code bucket is versioned, and hardened like the lake's zones.
    assert _inputs(inv, "api-code-versioning", ":BucketVersioning")["versioningConfiguration"] == {
        "status": "Enabled"
    }
    report = check_stack("aws", config=values)
    assert ("aws-lambda-code-signing", "api-function") not in _findings(report, "advisory")
    assert {(v.policy, v.resource) for v in report.violations if v.resource == "api-code"} == {
        ("aws-s3-access-logging", "api-code")  # the code bucket logs no reads: advisory, by design
    }

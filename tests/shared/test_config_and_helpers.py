"""The shared layer: config loader, spec validation, naming and tag rules (no Pulumi engine needed)."""

import pytest

from components.errors import InvalidArgs
from components.model_endpoint.spec import SERVERLESS_MEMORY_MB, EndpointMode, ModelEndpointArgs
from components.naming import physical_name
from components.tags import normalise, standard_tags
from tricloud.config import parse, reference_markdown

BASE = {"aws:region": "ap-south-1"}


def test_defaults_load_and_types_are_coerced() -> None:
    cfg = parse(
        "aws",
        {
            **BASE,
            "tricloud:endpoint": {"serverless_memory_mb": 4096.0, "mode": "instance"},
            "tricloud:api": {"tracing": "false"},
            "tricloud:owner": "ml-team",
        },
    )
    assert cfg.endpoint.serverless_memory_mb == 4096
    assert cfg.endpoint.mode is EndpointMode.INSTANCE
    assert cfg.api.tracing is False
    assert cfg.lake.tags == {"owner": "ml-team"}


@pytest.mark.parametrize(
    ("values", "field", "value"),
    [
        (
            {"tricloud:endpoint": {"serverless_memory_mb": 3000}},
            "tricloud:endpoint.serverless_memory_mb",
            3000,
        ),
        ({"tricloud:spark": {"max_vcpu": -4}}, "tricloud:spark.max_vcpu", -4),
        ({"tricloud:lake": {"versionin": True}}, "tricloud:lake.versionin", True),
        (
            {"tricloud:spark": {"aws": {"release_label": "emr-6.15.0"}}},
            "tricloud:spark.aws.release_label",
            "emr-6.15.0",
        ),
        ({"tricloud:api": {"auth": "jwt"}}, "tricloud:api.jwt_issuer", None),
        ({"tricloud:api": {"timeout_seconds": "ten"}}, "tricloud:api.timeout_seconds", "ten"),
        ({"tricloud:endpont": {}}, "tricloud:endpont", {}),
        ({"aws:region": "Mumbai"}, "aws:region", "Mumbai"),
        (
            {"tricloud:ci": {"aws": {"existing_provider_arn": "arn:aws:iam::1:oidc-provider/x"}}},
            "tricloud:ci.aws.existing_provider_arn",
            "arn:aws:iam::1:oidc-provider/x",
        ),
        (
            {"tricloud:spark": {"aws": {"tls_certificate_s3_uri": "https://certs/emr.zip"}}},
            "tricloud:spark.aws.tls_certificate_s3_uri",
            "https://certs/emr.zip",
        ),
    ],
)
def test_invalid_config_names_key_and_value(values: dict, field: str, value: object) -> None:
    with pytest.raises(InvalidArgs) as info:
        parse("aws", {**BASE, **values})
    assert info.value.field == field
    assert info.value.value == value
    assert field in str(info.value) and repr(value) in str(info.value)


def test_missing_region_is_an_error() -> None:
    with pytest.raises(InvalidArgs, match="aws:region"):
        parse("aws", {})


def test_serverless_memory_allowed_set_matches_sagemaker() -> None:
    for mb in SERVERLESS_MEMORY_MB:
        ModelEndpointArgs(serverless_memory_mb=mb)
    with pytest.raises(InvalidArgs, match="serverless_memory_mb = 512"):
        ModelEndpointArgs(serverless_memory_mb=512)


def test_physical_names_respect_cloud_limits() -> None:
    assert physical_name("aws:s3_bucket", "Tricloud", "dev", "raw") == "tricloud-dev-raw"
    account = physical_name("azure:storage_account", "tricloud", "production-india", "lake")
    assert len(account) <= 24 and account.isalnum() and account.islower()
    long = physical_name("aws:s3_bucket", "x" * 70, "dev")
    assert len(long) == 63 and long != physical_name("aws:s3_bucket", "x" * 71, "dev")
    with pytest.raises(ValueError, match="kind = 'aws:nope'"):
        physical_name("aws:nope", "a")


def test_gcp_labels_are_normalised_and_standard_tags_cannot_be_spoofed() -> None:
    tags = standard_tags(
        project="tricloud",
        stack="Dev",
        component="DataLake",
        extra={"Cost-Center": "ML Platform", "component": "fake"},
    )
    assert tags["component"] == "DataLake"
    labels = normalise(tags, "gcp")
    assert (
        labels["cost-center"] == "ml_platform"
        and labels["stack"] == "dev"
        and labels["component"] == "datalake"
    )
    assert all(len(k) <= 63 and len(v) <= 63 for k, v in labels.items())


def test_reference_documents_every_key() -> None:
    ref = reference_markdown()
    assert "`tricloud:endpoint.serverless_memory_mb` | `2048`" in ref
    assert all(row.count("|") == 4 and not row.endswith("|  |") for row in ref.splitlines())


def test_cli_reports_a_missing_stack_file_in_one_line() -> None:
    from typer.testing import CliRunner

    from tricloud.cli import app

    result = CliRunner().invoke(app, ["inventory", "aws", "--stack", "nosuchstack"])
    assert result.exit_code != 0
    assert isinstance(result.exception, InvalidArgs)
    assert result.exception.field == "stack" and result.exception.value == "nosuchstack"
    assert "stacks/aws/Pulumi.nosuchstack.yaml does not exist" in str(result.exception)


def test_a_stack_file_that_is_not_yaml_is_one_clear_error(tmp_path, monkeypatch) -> None:
    import tricloud.inventory as inventory

    (tmp_path / "aws").mkdir()
    (tmp_path / "aws" / "__main__.py").write_text("")
    (tmp_path / "aws" / "Pulumi.broken.yaml").write_text("config:\n  tricloud:owner: `me`\n")
    monkeypatch.setattr(inventory, "REPO_ROOT", tmp_path.parent)
    monkeypatch.setattr(inventory, "stack_dir", lambda cloud: tmp_path / cloud)
    with pytest.raises(InvalidArgs) as info:
        inventory.stack_config("aws", "broken")
    assert info.value.field.endswith("aws/Pulumi.broken.yaml")
    # 2 spaces + "tricloud:owner: " = 18 characters before the backtick
    assert info.value.value == "line 2, column 19" and "is not valid YAML" in info.value.reason

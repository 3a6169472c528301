"""`tricloud script ...`: the deploy-time bodies rendered from a stack's config. Names follow the naming rules by
hand: `<project>-<stack>-<role>` (Azure Storage: lowercase alphanumerics only)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tricloud.cli import app


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["script", *args])
    return result.exit_code, result.output


def test_redshift_load_names_the_stacks_workgroup_database_and_curated_prefix() -> None:
    code, out = run("redshift-load", "s3://bucket-c/", "--stack", "dev")
    assert code == 0, out
    request = json.loads(out)
    assert (request["WorkgroupName"], request["Database"]) == ("tricloud-aws-dev-warehouse", "warehouse")
    assert "COPY listings_stage FROM 's3://bucket-c/listings/city=Mumbai/'" in "\n".join(request["Sqls"])


def test_azure_scripts_name_the_lake_account_and_the_policy() -> None:
    code, out = run("synapse-setup")
    assert code == 0 and "tricloudazuredevlake" in out, out
    code, out = run("synapse-load")
    assert code == 0 and "tricloudazuredevlake" in out, out
    code, out = run("databricks-policy")
    policy = json.loads(out)
    assert code == 0 and policy["name"] == "tricloud-azure-dev-spark-policy"
    assert json.loads(policy["definition"])["custom_tags.stack"] == {"type": "fixed", "value": "dev"}


def test_bad_input_is_one_line_naming_the_field_and_exit_2() -> None:
    code, out = run("redshift-load", "curated")
    assert code == 2 and "curated_uri = 'curated'" in out
    code, out = run("synapse-load", "--stack", "nosuch")
    assert code == 2 and "stack = 'nosuch'" in out

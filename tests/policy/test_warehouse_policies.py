"""The three stacks with the Warehouse enabled against the policy pack: the warehouse adds no finding, and every
warehouse policy has a resource of the stack to judge (a policy watching a type the stack never creates, or a
misspelt type, would pass silently)."""

from __future__ import annotations

import pytest

from tricloud.config import CLOUDS, with_optional_enabled
from tricloud.inventory import stack_config
from tricloud.policy.evaluate import Report, check_stack
from tricloud.policy.rules import all_rules
from tricloud.policy.rules import warehouse as rules

# Each warehouse policy and the resource type(s) of the enabled warehouse it judges.
JUDGED = {
    "aws-redshift-serverless-cmk": rules.NAMESPACE,
    "aws-redshift-serverless-admin-secret": rules.NAMESPACE,
    "aws-redshift-serverless-audit-logging": rules.NAMESPACE,
    "aws-redshift-serverless-private": rules.WORKGROUP,
    "aws-redshift-serverless-tls": rules.WORKGROUP,
    "aws-redshift-serverless-usage-limit": rules.WORKGROUP,
    "aws-vpc-flow-logs": rules.VPC,
    "aws-vpc-default-security-group-closed": rules.VPC,
    "aws-vpc-endpoint-policy": rules.VPC_ENDPOINT,
    "azure-synapse-sql-pool-tde": rules.SQL_POOL,
    "azure-synapse-sql-pool-auditing": rules.SQL_POOL,
    "azure-synapse-public-network": rules.SYNAPSE_WORKSPACE,
    "gcp-bigquery-table-cmek": rules.BQ_TABLE,
    "gcp-bigquery-transfer-cmek": rules.BQ_TRANSFER,
    "gcp-bigquery-table-deletion-protection": rules.BQ_TABLE,
}


def enabled_report(cloud: str) -> Report:
    return check_stack(cloud, config=with_optional_enabled(stack_config(cloud)))


@pytest.fixture(scope="module", params=CLOUDS)
def reports(request: pytest.FixtureRequest) -> tuple[str, Report, Report]:
    cloud = str(request.param)
    return cloud, check_stack(cloud), enabled_report(cloud)


def test_every_warehouse_policy_is_listed_here() -> None:
    from_module = {
        r.id
        for r in all_rules()
        if (r.check or r.stack_check) and (r.check or r.stack_check).__module__ == rules.__name__
    }
    assert from_module == set(JUDGED)


def test_enabling_the_warehouse_adds_no_finding(reports: tuple[str, Report, Report]) -> None:
    cloud, off, on = reports
    key = lambda v: (v.policy, v.resource, v.message)  # noqa: E731
    added = sorted(set(map(key, on.violations)) - set(map(key, off.violations)))
    assert added == [], f"{cloud}: the warehouse brings findings {added}"


def test_every_warehouse_policy_judges_a_resource_of_the_enabled_stack(
    reports: tuple[str, Report, Report],
) -> None:
    from tricloud.inventory import build_inventory

    cloud, _, on = reports
    types = {
        r["type"]
        for r in build_inventory(cloud, config=with_optional_enabled(stack_config(cloud)))["resources"]
    }
    for policy, judged in JUDGED.items():
        if policy.startswith(f"{cloud}-"):
            assert policy in on.policies and judged in types, (policy, judged)

"""Every policy fails its violating fixture (on the resource the fixture names) and passes its compliant one.

The fixtures go through `check_inventory`, i.e. the same `pulumi_policy` objects and the same argument
construction as `tricloud policy check`.
"""

from __future__ import annotations

from typing import Any

import pytest

from tricloud.policy.evaluate import check_inventory
from tricloud.policy.rules import all_rules, rule

from .fixtures import FIXTURES, Fixture


def inventory(cloud: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"cloud": cloud, "stack": "test", "region": "x", "resources": rows, "outputs": {}}


def findings(policy: str, fixture: Fixture) -> list[tuple[str, str]]:
    _, rows = fixture
    report = check_inventory(inventory(rule(policy).cloud, rows))
    return [(v.resource, v.message) for v in report.violations if v.policy == policy]


def test_every_policy_has_both_fixtures() -> None:
    assert sorted(FIXTURES) == sorted(r.id for r in all_rules())


@pytest.mark.parametrize("policy", sorted(FIXTURES))
def test_violating_fixture_fails_on_its_resource(policy: str) -> None:
    violating, _ = FIXTURES[policy]
    found = findings(policy, violating)
    assert found, f"{policy} passed its violating fixture"
    assert {resource for resource, _ in found} == {violating[0]}, found


@pytest.mark.parametrize("policy", sorted(FIXTURES))
def test_compliant_fixture_passes(policy: str) -> None:
    _, compliant = FIXTURES[policy]
    assert findings(policy, compliant) == []


def test_s3_log_bucket_must_be_sse_s3_and_needs_no_logs_of_its_own() -> None:
    """S3 delivers server access logs only to SSE-S3 buckets: a KMS-encrypted log target is a finding."""
    from .fixtures import log_bucket, s3_bucket

    found = findings("aws-s3-encryption-cmk", ("logs", [*s3_bucket(), *log_bucket(sse="aws:kms")]))
    assert found == [
        ("logs", "receives server access logs, which S3 delivers only to SSE-S3 (AES256) buckets")
    ]
    assert findings("aws-s3-access-logging", ("logs", [*s3_bucket(), *log_bucket()])) == []


def test_stack_policies_link_by_property_dependencies_when_names_are_unknown() -> None:
    """In a real preview of new buckets, names are unknown but the engine gives property dependencies: the
    S3 policies must link logging to its source and target through them, never touching the unknown names."""
    from pulumi_policy import PolicyCustomTimeouts, PolicyResource, PolicyResourceOptions, StackValidationArgs
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

    from tricloud.policy.pack import Exceptions, policy_for

    from .fixtures import log_bucket, s3_bucket

    rows = [*s3_bucket(), *log_bucket(sse="aws:kms")]
    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    made = {}
    for row in rows:
        props = {
            k: (UNKNOWN_STRING_VALUE if k in ("bucket", "targetBucket") else v)
            for k, v in row["inputs"].items()
        }
        made[row["name"]] = PolicyResource(
            row["type"],
            unknown_checking_proxy(props),
            f"urn::{row['name']}",
            row["name"],
            opts,
            None,
            None,
            [],
            {},
        )
    for row in rows:
        res = made[row["name"]]
        res.dependencies = [made[d] for d in row["depends_on"]]
        if row["name"] == "data-logging":
            res.property_dependencies = {"bucket": [made["data"]], "targetBucket": [made["logs"]]}
    reported: list[tuple[str, str | None]] = []
    policy = policy_for(rule("aws-s3-encryption-cmk"), lambda: Exceptions())
    policy.validate(StackValidationArgs(list(made.values())), lambda m, u: reported.append((m, u)))
    assert reported == [
        ("receives server access logs, which S3 delivers only to SSE-S3 (AES256) buckets", "urn::logs")
    ]


def test_scratch_buckets_need_no_versions_but_a_narrowed_or_long_expiry_does() -> None:
    """Versioning is exempt only where a lifecycle rule deletes every object within 30 days by age alone."""
    from .fixtures import bucket

    def expiring(**condition: Any) -> Fixture:
        rule = {"action": {"type": "Delete"}, "condition": condition}
        return bucket(versioning={"enabled": False}, lifecycleRules=[rule])

    assert findings("gcp-gcs-versioning", expiring(age=30)) == []
    assert findings("gcp-gcs-versioning", expiring(age=31)) != []  # kept longer than scratch
    assert findings("gcp-gcs-versioning", expiring(age=7, matchesPrefix=["tmp/"])) != []  # only part expires

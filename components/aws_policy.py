"""IAM document helpers shared by the AWS components: statements, trust policies, inline role policies.

Documents are built as plain dicts and serialised with `Output.json_dumps`, so ARNs that are still Outputs resolve
in place and no `iam.getPolicyDocument` invoke is needed (one less round trip per role, and mocks need no stub).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws.iam as iam
from pulumi_aws import get_caller_identity_output, get_partition_output, get_region_output

Statement = dict[str, Any]


def statement(
    actions: Sequence[str],
    resources: Sequence[pulumi.Input[str]],
    *,
    sid: str | None = None,
    effect: str = "Allow",
    conditions: Mapping[str, Any] | None = None,
) -> Statement:
    st: Statement = {"Effect": effect, "Action": sorted(actions), "Resource": list(resources)}
    if sid:
        st["Sid"] = sid
    if conditions:
        st["Condition"] = dict(conditions)
    return st


def document(statements: Sequence[Statement]) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def service_trust(service: str, *, source_account: pulumi.Input[str] | None = None) -> pulumi.Output[str]:
    """Trust policy letting one AWS service assume a role, pinned to our account (confused-deputy guard)."""
    st: Statement = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if source_account is not None:
        st["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return document([st])


@dataclass(frozen=True)
class AwsContext:
    """Account, region and partition of the current provider, so ARNs are never hand-written for one partition."""

    account_id: pulumi.Output[str]
    region: pulumi.Output[str]
    partition: pulumi.Output[str]
    dns_suffix: pulumi.Output[str]


def context(parent: pulumi.Resource) -> AwsContext:
    opts = pulumi.InvokeOutputOptions(parent=parent)
    ident = get_caller_identity_output(opts=opts)
    region = get_region_output(opts=opts)
    part = get_partition_output(opts=opts)
    return AwsContext(
        account_id=ident.account_id,
        region=region.region,
        partition=part.partition,
        dns_suffix=part.dns_suffix,
    )


def role(
    name: str,
    *,
    physical: str,
    service: str,
    ctx: AwsContext,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
    description: str,
    max_session_seconds: int = 3600,
) -> iam.Role:
    return iam.Role(
        name,
        name=physical,
        description=description,
        assume_role_policy=service_trust(service, source_account=ctx.account_id),
        max_session_duration=max_session_seconds,  # short sessions: a leaked credential expires within the hour
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def inline_policy(
    name: str, role_: iam.Role, statements: Sequence[Statement], *, parent: pulumi.Resource
) -> iam.RolePolicy:
    """An inline policy: lives and dies with the role, so no stray managed policy can be attached elsewhere."""
    return iam.RolePolicy(
        name,
        role=role_.id,
        policy=document(statements),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def arn(ctx: AwsContext, service: str, *resource: pulumi.Input[str]) -> pulumi.Output[str]:
    """`arn:<partition>:<service>:<region>:<account>:<resource...>` of this stack's account and region."""
    return pulumi.Output.concat(
        "arn:", ctx.partition, ":", service, ":", ctx.region, ":", ctx.account_id, ":", *resource
    )


def key_admin_statement(ctx: AwsContext) -> Statement:
    """The account root may administer a KMS key: delegates to IAM, so only principals whose own policies name the
    key may use it (and the key can never become unmanageable)."""
    root = pulumi.Output.concat("arn:", ctx.partition, ":iam::", ctx.account_id, ":root")
    return {
        "Sid": "AccountAdmin",
        "Effect": "Allow",
        "Principal": {"AWS": root},
        "Action": "kms:*",
        "Resource": "*",
    }


def log_group_arn(ctx: AwsContext, name: str) -> pulumi.Output[str]:
    return arn(ctx, "logs", "log-group:", name)


def logs_statement(ctx: AwsContext, log_group_prefix: str) -> Statement:
    """Write to the log groups under one prefix only."""
    arn = log_group_arn(ctx, log_group_prefix + "*")
    return statement(
        ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        [arn, pulumi.Output.concat(arn, ":log-stream:*")],
        sid="WriteOwnLogs",
    )


def kms_use_statement(key_arn: pulumi.Input[str], *, encrypt: bool) -> Statement:
    actions = ["kms:Decrypt", "kms:DescribeKey"]
    if encrypt:
        actions += ["kms:GenerateDataKey", "kms:Encrypt"]
    return statement(actions, [key_arn], sid="UseLakeKey" if encrypt else "DecryptWithLakeKey")

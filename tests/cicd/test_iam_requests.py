"""iam_requests.py reads calls as IAM does: known answers worked out by hand from the Service Authorization
Reference and the services' API references (no emulator)."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from iam_requests import ACTION_EXCEPTIONS, derive

R, A = "ap-south-1", "123456789012"
TAGS = {"project": "tricloud-aws", "stack": "dev"}
REQUEST_TAGS = (("aws:RequestTag/project", "tricloud-aws"), ("aws:RequestTag/stack", "dev"))


def read(service: str, operation: str, params: dict[str, Any], tags: dict[str, str] | None = None) -> Any:
    model = botocore.session.get_session().get_service_model(service).operation_model(operation)
    found = derive(service, model, params, R, A, lambda arn: dict(tags or {}), lambda op, p: "key-1")
    return None if found is None else found.requests


def test_same_name_actions_on_the_arn_the_request_names() -> None:
    assert read("s3", "CreateBucket", {"Bucket": "b"}) == [("s3:CreateBucket", "arn:aws:s3:::b", ())]
    assert read("cloudwatch", "PutMetricAlarm", {"AlarmName": "x-5xx"}) == [
        ("cloudwatch:PutMetricAlarm", f"arn:aws:cloudwatch:{R}:{A}:alarm:x-5xx", ())
    ]
    # A rule on the default bus is `rule/<name>`, not the custom-bus form `rule/<bus>/<name>`.
    assert read("events", "DeleteRule", {"Name": "r"}) == [
        ("events:DeleteRule", f"arn:aws:events:{R}:{A}:rule/r", ())
    ]


def test_operations_iam_names_differently_come_from_the_exceptions_table() -> None:
    assert read("s3", "PutBucketEncryption", {"Bucket": "b", "ServerSideEncryptionConfiguration": {}}) == [
        ("s3:PutEncryptionConfiguration", "arn:aws:s3:::b", ())
    ]
    assert all(source for _, source in ACTION_EXCEPTIONS.values())
    # Neither an IAM action of that name nor an exception: unread, so the test names it.
    assert read("s3", "ListObjects", {"Bucket": "b"}) is None


def test_api_gateway_is_the_http_verb_on_the_request_path() -> None:
    assert read("apigatewayv2", "CreateRoute", {"ApiId": "abc", "RouteKey": "POST /predict"}) == [
        ("apigateway:POST", f"arn:aws:apigateway:{R}::/apis/abc/routes", ())
    ]
    assert read("apigatewayv2", "DeleteStage", {"ApiId": "abc", "StageName": "$default"}) == [
        ("apigateway:DELETE", f"arn:aws:apigateway:{R}::/apis/abc/stages/$default", ())
    ]


def test_every_required_resource_type_is_authorized() -> None:
    got = read("glue", "DeleteDatabase", {"Name": "lake"})
    assert sorted(r for _, r, _ in got) == [
        f"arn:aws:glue:{R}:{A}:catalog",
        f"arn:aws:glue:{R}:{A}:database/lake",
        f"arn:aws:glue:{R}:{A}:table/lake/*",
        f"arn:aws:glue:{R}:{A}:userDefinedFunction/lake/*",
    ]
    # DeleteAlias: the alias and the key it points to (looked up: the request names only the alias)
    got = read("kms", "DeleteAlias", {"AliasName": "alias/lake"})
    assert sorted(r for _, r, _ in got) == [
        f"arn:aws:kms:{R}:{A}:alias/lake",
        f"arn:aws:kms:{R}:{A}:key/key-1",
    ]


def test_creates_carry_request_tags_and_tag_and_pass_role_dependencies() -> None:
    key = read("kms", "CreateKey", {"Tags": [{"TagKey": k, "TagValue": v} for k, v in TAGS.items()]})
    assert key == [
        ("kms:CreateKey", "*", REQUEST_TAGS),
        ("kms:TagResource", f"arn:aws:kms:{R}:{A}:key/*", REQUEST_TAGS),
    ]
    role = f"arn:aws:iam::{A}:role/tricloud-aws-dev-api-function"
    fn = read("lambda", "CreateFunction", {"FunctionName": "f", "Role": role, "Tags": TAGS, "Code": {}})
    assert fn[0] == ("lambda:CreateFunction", f"arn:aws:lambda:{R}:{A}:function:f", REQUEST_TAGS)
    assert fn[-1] == ("iam:PassRole", role, (("iam:PassedToService", "lambda.amazonaws.com"),))
    # An existing resource's tags are aws:ResourceTag/*
    (desc,) = read("sagemaker", "DescribeModel", {"ModelName": "m"}, tags=TAGS)
    assert desc[2] == (("aws:ResourceTag/project", "tricloud-aws"), ("aws:ResourceTag/stack", "dev"))


@pytest.mark.parametrize("op", ["GetCallerIdentity"])
def test_calls_without_permissions_make_no_request(op: str) -> None:
    assert read("sts", op, {}) == []


def test_a_list_that_names_no_resource_of_its_type_is_on_star() -> None:
    # SAR: ListModelPackages has one optional type, model-package/<name>; the request names a group only.
    assert read("sagemaker", "ListModelPackages", {"ModelPackageGroupName": "tricloud-aws-dev-models"}) == [
        ("sagemaker:ListModelPackages", "*", ())
    ]

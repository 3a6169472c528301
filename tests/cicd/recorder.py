"""Record every AWS API call one principal makes, as IAM sees it (action, resource ARN, request context), and
enforce the principal's policy on it with tests/cicd/iam_eval.py.

moto authorizes only S3, IAM and STS against a real resource (it asks every other service for resource `*`, and
reads no Condition): the recorder is the enforcement point that sees the ARN. It wraps botocore's
`BaseClient._make_api_call`, keeps the calls signed with the recorded principal's access key, turns each into the
IAM authorization requests AWS makes for it (the Service Authorization Reference: some operations authorize as
another action, create calls with tags also authorize `AddTags`/`TagResource`, passing a role authorizes
`iam:PassRole`), evaluates them, and refuses a denied call with the `AccessDenied` error AWS returns (recorded in
`tricloud.engine.iam.DENIALS`). An operation without a rule below fails the test, naming it: a new call needs its
IAM reading written down before it can pass.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError
from iam_eval import Statement, decide
from iam_requests import derive

from tricloud.engine import iam


@dataclass(frozen=True)
class Request:
    """One IAM authorization request: what AWS evaluates for (part of) an API call."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()
    operation: str = ""  # the API call it came from, `service:Operation`

    def ctx(self) -> dict[str, str]:
        return dict(self.context)

    def __str__(self) -> str:
        extra = f" {dict(self.context)}" if self.context else ""
        return f"{self.action} on {self.resource}{extra} (from {self.operation})"


def _tags(params: Mapping[str, Any], key: str = "Tags") -> tuple[tuple[str, str], ...]:
    tags = params.get(key) or []
    if isinstance(tags, dict):
        return tuple((f"aws:RequestTag/{k}", str(v)) for k, v in sorted(tags.items()))
    return tuple((f"aws:RequestTag/{t['Key']}", str(t["Value"])) for t in tags)


@dataclass
class Arns:
    region: str
    account: str
    resource_tags: Callable[
        [str], dict[str, str]
    ]  # tags of a resource ARN (read by the test as the deployer)
    # what a call's IAM reading needs that its request does not carry (iam_requests.LOOKUPS), read as the deployer
    lookup: Callable[[str, Mapping[str, Any]], str | None] = lambda op, params: None

    def sm(self, kind: str, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:{kind}/{name.lower()}"

    def tagged(self, arn: str) -> tuple[tuple[str, str], ...]:
        return tuple((f"aws:ResourceTag/{k}", v) for k, v in sorted(self.resource_tags(arn).items()))


Rule = Callable[[Arns, Mapping[str, Any]], list[tuple[str, str, tuple[tuple[str, str], ...]]]]


def _s3_object(action: str) -> Rule:
    return lambda a, p: [(action, f"arn:aws:s3:::{p['Bucket']}/{p['Key']}", ())]


def _s3_bucket(action: str) -> Rule:
    return lambda a, p: [(action, f"arn:aws:s3:::{p['Bucket']}", ())]


def _sm(action: str, kind: str, param: str, *, tags: bool = False) -> Rule:
    """A SageMaker call on one named resource; `tags`: its tag conditions read aws:ResourceTag."""

    def rule(a: Arns, p: Mapping[str, Any]) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
        value = str(p[param])
        arn = value if value.startswith("arn:") else a.sm(kind, value)
        return [(action, arn, a.tagged(arn) if tags else ())]

    return rule


def _sm_create(action: str, kind: str, param: str, role_param: str | None = None) -> Rule:
    """Create with tags: the create and `sagemaker:AddTags` both see aws:RequestTag; a role passed is
    `iam:PassRole` with iam:PassedToService (SageMaker's documented authorization)."""

    def rule(a: Arns, p: Mapping[str, Any]) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
        arn = a.sm(kind, str(p[param]))
        tags = _tags(p)
        out = [(action, arn, tags)]
        if tags:
            out.append(("sagemaker:AddTags", arn, tags))
        if role_param and p.get(role_param):
            out.append(
                ("iam:PassRole", str(p[role_param]), (("iam:PassedToService", "sagemaker.amazonaws.com"),))
            )
        return out

    return rule


def _ssm(action: str) -> Rule:
    def rule(a: Arns, p: Mapping[str, Any]) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
        name = str(p["Name"]).lstrip("/")
        return [(action, f"arn:aws:ssm:{a.region}:{a.account}:parameter/{name}", ())]

    return rule


def _model_package(action: str) -> Rule:
    def rule(a: Arns, p: Mapping[str, Any]) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
        name = str(p.get("ModelPackageArn") or p.get("ModelPackageName"))
        return [(action, name, ())]

    return rule


def _create_model_package(
    a: Arns, p: Mapping[str, Any]
) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
    group = str(p["ModelPackageGroupName"])
    arn = group.replace(":model-package-group/", ":model-package/") if group.startswith("arn:") else None
    arn = (arn or a.sm("model-package", group)) + "/*"  # the version number is assigned by the call
    tags = _tags(p)
    out = [("sagemaker:CreateModelPackage", arn, tags)]
    if tags:
        out.append(("sagemaker:AddTags", arn, tags))
    return out


def _ecr_repo(action: str) -> Rule:
    return lambda a, p: [(action, f"arn:aws:ecr:{a.region}:{a.account}:repository/{p['repositoryName']}", ())]


def _alarms(a: Arns, p: Mapping[str, Any]) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
    # DescribeAlarms authorizes on the alarms it reads; by prefix, on every alarm the prefix can name.
    prefix = p.get("AlarmNamePrefix")
    names = [f"{prefix}*"] if prefix else [str(n) for n in p.get("AlarmNames") or ["*"]]
    return [
        ("cloudwatch:DescribeAlarms", f"arn:aws:cloudwatch:{a.region}:{a.account}:alarm:{n}", ())
        for n in names
    ]


# Operations IAM defines without resource-level permissions (Service Authorization Reference: no resource type):
# they authorize on "*", so a policy that scopes them to an ARN denies them on AWS.
UNSCOPED = {
    "ecr:GetAuthorizationToken",
    "sagemaker:ListModelPackages",
    "sagemaker:ListTrainingJobs",
}
# Operations every principal may call with no policy at all.
NO_PERMISSION = {"sts:GetCallerIdentity"}

RULES: dict[str, Rule] = {
    # S3: the object/bucket actions each operation authorizes as (HeadObject is s3:GetObject, a listing is
    # s3:ListBucket, every part of a multipart upload is s3:PutObject).
    "s3:GetObject": _s3_object("s3:GetObject"),
    "s3:HeadObject": _s3_object("s3:GetObject"),
    "s3:PutObject": _s3_object("s3:PutObject"),
    "s3:CreateMultipartUpload": _s3_object("s3:PutObject"),
    "s3:UploadPart": _s3_object("s3:PutObject"),
    "s3:CompleteMultipartUpload": _s3_object("s3:PutObject"),
    "s3:AbortMultipartUpload": _s3_object("s3:AbortMultipartUpload"),
    "s3:DeleteObject": _s3_object("s3:DeleteObject"),
    "s3:CopyObject": lambda a, p: [
        ("s3:PutObject", f"arn:aws:s3:::{p['Bucket']}/{p['Key']}", ()),
        (
            "s3:GetObject",
            "arn:aws:s3:::"
            + (
                f"{p['CopySource']['Bucket']}/{p['CopySource']['Key']}"
                if isinstance(p["CopySource"], dict)
                else str(p["CopySource"]).lstrip("/")
            ),
            (),
        ),
    ],
    "s3:ListObjectsV2": lambda a, p: [
        ("s3:ListBucket", f"arn:aws:s3:::{p['Bucket']}", (("s3:prefix", str(p.get("Prefix", ""))),))
    ],
    "s3:ListObjects": lambda a, p: [
        ("s3:ListBucket", f"arn:aws:s3:::{p['Bucket']}", (("s3:prefix", str(p.get("Prefix", ""))),))
    ],
    "s3:HeadBucket": _s3_bucket("s3:ListBucket"),
    "s3:GetBucketLocation": _s3_bucket("s3:GetBucketLocation"),
    # SageMaker
    "sagemaker:CreateTrainingJob": _sm_create(
        "sagemaker:CreateTrainingJob", "training-job", "TrainingJobName", "RoleArn"
    ),
    "sagemaker:DescribeTrainingJob": _sm("sagemaker:DescribeTrainingJob", "training-job", "TrainingJobName"),
    "sagemaker:StopTrainingJob": _sm("sagemaker:StopTrainingJob", "training-job", "TrainingJobName"),
    "sagemaker:DescribeModelPackageGroup": _sm(
        "sagemaker:DescribeModelPackageGroup", "model-package-group", "ModelPackageGroupName"
    ),
    "sagemaker:CreateModelPackage": _create_model_package,
    "sagemaker:DescribeModelPackage": _model_package("sagemaker:DescribeModelPackage"),
    "sagemaker:UpdateModelPackage": _model_package("sagemaker:UpdateModelPackage"),
    "sagemaker:CreateModel": _sm_create("sagemaker:CreateModel", "model", "ModelName", "ExecutionRoleArn"),
    "sagemaker:CreateEndpointConfig": _sm_create(
        "sagemaker:CreateEndpointConfig", "endpoint-config", "EndpointConfigName"
    ),
    "sagemaker:DescribeModel": _sm("sagemaker:DescribeModel", "model", "ModelName", tags=True),
    "sagemaker:DescribeEndpointConfig": _sm(
        "sagemaker:DescribeEndpointConfig", "endpoint-config", "EndpointConfigName", tags=True
    ),
    "sagemaker:DeleteModel": _sm("sagemaker:DeleteModel", "model", "ModelName", tags=True),
    "sagemaker:DeleteEndpointConfig": _sm(
        "sagemaker:DeleteEndpointConfig", "endpoint-config", "EndpointConfigName", tags=True
    ),
    "sagemaker:DescribeEndpoint": _sm("sagemaker:DescribeEndpoint", "endpoint", "EndpointName"),
    "sagemaker:UpdateEndpoint": _sm("sagemaker:UpdateEndpoint", "endpoint", "EndpointName"),
    "sagemaker:ListTags": lambda a, p: [
        ("sagemaker:ListTags", str(p["ResourceArn"]), a.tagged(str(p["ResourceArn"])))
    ],
    "sagemaker:AddTags": lambda a, p: [("sagemaker:AddTags", str(p["ResourceArn"]), _tags(p))],
    "sagemaker-runtime:InvokeEndpoint": lambda a, p: [
        ("sagemaker:InvokeEndpoint", a.sm("endpoint", str(p["EndpointName"])), ())
    ],
    # SSM, CloudWatch, ECR
    "ssm:GetParameter": _ssm("ssm:GetParameter"),
    "ssm:PutParameter": _ssm("ssm:PutParameter"),
    "ssm:DeleteParameter": _ssm("ssm:DeleteParameter"),
    # by path: authorized on the path as a parameter ARN (`parameter/<project>/<stack>/...`)
    "ssm:GetParametersByPath": lambda a, p: [
        (
            "ssm:GetParametersByPath",
            f"arn:aws:ssm:{a.region}:{a.account}:parameter/{str(p['Path']).strip('/')}",
            (),
        )
    ],
    "cloudwatch:DescribeAlarms": _alarms,
    "ecr:DescribeImages": _ecr_repo("ecr:DescribeImages"),
    "ecr:BatchGetImage": _ecr_repo("ecr:BatchGetImage"),
    "ecr:PutImage": _ecr_repo("ecr:PutImage"),
    "ecr:BatchCheckLayerAvailability": _ecr_repo("ecr:BatchCheckLayerAvailability"),
}
for _action in UNSCOPED:
    RULES.setdefault(_action, lambda a, p, _x=_action: [(_x, "*", ())])


@dataclass
class Recorder:
    """The calls of one access key, translated and evaluated; `policy` is re-read (a callable) for every call."""

    access_key: str
    principal: str
    arns: Arns
    policy: Callable[[], list[Statement]]
    calls: list[Request] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    denied: list[Request] = field(default_factory=list)
    moto_denied: list[str] = field(default_factory=list)
    enforce: bool = (
        True  # False: record denials but let the call through (to list every missing grant at once)
    )
    # True: every call's IAM reading is derived (iam_requests.py: botocore + the SAR) instead of RULES below
    derived: bool = False
    # operation -> why only the local engine makes it (its own bookkeeping, not a call of `pulumi up`): sent as the
    # deployer through `as_deployer(service)` and not recorded (`<operation>?VersionId`: only calls naming a version)
    engine_only: Mapping[str, str] = field(default_factory=dict)
    as_deployer: Callable[[str], Any] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def requests(self, operation: str, params: Mapping[str, Any], model: Any = None) -> list[Request]:
        if operation in NO_PERMISSION:
            return []
        if self.derived:
            found = derive(
                operation.split(":", 1)[0],
                model,
                params,
                self.arns.region,
                self.arns.account,
                self.arns.resource_tags,
                self.arns.lookup,
            )
            if found is None:
                with self._lock:
                    self.unmapped.append(operation)
                return []
            return [Request(act, res, tuple(sorted(ctx)), operation) for act, res, ctx in found.requests]
        rule = RULES.get(operation)
        if rule is None:
            with self._lock:
                self.unmapped.append(operation)
            return []
        return [Request(act, res, tuple(sorted(ctx)), operation) for act, res, ctx in rule(self.arns, params)]

    def record(self, requests: list[Request]) -> Request | None:
        """Record `requests`; the first one the policy denies (recorded as a denial) or None."""
        policy = self.policy()
        with self._lock:
            self.calls.extend(requests)
        for req in requests:
            if not decide(policy, req.action, req.resource, req.ctx()).allowed:
                with self._lock:
                    self.denied.append(req)
                iam.DENIALS.add(
                    iam.Denial(self.principal, req.action, req.resource, "ci recorder", time.time())
                )
                if self.enforce:
                    return req
        return None

    def absorb_served(self, served: list[tuple[str, str, str]]) -> None:
        """Add what the emulator served itself for this principal (`iam.SERVED`: the engine's UpdateEndpoint
        stand-in, the runtime shim), evaluated like the rest."""
        for principal, action, resource in served:
            if principal == self.principal:
                self.record([Request(action, resource, (), "emulator-served")])


def _key_of(client: BaseClient) -> str | None:
    creds = getattr(client._request_signer, "_credentials", None)
    return None if creds is None else creds.get_frozen_credentials().access_key


@contextmanager
def recording(recorder: Recorder) -> Iterator[Recorder]:
    """Wrap every botocore client of this process for the duration."""
    original = BaseClient._make_api_call

    def make_api_call(self: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        if _key_of(self) != recorder.access_key:
            return original(self, operation_name, api_params)
        service = self.meta.service_model.service_name
        operation = f"{service}:{operation_name}"
        versioned = f"{operation}?VersionId" in recorder.engine_only and "VersionId" in api_params
        if (operation in recorder.engine_only or versioned) and recorder.as_deployer is not None:
            return original(recorder.as_deployer(service), operation_name, api_params)
        model = self.meta.service_model.operation_model(operation_name)
        denied = recorder.record(recorder.requests(operation, api_params, model))
        if denied is not None:
            raise ClientError(
                {
                    "Error": {
                        "Code": "AccessDenied",
                        "Message": f"User: {recorder.principal} is not authorized to perform: {denied.action} "
                        f"on resource: {denied.resource} because no identity-based policy allows it",
                    }
                },
                operation_name,
            )
        try:
            return original(self, operation_name, api_params)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if "AccessDenied" in code or code in ("AccessDeniedException", "UnauthorizedOperation"):
                with recorder._lock:
                    recorder.moto_denied.append(f"{operation}: {exc}")
            raise

    BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]
    try:
        yield recorder
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]

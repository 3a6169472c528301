"""AWS policies: S3, KMS, IAM, CloudWatch Logs, Lambda, API Gateway, ECR, SNS, Firehose, SageMaker, Athena, Glue,
EMR, tags.

checkov IDs are those of checkov's Terraform index for the same check; CIS controls are from the CIS AWS
Foundations Benchmark v5.0.0 where it has one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from tricloud.policy.model import (
    ADVISORY,
    MANDATORY,
    Res,
    Stack,
    as_json,
    as_list,
    dig,
    resource_rule,
    stack_rule,
)
from tricloud.policy.rules import aws_iam as iam
from tricloud.policy.rules.common import missing_standard_tags, plaintext_secrets

CIS = "CIS AWS Foundations 5.0.0"


def _s3(kind: str, cls: str) -> tuple[str, ...]:
    """The current type token and the deprecated V2 alias users of older pulumi-aws versions still write."""
    return (f"aws:s3/{kind}:{cls}", f"aws:s3/{kind}V2:{cls}V2")


BUCKETS = _s3("bucket", "Bucket")
SSE = _s3("bucketServerSideEncryptionConfiguration", "BucketServerSideEncryptionConfiguration")
PUBLIC_ACCESS_BLOCK = ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",)
BUCKET_POLICY = ("aws:s3/bucketPolicy:BucketPolicy",)
VERSIONING = _s3("bucketVersioning", "BucketVersioning")
LOGGING = _s3("bucketLogging", "BucketLogging")
OWNERSHIP = ("aws:s3/bucketOwnershipControls:BucketOwnershipControls",)
LIFECYCLE = _s3("bucketLifecycleConfiguration", "BucketLifecycleConfiguration")
KMS_KEY = "aws:kms/key:Key"
IDENTITY_POLICIES = (
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)
POLICY_ATTACHMENTS = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
)
ROLE = "aws:iam/role:Role"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
ROUTE = "aws:apigatewayv2/route:Route"
STAGE = "aws:apigatewayv2/stage:Stage"
API = "aws:apigatewayv2/api:Api"
ECR = "aws:ecr/repository:Repository"
TOPIC = "aws:sns/topic:Topic"
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
MODEL = "aws:sagemaker/model:Model"
WORKGROUP = "aws:athena/workgroup:Workgroup"
CRAWLER = "aws:glue/crawler:Crawler"
GLUE_SECURITY = "aws:glue/securityConfiguration:SecurityConfiguration"
EMR_SECURITY = "aws:emr/securityConfiguration:SecurityConfiguration"
FUNCTION_URL = "aws:lambda/functionUrl:FunctionUrl"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
WORLD = ("0.0.0.0/0", "::/0")
KEY_ROTATION_MAX_DAYS = 90
AWS_MANAGED_KEY = re.compile(r"(^|:)alias/aws/")


# --- S3: a bucket and the resources that configure it -------------------------------------------------------------


def _names(s: Stack, config: Res, bucket: Res, prop: str) -> bool:
    """Whether `config`'s `prop` is `bucket`: by the engine's property dependencies when it gives them, else by
    the bucket name (known offline; in a preview of new buckets the policy reports it cannot run yet)."""
    by_dep = config.prop_deps.get(prop)
    if by_dep is not None:
        return bucket.urn in by_dep
    return config.get(prop) == bucket.get("bucket")


def _linked(s: Stack, bucket: Res, types: tuple[str, ...], prop: str = "bucket") -> list[Res]:
    """Resources of `types` configuring `bucket`: they depend on it, and when they depend on several buckets (a
    logging configuration names its source and its target) their `prop` is this bucket."""
    out = []
    for config in s.dependents(bucket, *types):
        if len(s.depends_on(config, *BUCKETS)) <= 1 or _names(s, config, bucket, prop):
            out.append(config)
    return out


def _log_targets(s: Stack) -> set[str]:
    """URNs of buckets that receive S3 server access logs."""
    return {
        bucket.urn
        for logging in s.of_type(*LOGGING)
        for bucket in s.depends_on(logging, *BUCKETS)
        if _names(s, logging, bucket, "targetBucket")
    }


@stack_rule(
    "aws-s3-encryption-cmk",
    title="S3 buckets encrypt by default with a customer-managed KMS key (server access log buckets: SSE-S3)",
    level=MANDATORY,
    checkov=("CKV_AWS_19", "CKV_AWS_145"),
    remediation="Add a BucketServerSideEncryptionConfiguration with sse_algorithm aws:kms and the lake key "
    "(components/data_lake/aws.py does this for every zone).",
)
def _s3_encryption(s: Stack) -> Iterator[tuple[Res, str]]:
    log_targets = _log_targets(s)
    for bucket in s.of_type(*BUCKETS):
        configs = _linked(s, bucket, SSE)
        if not configs:
            yield bucket, "has no default encryption configuration"
            continue
        for cfg in configs:
            default = dig(cfg.props, "rules", 0, "applyServerSideEncryptionByDefault", default={})
            algorithm, key = default.get("sseAlgorithm"), default.get("kmsMasterKeyId")
            if bucket.urn in log_targets:
                # S3 server access logging delivers only to SSE-S3 buckets; SSE-KMS would drop the logs.
                if algorithm != "AES256":
                    yield (
                        bucket,
                        "receives server access logs, which S3 delivers only to SSE-S3 (AES256) buckets",
                    )
            elif algorithm not in ("aws:kms", "aws:kms:dsse"):
                yield bucket, f"default encryption is {algorithm or 'unset'}, not aws:kms with a customer key"
            elif not key or AWS_MANAGED_KEY.search(str(key)):
                yield bucket, "default encryption uses the AWS-managed key, not a customer-managed key"


@stack_rule(
    "aws-s3-public-access-block",
    title="Every S3 bucket blocks public ACLs and policies (all four public access block flags)",
    level=MANDATORY,
    checkov=("CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56", "CKV2_AWS_6"),
    cis=f"{CIS} 2.1.4",
    remediation="Add a BucketPublicAccessBlock with block_public_acls, block_public_policy, ignore_public_acls "
    "and restrict_public_buckets all true.",
)
def _s3_public_access(s: Stack) -> Iterator[tuple[Res, str]]:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    for bucket in s.of_type(*BUCKETS):
        blocks = _linked(s, bucket, PUBLIC_ACCESS_BLOCK)
        if not blocks:
            yield bucket, "has no public access block"
        for block in blocks:
            off = [f for f in flags if block.get(f) is not True]
            if off:
                yield bucket, f"public access block leaves {', '.join(off)} off"


def _bucket_policies(s: Stack, bucket: Res) -> list[Res]:
    return _linked(s, bucket, BUCKET_POLICY)


def _denies_plain_http(st: Mapping) -> bool:
    cond = dig(st, "Condition", "Bool", "aws:SecureTransport")
    return (
        st.get("Effect") == "Deny"
        and str(cond).lower() == "false"
        and any(a in ("s3:*", "*") for a in iam.actions(st))
        and st.get("Principal") in ("*", {"AWS": "*"})
    )


@stack_rule(
    "aws-s3-tls-only",
    title="Every S3 bucket policy denies requests without TLS (aws:SecureTransport = false)",
    level=MANDATORY,
    cis=f"{CIS} 2.1.1",
    remediation="Add a bucket policy statement denying s3:* to * when aws:SecureTransport is false.",
)
def _s3_tls(s: Stack) -> Iterator[tuple[Res, str]]:
    for bucket in s.of_type(*BUCKETS):
        policies = _bucket_policies(s, bucket)
        if not any(_denies_plain_http(st) for p in policies for st in iam.statements(p.get("policy"))):
            yield bucket, "no bucket policy denies plain-HTTP (aws:SecureTransport false) requests"


def _public_principal(principal: object) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, Mapping) and "*" in as_list(principal.get("AWS"))


@resource_rule(
    "aws-s3-policy-not-public",
    types=BUCKET_POLICY,
    title="No S3 bucket policy allows any principal (*) without a condition",
    level=MANDATORY,
    checkov=("CKV_AWS_70",),
    remediation="Name the principals (a role ARN, a service with aws:SourceAccount) instead of *.",
)
def _s3_policy_public(r: Res) -> Iterator[str]:
    for i, st in enumerate(iam.allows(r.get("policy"))):
        if _public_principal(st.get("Principal")) and not st.get("Condition"):
            yield f"{iam.label(st, i)} allows any principal"


@stack_rule(
    "aws-s3-acls-disabled",
    title="S3 buckets disable ACLs (object ownership BucketOwnerEnforced): access is by policy only",
    level=MANDATORY,
    checkov=("CKV2_AWS_65",),
    remediation="Add BucketOwnershipControls with object_ownership BucketOwnerEnforced.",
)
def _s3_acls(s: Stack) -> Iterator[tuple[Res, str]]:
    for bucket in s.of_type(*BUCKETS):
        owners = [o.get("rule", "objectOwnership") for o in _linked(s, bucket, OWNERSHIP)]
        if "BucketOwnerEnforced" not in owners:
            yield bucket, "ACLs are not disabled (no BucketOwnerEnforced ownership controls)"


@stack_rule(
    "aws-s3-versioning",
    title="S3 buckets keep object versions, so an overwrite or delete can be undone",
    level=ADVISORY,
    checkov=("CKV_AWS_21",),
    remediation="Set tricloud:lake.versioning true (the default).",
)
def _s3_versioning(s: Stack) -> Iterator[tuple[Res, str]]:
    for bucket in s.of_type(*BUCKETS):
        states = [v.get("versioningConfiguration", "status") for v in _linked(s, bucket, VERSIONING)]
        if "Enabled" not in states:
            yield bucket, "versioning is not enabled"


@stack_rule(
    "aws-s3-access-logging",
    title="S3 buckets log requests (server access logs) to a log bucket",
    level=ADVISORY,
    checkov=("CKV_AWS_18",),
    remediation="Set tricloud:lake.access_logging true (the default) or add a BucketLogging for the bucket.",
)
def _s3_logging(s: Stack) -> Iterator[tuple[Res, str]]:
    log_targets = _log_targets(s)
    for bucket in s.of_type(*BUCKETS):
        if bucket.urn in log_targets:
            continue  # a log bucket logging to itself would log its own log deliveries forever
        if not _linked(s, bucket, LOGGING):
            yield bucket, "has no server access logging"


@stack_rule(
    "aws-s3-lifecycle",
    title="S3 buckets abort incomplete multipart uploads (a lifecycle rule bounds invisible storage cost)",
    level=ADVISORY,
    checkov=("CKV2_AWS_61", "CKV_AWS_300"),
    remediation="Add a BucketLifecycleConfiguration rule with abort_incomplete_multipart_upload.",
)
def _s3_lifecycle(s: Stack) -> Iterator[tuple[Res, str]]:
    for bucket in s.of_type(*BUCKETS):
        rules = [
            rule
            for cfg in _linked(s, bucket, LIFECYCLE)
            for rule in as_list(cfg.get("rules"))
            if isinstance(rule, Mapping) and rule.get("status") == "Enabled"
        ]
        if not any(dig(rule, "abortIncompleteMultipartUpload", "daysAfterInitiation") for rule in rules):
            yield bucket, "no enabled lifecycle rule aborts incomplete multipart uploads"


# --- KMS ----------------------------------------------------------------------------------------------------------


@resource_rule(
    "aws-kms-key-rotation",
    types=(KMS_KEY,),
    title=f"Symmetric KMS keys rotate automatically at least every {KEY_ROTATION_MAX_DAYS} days",
    level=MANDATORY,
    checkov=("CKV_AWS_7",),
    cis=f"{CIS} 3.6",
    remediation="Set enable_key_rotation and rotation_period_in_days <= 90 "
    "(tricloud:lake.key_rotation_days, default 90).",
)
def _kms_rotation(r: Res) -> Iterator[str]:
    spec = r.get("customerMasterKeySpec") or r.get("keySpec") or "SYMMETRIC_DEFAULT"
    if spec != "SYMMETRIC_DEFAULT":
        return  # AWS rotates symmetric encryption keys only
    if r.get("enableKeyRotation") is not True:
        yield "automatic rotation is off"
        return
    days = r.get("rotationPeriodInDays") or 365  # AWS's default period when none is given
    if days > KEY_ROTATION_MAX_DAYS:
        yield f"rotates every {days} days, more than {KEY_ROTATION_MAX_DAYS}"


@resource_rule(
    "aws-kms-key-policy",
    types=(KMS_KEY,),
    title="KMS keys have an explicit key policy that allows no unconditioned wildcard principal",
    level=MANDATORY,
    checkov=("CKV_AWS_33", "CKV2_AWS_64"),
    remediation="Give the key a policy: the account root as administrator (delegates to IAM) plus named "
    "services with conditions.",
)
def _kms_policy(r: Res) -> Iterator[str]:
    if not r.get("policy"):
        yield "has no key policy (the default grants the whole account)"
        return
    for i, st in enumerate(iam.allows(r.get("policy"))):
        if _public_principal(st.get("Principal")) and not st.get("Condition"):
            yield f"{iam.label(st, i)} allows any principal"


# --- IAM ----------------------------------------------------------------------------------------------------------


@resource_rule(
    "aws-iam-no-wildcard-actions",
    types=IDENTITY_POLICIES,
    title="IAM policies allow named actions, never * or a whole service (<service>:*) or NotAction",
    level=MANDATORY,
    checkov=("CKV_AWS_62", "CKV_AWS_63"),
    cis=f"{CIS} 1.15",
    remediation="List the actions the workload calls; grant a whole service only through a reviewed exception.",
)
def _iam_wildcard_actions(r: Res) -> Iterator[str]:
    for i, st in enumerate(iam.allows(r.get("policy"))):
        wild = [a for a in iam.actions(st) if iam.is_service_wildcard(a)]
        if wild:
            yield f"{iam.label(st, i)} allows {', '.join(wild)}"
        if st.get("NotAction"):
            yield f"{iam.label(st, i)} allows everything but NotAction"


@resource_rule(
    "aws-iam-no-admin-policies",
    types=(*POLICY_ATTACHMENTS, ROLE),
    title="No role, user or group gets AdministratorAccess, IAMFullAccess or PowerUserAccess",
    level=MANDATORY,
    checkov=("CKV_AWS_274", "CKV2_AWS_56"),
    cis=f"{CIS} 1.15",
    remediation="Attach a policy listing the needed actions on the stack's own ARNs.",
)
def _iam_admin(r: Res) -> Iterator[str]:
    arns = [r.get("policyArn")] if r.type != ROLE else as_list(r.get("managedPolicyArns"))
    for arn in arns:
        if (
            isinstance(arn, str)
            and arn.rsplit("/", 1)[-1] in iam.ADMIN_MANAGED_POLICIES
            and ":aws:policy/" in arn
        ):
            yield f"attaches {arn.rsplit('/', 1)[-1]}"


@resource_rule(
    "aws-iam-wildcard-resource",
    types=IDENTITY_POLICIES,
    title='IAM statements use "Resource": "*" only for actions that accept no resource ARN',
    level=MANDATORY,
    checkov=("CKV_AWS_355",),
    remediation="Scope the statement to the stack's ARNs (the lake's buckets, this endpoint, this log group).",
)
def _iam_wildcard_resource(r: Res) -> Iterator[str]:
    for i, st in enumerate(iam.allows(r.get("policy"))):
        if "*" not in iam.resources(st) and not st.get("NotResource"):
            continue
        scoped = sorted(a for a in iam.actions(st) if iam.restrictable(a))
        if scoped:
            yield f'{iam.label(st, i)} grants {", ".join(scoped)} on "*" although they accept resource ARNs'


@resource_rule(
    "aws-iam-privilege-escalation",
    types=IDENTITY_POLICIES,
    title="IAM policies allow no privilege-escalation action (PassRole, PutRolePolicy, CreatePolicyVersion...) "
    "on every role, user or policy of the account",
    level=MANDATORY,
    checkov=("CKV_AWS_286",),
    remediation="Scope escalation-capable actions to the stack's own role ARNs (arn:...:role/<project>-<stack>-*) "
    "and deny them on the CI roles themselves.",
)
def _iam_escalation(r: Res) -> Iterator[str]:
    for i, st in enumerate(iam.allows(r.get("policy"))):
        found = iam.escalation_actions(iam.actions(st))
        wide = [res for res in iam.resources(st) if iam.unscoped(res)] or (
            ["NotResource"] if st.get("NotResource") else []
        )
        if found and wide:
            yield f"{iam.label(st, i)} allows {', '.join(found)} on {', '.join(wide)}"


GITHUB_OIDC = "token.actions.githubusercontent.com"


def _condition_values(st: Mapping, key: str) -> list[str]:
    values: list[str] = []
    for operator in (st.get("Condition") or {}).values():
        if isinstance(operator, Mapping):
            for k, v in operator.items():
                if k.lower() == key.lower():
                    values += [str(x) for x in as_list(v)]
    return values


@resource_rule(
    "aws-iam-trust-policy",
    types=(ROLE,),
    title="Role trust policies name who may assume the role; GitHub OIDC trust pins audience and subject",
    level=MANDATORY,
    checkov=("CKV_AWS_60", "CKV_AWS_61", "CKV_AWS_393"),
    remediation="Trust a named service or account; for GitHub OIDC require aud sts.amazonaws.com and a sub of "
    "repo:OWNER/REPO:environment:NAME (tricloud:ci.github_repository, tricloud:ci.environment).",
)
def _iam_trust(r: Res) -> Iterator[str]:
    for i, st in enumerate(iam.allows(r.get("assumeRolePolicy"))):
        principal = st.get("Principal")
        if _public_principal(principal) and not st.get("Condition"):
            yield f"{iam.label(st, i)} lets any principal assume the role"
        federated = as_list(principal.get("Federated")) if isinstance(principal, Mapping) else []
        if any(GITHUB_OIDC in str(f) for f in federated):
            if f"{GITHUB_OIDC}:aud" not in str(st.get("Condition")):
                yield f"{iam.label(st, i)} trusts GitHub OIDC without an audience condition"
            subs = _condition_values(st, f"{GITHUB_OIDC}:sub")
            if not subs:
                yield f"{iam.label(st, i)} trusts GitHub OIDC without a subject condition: any repository may assume it"
            for sub in subs:
                owner_repo = sub.removeprefix("repo:").split(":", 1)[0]
                if not sub.startswith("repo:") or "*" in owner_repo or "/" not in owner_repo:
                    yield f"{iam.label(st, i)} accepts subject {sub!r}: name one repository (repo:OWNER/REPO:...)"


@resource_rule(
    "aws-iam-service-trust-source",
    types=(ROLE,),
    title="Roles trusted by an AWS service pin the calling account (aws:SourceAccount / aws:SourceArn)",
    level=ADVISORY,
    remediation="Add a StringEquals aws:SourceAccount (or ArnLike aws:SourceArn) condition to the trust "
    "statement, where the service supports it (confused-deputy protection).",
)
def _iam_service_trust(r: Res) -> Iterator[str]:
    keys = ("aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid")
    for i, st in enumerate(iam.allows(r.get("assumeRolePolicy"))):
        principal = st.get("Principal")
        services = as_list(principal.get("Service")) if isinstance(principal, Mapping) else []
        conditions = str(st.get("Condition") or "").lower()
        if services and not any(k in conditions for k in keys):
            yield f"{iam.label(st, i)} trusts {', '.join(map(str, services))} from any account"


# --- logs ---------------------------------------------------------------------------------------------------------


@resource_rule(
    "aws-logs-retention",
    types=(LOG_GROUP,),
    title="CloudWatch log groups have a retention period (unbounded logs cost forever)",
    level=MANDATORY,
    checkov=("CKV_AWS_66",),
    remediation="Set retention_in_days (tricloud:api.log_retention_days, tricloud:observability.log_retention_days).",
)
def _logs_retention(r: Res) -> Iterator[str]:
    if not r.get("retentionInDays"):
        yield "keeps logs forever (no retention_in_days)"


@resource_rule(
    "aws-logs-cmk",
    types=(LOG_GROUP,),
    title="CloudWatch log groups are encrypted with a customer-managed KMS key",
    level=MANDATORY,
    checkov=("CKV_AWS_158",),
    remediation="Set kms_key_id to a key whose policy lets logs.<region>.amazonaws.com use it for this account's "
    "log groups (the lake key does).",
)
def _logs_cmk(r: Res) -> Iterator[str]:
    if not r.get("kmsKeyId"):
        yield "is encrypted with the CloudWatch-owned key, not a customer-managed key"


# --- Lambda -------------------------------------------------------------------------------------------------------


@resource_rule(
    "aws-lambda-env-encryption",
    types=(FUNCTION,),
    title="Lambda environment variables are encrypted with a customer-managed KMS key",
    level=MANDATORY,
    checkov=("CKV_AWS_173",),
    remediation="Set kms_key_arn on the function.",
)
def _lambda_env(r: Res) -> Iterator[str]:
    if r.get("environment", "variables") and not r.get("kmsKeyArn"):
        yield "environment variables are encrypted with the AWS-managed key"


@resource_rule(
    "aws-lambda-no-plaintext-secrets",
    types=(FUNCTION,),
    title="Lambda environment variables hold no credentials (reference Secrets Manager or SSM instead)",
    level=MANDATORY,
    checkov=("CKV_AWS_45",),
    remediation="Store the credential in Secrets Manager or SSM SecureString and pass its ARN.",
)
def _lambda_secrets(r: Res) -> Iterator[str]:
    yield from plaintext_secrets(r.get("environment", "variables"))


@resource_rule(
    "aws-lambda-concurrency-limit",
    types=(FUNCTION,),
    title="Lambda functions reserve (and so cap) their concurrency",
    level=MANDATORY,
    checkov=("CKV_AWS_115",),
    remediation="Set reserved_concurrent_executions (tricloud:api.reserved_concurrency).",
)
def _lambda_concurrency(r: Res) -> Iterator[str]:
    value = r.get("reservedConcurrentExecutions")
    if value is None or value < 0:
        yield "has no reserved concurrency: a flood can use the whole account's concurrency and budget"


@resource_rule(
    "aws-lambda-tracing",
    types=(FUNCTION,),
    title="Lambda functions send X-Ray traces (Active tracing)",
    level=ADVISORY,
    checkov=("CKV_AWS_50",),
    remediation="Set tricloud:api.tracing true (the default).",
)
def _lambda_tracing(r: Res) -> Iterator[str]:
    if r.get("tracingConfig", "mode") != "Active":
        yield "tracing is not Active"


@resource_rule(
    "aws-lambda-code-signing",
    types=(FUNCTION,),
    title="Lambda functions validate code signatures (a code signing configuration)",
    level=ADVISORY,
    checkov=("CKV_AWS_272",),
    remediation="Set tricloud:api.aws.code_signing true (Signer signs each deploy; see docs/security.md).",
)
def _lambda_signing(r: Res) -> Iterator[str]:
    if not r.get("codeSigningConfigArn"):
        yield "has no code signing configuration: any zip the deploy role uploads runs"


@resource_rule(
    "aws-lambda-permission-scoped",
    types=(PERMISSION,),
    title="Lambda invoke permissions name their caller and, for AWS services, the source ARN or account",
    level=MANDATORY,
    checkov=("CKV_AWS_301", "CKV_AWS_364"),
    remediation="Set source_arn to the caller (the API's execution ARN) or source_account.",
)
def _lambda_permission(r: Res) -> Iterator[str]:
    principal = str(r.get("principal") or "")
    if principal == "*":
        yield "lets any principal invoke the function"
    elif principal.endswith(".amazonaws.com") and not (r.get("sourceArn") or r.get("sourceAccount")):
        yield f"lets {principal} invoke the function on behalf of any account"


@resource_rule(
    "aws-lambda-url-auth",
    types=(FUNCTION_URL,),
    title="Lambda function URLs require IAM authentication",
    level=MANDATORY,
    checkov=("CKV_AWS_258",),
    remediation="Set authorization_type AWS_IAM, or put the function behind the API (tricloud's ApiFrontend).",
)
def _lambda_url(r: Res) -> Iterator[str]:
    if (r.get("authorizationType") or "NONE") == "NONE":
        yield "anyone on the internet can invoke the function through its URL"


# --- network ------------------------------------------------------------------------------------------------------


def _world_ingress(rule: Mapping) -> list[str]:
    cidrs = [*as_list(dig(rule, "cidrBlocks")), *as_list(dig(rule, "ipv6CidrBlocks"))]
    cidrs += [c for c in (dig(rule, "cidrIpv4"), dig(rule, "cidrIpv6")) if c]
    return [str(c) for c in cidrs if c in WORLD]


@resource_rule(
    "aws-security-group-open-ingress",
    types=(SECURITY_GROUP, SECURITY_GROUP_RULE, INGRESS_RULE),
    title="Security groups admit no inbound traffic from the whole internet (0.0.0.0/0, ::/0)",
    level=MANDATORY,
    checkov=("CKV_AWS_24", "CKV_AWS_25", "CKV_AWS_260", "CKV_AWS_277"),
    cis=f"{CIS} 5.3, 5.4",
    remediation="Admit the VPC's CIDR or another security group; reach instances through SSM, not SSH.",
)
def _security_group(r: Res) -> Iterator[str]:
    if r.type == SECURITY_GROUP:
        rules = [x for x in as_list(r.get("ingress")) if isinstance(x, Mapping)]
    elif r.type == SECURITY_GROUP_RULE:
        rules = [r.props] if r.get("type") == "ingress" else []
    else:
        rules = [r.props]
    for rule in rules:
        world = _world_ingress(rule)
        if world:
            ports = f"{dig(rule, 'fromPort', default='all')}-{dig(rule, 'toPort', default='all')}"
            yield f"admits {', '.join(world)} on ports {ports}"


# --- API Gateway --------------------------------------------------------------------------------------------------


@resource_rule(
    "aws-apigw-route-authorization",
    types=(ROUTE,),
    title="API Gateway routes require authorization (IAM, JWT or a Lambda authorizer)",
    level=MANDATORY,
    checkov=("CKV_AWS_309",),
    remediation="Set authorization_type AWS_IAM or JWT (tricloud:api.auth); declare a deliberately open route as "
    "an exception under tricloud:policy.",
)
def _apigw_auth(r: Res) -> Iterator[str]:
    if (r.get("authorizationType") or "NONE") == "NONE":
        yield f"{r.get('routeKey') or 'route'} is open to anonymous callers"


@resource_rule(
    "aws-apigw-access-logging",
    types=(STAGE,),
    title="API Gateway stages write access logs",
    level=MANDATORY,
    checkov=("CKV_AWS_76",),
    remediation="Set access_log_settings with a log group destination and a format.",
)
def _apigw_logs(r: Res) -> Iterator[str]:
    if not (r.get("accessLogSettings", "destinationArn") and r.get("accessLogSettings", "format")):
        yield "writes no access logs"


@resource_rule(
    "aws-apigw-throttling",
    types=(STAGE,),
    title="API Gateway stages throttle requests (rate and burst limits)",
    level=ADVISORY,
    remediation="Set default_route_settings throttling_rate_limit and throttling_burst_limit "
    "(tricloud:api.throttle_rate_per_second, tricloud:api.throttle_burst).",
)
def _apigw_throttle(r: Res) -> Iterator[str]:
    settings = r.get("defaultRouteSettings", default={})
    if not (dig(settings, "throttlingRateLimit") and dig(settings, "throttlingBurstLimit")):
        yield "has no default throttling: the account-level limit is the only ceiling"


@resource_rule(
    "aws-apigw-cors",
    types=(API,),
    title="HTTP APIs allow no wildcard CORS origin",
    level=MANDATORY,
    remediation="List the https origins that may call the API (tricloud:api.cors_origins).",
)
def _apigw_cors(r: Res) -> Iterator[str]:
    if "*" in as_list(r.get("corsConfiguration", "allowOrigins")):
        yield "allows CORS requests from any origin"


# --- registries, topics, ML -----------------------------------------------------------------------------------------


@resource_rule(
    "aws-ecr-immutable-tags",
    types=(ECR,),
    title="ECR repositories make image tags immutable (a pushed tag always names the same image)",
    level=MANDATORY,
    checkov=("CKV_AWS_51",),
    remediation="Set image_tag_mutability IMMUTABLE and deploy images by digest or a unique tag.",
)
def _ecr_immutable(r: Res) -> Iterator[str]:
    if r.get("imageTagMutability") not in ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"):
        yield "tags are mutable: a push can silently replace the image a model runs"


@resource_rule(
    "aws-ecr-scan-on-push",
    types=(ECR,),
    title="ECR repositories scan images on push",
    level=MANDATORY,
    checkov=("CKV_AWS_163",),
    remediation="Set image_scanning_configuration scan_on_push true.",
)
def _ecr_scan(r: Res) -> Iterator[str]:
    if r.get("imageScanningConfiguration", "scanOnPush") is not True:
        yield "does not scan images on push"


@resource_rule(
    "aws-ecr-cmk",
    types=(ECR,),
    title="ECR repositories encrypt images with a customer-managed KMS key",
    level=MANDATORY,
    checkov=("CKV_AWS_136",),
    remediation="Set encryption_configurations KMS with the lake key.",
)
def _ecr_cmk(r: Res) -> Iterator[str]:
    enc = r.get("encryptionConfigurations", 0, default={})
    if dig(enc, "encryptionType") != "KMS" or not dig(enc, "kmsKey"):
        yield "images are encrypted with AES256 or the AWS-managed key, not a customer key"


@resource_rule(
    "aws-sns-cmk",
    types=(TOPIC,),
    title="SNS topics are encrypted with a customer-managed KMS key",
    level=MANDATORY,
    checkov=("CKV_AWS_26",),
    remediation="Set kms_master_key_id to a key whose policy lets the publishing service (CloudWatch) use it.",
)
def _sns_cmk(r: Res) -> Iterator[str]:
    key = r.get("kmsMasterKeyId")
    if not key or AWS_MANAGED_KEY.search(str(key)):
        yield "is not encrypted with a customer-managed key"


@resource_rule(
    "aws-firehose-sse-cmk",
    types=(FIREHOSE,),
    title="Firehose delivery streams encrypt buffered records and delivered S3 objects with a customer-managed key",
    level=MANDATORY,
    checkov=("CKV_AWS_240", "CKV_AWS_241"),
    remediation="Set server_side_encryption {enabled: true, key_type: CUSTOMER_MANAGED_CMK, key_arn: the lake key} "
    "and the S3 destination's kms_key_arn (components/api_frontend/capture_aws.py).",
)
def _firehose_cmk(r: Res) -> Iterator[str]:
    # A stream reading a Kinesis data stream takes that stream's encryption; SSE applies to Direct PUT only.
    if not r.get("kinesisSourceConfiguration"):
        sse = r.get("serverSideEncryption") or {}
        if sse.get("enabled") is not True:
            yield "buffers records unencrypted (server-side encryption is off)"
        elif sse.get("keyType") != "CUSTOMER_MANAGED_CMK" or not sse.get("keyArn"):
            yield f"encrypts buffered records with {sse.get('keyType') or 'an AWS-owned key'}, not a customer key"
        elif AWS_MANAGED_KEY.search(str(sse.get("keyArn"))):
            yield "encrypts buffered records with an AWS-managed key, not a customer-managed key"
    s3 = r.get("extendedS3Configuration")
    if s3 is not None:
        key = s3.get("kmsKeyArn")
        if not key or AWS_MANAGED_KEY.search(str(key)):
            yield "writes S3 objects without a customer-managed key (kms_key_arn)"


@resource_rule(
    "aws-sagemaker-endpoint-cmk",
    types=(ENDPOINT_CONFIG,),
    title="SageMaker endpoint configurations encrypt storage and captured data with a customer-managed key",
    level=MANDATORY,
    checkov=("CKV_AWS_98",),
    remediation="Set kms_key_arn, and data_capture_config.kms_key_id when capture is on.",
)
def _sagemaker_cmk(r: Res) -> Iterator[str]:
    serverless = all(dig(v, "serverlessConfig") for v in as_list(r.get("productionVariants")))
    if not r.get("kmsKeyArn") and not serverless:
        yield "instance storage is not encrypted with a customer-managed key"
    if r.get("dataCaptureConfig", "enableCapture") and not r.get("dataCaptureConfig", "kmsKeyId"):
        yield "captured requests and responses are not encrypted with a customer-managed key"


@resource_rule(
    "aws-sagemaker-image-digest",
    types=(MODEL,),
    title="SageMaker models run an image pinned by digest, not a movable tag",
    level=ADVISORY,
    remediation="Deploy <repository>@sha256:<digest> (the CD step records the digest it pushed).",
)
def _sagemaker_digest(r: Res) -> Iterator[str]:
    containers = [r.get("primaryContainer", default={}), *as_list(r.get("containers"))]
    for c in containers:
        image = dig(c, "image")
        if image and "@sha256:" not in str(image):
            yield f"runs {image}: a tag can move to another image"


@stack_rule(
    "aws-sagemaker-network-isolation",
    title="SageMaker models on instance endpoints run with network isolation (serverless endpoints cannot)",
    level=ADVISORY,
    checkov=("CKV_AWS_370",),
    remediation="Set enable_network_isolation on models of instance endpoints (tricloud:endpoint.mode instance); "
    "SageMaker Serverless refuses network isolation, so serverless models are not checked.",
)
def _sagemaker_isolation(s: Stack) -> Iterator[tuple[Res, str]]:
    for model in s.of_type(MODEL):
        configs = s.dependents(model, ENDPOINT_CONFIG)
        variants = [v for c in configs for v in as_list(c.get("productionVariants"))]
        if variants and all(dig(v, "serverlessConfig") for v in variants):
            continue  # SageMaker Serverless Inference does not support network isolation
        if model.get("enableNetworkIsolation") is not True:
            yield model, "the model container can reach the internet (no network isolation)"


@resource_rule(
    "aws-athena-workgroup-encryption",
    types=(WORKGROUP,),
    title="Athena workgroups enforce encrypted query results (clients cannot opt out)",
    level=MANDATORY,
    checkov=("CKV_AWS_82", "CKV_AWS_159"),
    remediation="Set configuration.enforce_workgroup_configuration and result encryption SSE_KMS or CSE_KMS.",
)
def _athena(r: Res) -> Iterator[str]:
    cfg = r.get("configuration", default={})
    if dig(cfg, "enforceWorkgroupConfiguration") is False:
        yield "clients may override the workgroup's result encryption"
    option = dig(cfg, "resultConfiguration", "encryptionConfiguration", "encryptionOption")
    if option not in ("SSE_KMS", "CSE_KMS"):
        yield f"query results are encrypted with {option or 'nothing'}, not a KMS key"


@stack_rule(
    "aws-glue-security-configuration",
    title="Glue crawlers run with a security configuration that encrypts logs, bookmarks and output with KMS",
    level=MANDATORY,
    checkov=("CKV_AWS_195", "CKV_AWS_99"),
    remediation="Give the crawler a SecurityConfiguration with SSE-KMS (CloudWatch, S3) and CSE-KMS (bookmarks).",
)
def _glue(s: Stack) -> Iterator[tuple[Res, str]]:
    configs = {c.get("name"): c for c in s.of_type(GLUE_SECURITY)}
    for crawler in s.of_type(CRAWLER):
        name = crawler.get("securityConfiguration")
        if not name:
            yield crawler, "runs without a security configuration"
            continue
        cfg = configs.get(name)
        if cfg is None:
            continue  # defined outside this stack
        enc = cfg.get("encryptionConfiguration", default={})
        weak = [
            part
            for part, key, good in (
                ("CloudWatch logs", ("cloudwatchEncryption", "cloudwatchEncryptionMode"), "SSE-KMS"),
                ("job bookmarks", ("jobBookmarksEncryption", "jobBookmarksEncryptionMode"), "CSE-KMS"),
                ("S3 output", ("s3Encryption", "s3EncryptionMode"), "SSE-KMS"),
            )
            if dig(enc, *key) != good
        ]
        if weak:
            yield crawler, f"security configuration {name} leaves {', '.join(weak)} without KMS encryption"


@resource_rule(
    "aws-emr-security-configuration",
    types=(EMR_SECURITY,),
    title="EMR security configurations encrypt S3 data with SSE-KMS and local disks (including EBS) with KMS",
    level=MANDATORY,
    checkov=("CKV_AWS_171", "CKV_AWS_349", "CKV_AWS_350"),
    remediation="Enable at-rest encryption: S3 SSE-KMS and local disk AwsKms with EnableEbsEncryption.",
)
def _emr(r: Res) -> Iterator[str]:
    enc = dig(as_json(r.get("configuration")), "EncryptionConfiguration", default={})
    if dig(enc, "EnableAtRestEncryption") is not True:
        yield "at-rest encryption is off"
        return
    rest = dig(enc, "AtRestEncryptionConfiguration", default={})
    if dig(rest, "S3EncryptionConfiguration", "EncryptionMode") != "SSE-KMS":
        yield "EMRFS data in S3 is not encrypted with SSE-KMS"
    disk = dig(rest, "LocalDiskEncryptionConfiguration", default={})
    if dig(disk, "EncryptionKeyProviderType") != "AwsKms" or dig(disk, "EnableEbsEncryption") is not True:
        yield "local and EBS disks are not encrypted with a KMS key"


@resource_rule(
    "aws-tags",
    types=("aws:*",),
    title="Tagged AWS resources carry the standard tags (project, stack, component, owner, cost-center, managed-by)",
    level=MANDATORY,
    remediation="Create resources through the components (component_tags) or pass the standard tags.",
)
def _aws_tags(r: Res) -> Iterator[str]:
    yield from missing_standard_tags(r, "tags")

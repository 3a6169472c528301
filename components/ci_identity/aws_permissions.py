"""What `pulumi up` of the AWS stack does to each service, as IAM: one table the infrastructure role (read + write)
and the preview role (read only) are both built from.

Each `Grant` names the inventory resource types it covers (`tricloud inventory aws --json`), so a test fails when the
stack gains a resource type no grant covers. Scoping, per resource:
- by name: every resource whose physical name the stack sets starts with `<project>-<stack>` (physical_name);
- by tag: SageMaker models and endpoint configurations, KMS keys and EMR Serverless applications get generated
  names or ids, so create calls must carry the stack's `project` and `stack` tags (aws:RequestTag) and every other
  call must target a resource that carries them (aws:ResourceTag);
- not scoped (resource "*", said per grant): calls IAM defines without resource-level permissions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pulumi

from components import aws_policy as pol
from components.spark_cluster.aws import EMR_SERVICE_POLICY

Arns = Callable[["Scope"], list[pulumi.Input[str]]]


@dataclass(frozen=True)
class Scope:
    ctx: pol.AwsContext
    project: str
    stack: str
    prefix: str  # `<project>-<stack>`: the head of every physical name the stack sets

    def arn(
        self, service: str, resource: str, *, region: bool = True, account: bool = True
    ) -> pulumi.Output[str]:
        return pulumi.Output.concat(
            "arn:",
            self.ctx.partition,
            f":{service}:",
            self.ctx.region if region else "",
            ":",
            self.ctx.account_id if account else "",
            ":",
            resource,
        )

    def tag_condition(self, kind: str) -> dict[str, dict[str, str]]:
        """`aws:RequestTag/...` (create calls) or `aws:ResourceTag/...` (the rest) equal to this stack's tags."""
        return {"StringEquals": {f"aws:{kind}/project": self.project, f"aws:{kind}/stack": self.stack}}


@dataclass(frozen=True)
class Grant:
    sid: str
    covers: tuple[
        str, ...
    ]  # inventory resource types (and the delivery additions) this grant lets pulumi manage
    read: tuple[str, ...]  # Describe/Get/List: what a preview with --refresh reads
    write: tuple[str, ...]  # create/update/delete/tag
    resources: Arns
    by_tag: bool = False  # generated names: scope by the stack's tags instead of by name
    create: tuple[str, ...] = ()  # with by_tag: the calls that create (checked against aws:RequestTag)
    unscoped_reason: str = ""  # when resources is "*": why IAM offers nothing narrower
    conditions: dict[str, dict[str, object]] | None = None


def _named(service: str, *patterns: str, region: bool = True, account: bool = True) -> Arns:
    def arns(s: Scope) -> list[pulumi.Input[str]]:
        names = {"p": s.prefix, "u": s.prefix.replace("-", "_"), "project": s.project, "stack": s.stack}
        return [s.arn(service, p.format(**names), region=region, account=account) for p in patterns]

    return arns


def _everything(_: Scope) -> list[pulumi.Input[str]]:
    return ["*"]


def _any_in_account(service: str, pattern: str) -> Arns:
    """Every resource of one kind in this account and region: for ids the cloud generates at create time."""
    return lambda s: [s.arn(service, pattern)]


# SageMaker's per-stack registry group (the model-delivery work adds it) and the serving-version parameter the
# stack program reads with ssm:GetParametersByPath under /<project>/<stack>/.
MODEL_PACKAGE_GROUP = "aws:sagemaker/modelPackageGroup:ModelPackageGroup"
MODEL_PACKAGE_GROUP_POLICY = "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy"
SSM_PARAMETER = "aws:ssm/parameter:Parameter"
FIREHOSE_STREAM = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"

GRANTS: tuple[Grant, ...] = (
    Grant(
        "Buckets",
        (
            "aws:s3/bucket:Bucket",
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
            "aws:s3/bucketLogging:BucketLogging",
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
            "aws:s3/bucketPolicy:BucketPolicy",
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "aws:s3/bucketVersioning:BucketVersioning",
        ),
        read=(
            "s3:GetBucket*",
            "s3:GetAccelerateConfiguration",
            "s3:GetEncryptionConfiguration",
            "s3:GetLifecycleConfiguration",
            "s3:GetReplicationConfiguration",
            "s3:ListBucket",
        ),
        write=(
            "s3:CreateBucket",
            "s3:DeleteBucket",
            "s3:DeleteBucketPolicy",
            "s3:PutBucket*",
            "s3:PutEncryptionConfiguration",
            "s3:PutLifecycleConfiguration",
        ),
        # Bucket ARNs carry no region or account; the names carry both after the prefix. No object actions:
        # force_destroy is off, so pulumi never reads or deletes data.
        resources=_named("s3", "{p}-*", region=False, account=False),
    ),
    Grant(
        "KmsKeysCreate",
        ("aws:kms/key:Key",),
        read=(),
        write=("kms:CreateKey",),
        resources=_everything,
        by_tag=True,
        create=("kms:CreateKey",),
        unscoped_reason="CreateKey has no resource; the request must carry the stack's tags",
    ),
    Grant(
        "KmsKeysCreateTags",  # tags given at create are authorised as kms:TagResource on every key of the region
        ("aws:kms/key:Key",),
        read=(),
        write=("kms:TagResource",),
        resources=_any_in_account("kms", "key/*"),
        by_tag=True,
        create=("kms:TagResource",),
    ),
    Grant(
        "KmsKeys",
        ("aws:kms/key:Key",),
        read=("kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags"),
        write=(
            "kms:CreateAlias",
            "kms:DeleteAlias",
            "kms:EnableKeyRotation",
            "kms:PutKeyPolicy",
            "kms:ScheduleKeyDeletion",
            "kms:TagResource",
            "kms:UntagResource",
            "kms:UpdateAlias",
            "kms:UpdateKeyDescription",
            # An ECR repository encrypted with the key creates (and on delete retires) a grant as the caller.
            "kms:CreateGrant",
            "kms:RetireGrant",
        ),
        resources=_named("kms", "key/*"),
        by_tag=True,
    ),
    Grant(
        "KmsAliases",
        ("aws:kms/alias:Alias",),
        read=(),
        write=("kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"),
        resources=_named("kms", "alias/{p}-*"),
    ),
    Grant(
        "KmsList",
        ("aws:kms/alias:Alias",),
        read=("kms:ListAliases",),
        write=(),
        resources=_everything,
        unscoped_reason="ListAliases has no resource-level permissions",
    ),
    Grant(
        "Roles",
        ("aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy"),
        read=(
            "iam:GetRole",
            "iam:GetRolePolicy",
            "iam:ListAttachedRolePolicies",
            "iam:ListInstanceProfilesForRole",
            "iam:ListRolePolicies",
            "iam:ListRoleTags",
        ),
        write=(
            "iam:CreateRole",
            "iam:DeleteRole",
            "iam:DeleteRolePolicy",
            "iam:PutRolePolicy",
            "iam:TagRole",
            "iam:UntagRole",
            "iam:UpdateAssumeRolePolicy",
            "iam:UpdateRole",
            "iam:UpdateRoleDescription",
        ),
        resources=_named("iam", "role/{p}-*", region=False),
    ),
    Grant(
        "PassStackRoles",
        ("aws:iam/role:Role",),
        read=(),
        write=("iam:PassRole",),
        resources=_named("iam", "role/{p}-*", region=False),
        conditions={
            "StringEquals": {
                "iam:PassedToService": [
                    "emr-serverless.amazonaws.com",
                    "events.amazonaws.com",
                    "firehose.amazonaws.com",
                    "glue.amazonaws.com",
                    "lambda.amazonaws.com",
                    "logs.amazonaws.com",
                    "sagemaker.amazonaws.com",
                    "scheduler.amazonaws.com",
                ]
            }
        },
    ),
    Grant(
        "GithubOidcProvider",
        ("aws:iam/openIdConnectProvider:OpenIdConnectProvider",),
        read=("iam:GetOpenIDConnectProvider",),
        write=(),
        resources=_named("iam", "oidc-provider/token.actions.githubusercontent.com", region=False),
    ),
    Grant(
        "ServiceLinkedRoles",
        ("aws:emrserverless/application:Application",),
        read=(),
        write=("iam:CreateServiceLinkedRole",),
        resources=_named("iam", "role/aws-service-role/*", region=False),
        conditions={"StringEquals": {"iam:AWSServiceName": ["ops.emr-serverless.amazonaws.com"]}},
    ),
    Grant(
        "Glue",
        (
            "aws:glue/catalogDatabase:CatalogDatabase",
            "aws:glue/catalogTable:CatalogTable",
            "aws:glue/crawler:Crawler",
        ),
        read=("glue:GetCrawler", "glue:GetDatabase", "glue:GetTable", "glue:GetTags"),
        write=(
            "glue:CreateDatabase",
            "glue:CreateTable",
            "glue:DeleteCrawler",
            "glue:DeleteDatabase",
            "glue:DeleteTable",
            "glue:TagResource",
            "glue:UntagResource",
            "glue:UpdateCrawler",
            "glue:UpdateDatabase",
            "glue:UpdateTable",
        ),
        # DeleteDatabase also authorises on the database's tables and user-defined functions
        resources=_named(
            "glue",
            "catalog",
            "database/{u}_*",
            "table/{u}_*/*",
            "userDefinedFunction/{u}_*/*",
            "crawler/{p}-*",
        ),
    ),
    Grant(
        "GlueCrawlersCreate",
        ("aws:glue/crawler:Crawler",),
        read=(),
        write=("glue:CreateCrawler",),
        resources=_everything,
        by_tag=True,
        create=("glue:CreateCrawler",),
        unscoped_reason="CreateCrawler has no resource-level permissions; the request must carry the stack's tags",
    ),
    Grant(
        "GlueSecurityConfiguration",
        ("aws:glue/securityConfiguration:SecurityConfiguration",),
        read=("glue:GetSecurityConfiguration",),
        write=("glue:CreateSecurityConfiguration", "glue:DeleteSecurityConfiguration"),
        resources=_everything,
        unscoped_reason="Glue security configurations have no resource-level permissions",
    ),
    Grant(
        "Athena",
        ("aws:athena/workgroup:Workgroup", "aws:athena/namedQuery:NamedQuery"),
        # named queries authorise against the workgroup they are saved in
        read=("athena:GetNamedQuery", "athena:GetWorkGroup", "athena:ListTagsForResource"),
        write=(
            "athena:CreateNamedQuery",
            "athena:CreateWorkGroup",
            "athena:DeleteNamedQuery",
            "athena:DeleteWorkGroup",
            "athena:TagResource",
            "athena:UntagResource",
            "athena:UpdateWorkGroup",
        ),
        resources=_named("athena", "workgroup/{p}-*"),
    ),
    Grant(
        "EmrServerlessCreate",
        ("aws:emrserverless/application:Application",),
        read=(),
        write=("emr-serverless:CreateApplication",),
        resources=_everything,
        by_tag=True,
        create=("emr-serverless:CreateApplication",),
        unscoped_reason="CreateApplication has no resource; the request must carry the stack's tags",
    ),
    Grant(
        "EmrServerless",
        ("aws:emrserverless/application:Application",),
        read=("emr-serverless:GetApplication", "emr-serverless:ListTagsForResource"),
        write=(
            "emr-serverless:DeleteApplication",
            "emr-serverless:StopApplication",
            "emr-serverless:TagResource",
            "emr-serverless:UntagResource",
            "emr-serverless:UpdateApplication",
        ),
        resources=_named("emr-serverless", "/applications/*"),
        by_tag=True,
    ),
    Grant(
        "Ecr",
        ("aws:ecr/repository:Repository", "aws:ecr/lifecyclePolicy:LifecyclePolicy"),
        read=("ecr:DescribeRepositories", "ecr:GetLifecyclePolicy", "ecr:ListTagsForResource"),
        write=(
            "ecr:CreateRepository",
            "ecr:DeleteLifecyclePolicy",
            "ecr:DeleteRepository",
            "ecr:PutImageScanningConfiguration",
            "ecr:PutImageTagMutability",
            "ecr:PutLifecyclePolicy",
            "ecr:TagResource",
            "ecr:UntagResource",
        ),
        resources=_named("ecr", "repository/{p}", "repository/{p}-*"),
    ),
    Grant(
        "SageMakerEndpoint",
        ("aws:sagemaker/endpoint:Endpoint", MODEL_PACKAGE_GROUP, MODEL_PACKAGE_GROUP_POLICY),
        read=("sagemaker:DescribeEndpoint", "sagemaker:DescribeModelPackageGroup", "sagemaker:ListTags"),
        write=(
            "sagemaker:AddTags",
            "sagemaker:CreateEndpoint",
            "sagemaker:CreateModelPackageGroup",
            "sagemaker:DeleteEndpoint",
            "sagemaker:DeleteModelPackageGroup",
            "sagemaker:DeleteModelPackageGroupPolicy",
            "sagemaker:DeleteTags",
            "sagemaker:GetModelPackageGroupPolicy",
            "sagemaker:PutModelPackageGroupPolicy",
            "sagemaker:UpdateEndpoint",
        ),
        resources=_named("sagemaker", "endpoint/{p}-*", "model-package-group/{p}-*"),
    ),
    Grant(
        "SageMakerModelsCreate",
        ("aws:sagemaker/model:Model", "aws:sagemaker/endpointConfiguration:EndpointConfiguration"),
        read=(),
        write=("sagemaker:AddTags", "sagemaker:CreateEndpointConfig", "sagemaker:CreateModel"),
        resources=_named("sagemaker", "model/*", "endpoint-config/*"),
        by_tag=True,
        create=("sagemaker:AddTags", "sagemaker:CreateEndpointConfig", "sagemaker:CreateModel"),
    ),
    Grant(
        "SageMakerModels",
        ("aws:sagemaker/model:Model", "aws:sagemaker/endpointConfiguration:EndpointConfiguration"),
        read=("sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel", "sagemaker:ListTags"),
        write=(
            "sagemaker:AddTags",
            # CreateEndpoint and UpdateEndpoint authorise on the endpoint configuration they name too
            "sagemaker:CreateEndpoint",
            "sagemaker:UpdateEndpoint",
            "sagemaker:DeleteEndpointConfig",
            "sagemaker:DeleteModel",
            "sagemaker:DeleteTags",
        ),
        resources=_named("sagemaker", "model/*", "endpoint-config/*"),
        by_tag=True,
    ),
    Grant(
        "Lambda",
        ("aws:lambda/function:Function", "aws:lambda/permission:Permission"),
        read=(
            "lambda:GetFunction",
            "lambda:GetFunctionCodeSigningConfig",
            "lambda:GetFunctionConcurrency",
            "lambda:GetPolicy",
            "lambda:GetRuntimeManagementConfig",
            "lambda:ListTags",
            "lambda:ListVersionsByFunction",
        ),
        write=(
            "lambda:AddPermission",
            "lambda:CreateFunction",
            "lambda:DeleteFunction",
            "lambda:DeleteFunctionConcurrency",
            "lambda:PutFunctionConcurrency",
            "lambda:RemovePermission",
            "lambda:TagResource",
            "lambda:UntagResource",
            "lambda:UpdateFunctionCode",
            "lambda:UpdateFunctionConfiguration",
        ),
        resources=_named("lambda", "function:{p}-*"),
    ),
    Grant(
        "HttpApi",
        (
            "aws:apigatewayv2/api:Api",
            "aws:apigatewayv2/authorizer:Authorizer",
            "aws:apigatewayv2/integration:Integration",
            "aws:apigatewayv2/route:Route",
            "aws:apigatewayv2/stage:Stage",
        ),
        read=("apigateway:GET",),
        write=(
            "apigateway:DELETE",
            "apigateway:PATCH",
            "apigateway:POST",
            "apigateway:PUT",
            "apigateway:TagResource",
        ),
        # API ids are generated and API Gateway does not evaluate tag conditions on routes, integrations and
        # stages: the grant covers this region's HTTP APIs (documented in docs/cicd.md).
        resources=_named("apigateway", "/apis", "/apis/*", "/tags/*", account=False),
        unscoped_reason="API ids are generated; child resources carry no tags IAM evaluates",
    ),
    Grant(
        "HttpApiAccessLogs",
        ("aws:apigatewayv2/stage:Stage",),
        read=("logs:DescribeResourcePolicies", "logs:GetLogDelivery", "logs:ListLogDeliveries"),
        write=(
            "logs:CreateLogDelivery",
            "logs:DeleteLogDelivery",
            "logs:PutResourcePolicy",
            "logs:UpdateLogDelivery",
        ),
        resources=_everything,
        unscoped_reason="log deliveries (HTTP API access logging) have no resource-level permissions",
    ),
    Grant(
        "LogGroups",
        ("aws:cloudwatch/logGroup:LogGroup",),
        read=("logs:ListTagsForResource", "logs:ListTagsLogGroup"),
        write=(
            "logs:AssociateKmsKey",
            "logs:CreateLogGroup",
            "logs:DeleteLogGroup",
            "logs:DeleteRetentionPolicy",
            "logs:DisassociateKmsKey",
            "logs:PutRetentionPolicy",
            "logs:TagLogGroup",
            "logs:TagResource",
            "logs:UntagLogGroup",
            "logs:UntagResource",
        ),
        resources=_named("logs", "log-group:/aws/*/{p}-*", "log-group:/aws/*/{p}-*:*"),
    ),
    Grant(
        "LogGroupsList",
        ("aws:cloudwatch/logGroup:LogGroup",),
        read=("logs:DescribeLogGroups",),
        write=(),
        resources=_named("logs", "log-group:*"),
        unscoped_reason="DescribeLogGroups authorises on the account's log groups, not one name",
    ),
    Grant(
        "Alarms",
        ("aws:cloudwatch/metricAlarm:MetricAlarm",),
        read=("cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"),
        write=(
            "cloudwatch:DeleteAlarms",
            "cloudwatch:PutMetricAlarm",
            "cloudwatch:TagResource",
            "cloudwatch:UntagResource",
        ),
        resources=_named("cloudwatch", "alarm:{p}-*"),
    ),
    Grant(
        "Dashboard",
        ("aws:cloudwatch/dashboard:Dashboard",),
        read=("cloudwatch:GetDashboard",),
        write=("cloudwatch:DeleteDashboards", "cloudwatch:PutDashboard"),
        resources=_named("cloudwatch", "dashboard/{p}-*", region=False),
    ),
    Grant(
        "AlertTopic",
        ("aws:sns/topic:Topic", "aws:sns/topicSubscription:TopicSubscription"),
        read=("sns:GetSubscriptionAttributes", "sns:GetTopicAttributes", "sns:ListTagsForResource"),
        write=(
            "sns:CreateTopic",
            "sns:DeleteTopic",
            "sns:SetSubscriptionAttributes",
            "sns:SetTopicAttributes",
            "sns:Subscribe",
            "sns:TagResource",
            "sns:Unsubscribe",
            "sns:UntagResource",
        ),
        resources=_named("sns", "{p}-*"),
    ),
    # --- the non-default modes: EMR on EC2 (spark.mode cluster), instance endpoints (autoscaling), JWT auth ---
    Grant(
        "EmrClustersCreate",
        ("aws:emr/cluster:Cluster",),
        read=(),
        write=("elasticmapreduce:RunJobFlow",),
        resources=_everything,
        by_tag=True,
        create=("elasticmapreduce:RunJobFlow",),
        unscoped_reason="RunJobFlow has no resource; the request must carry the stack's tags",
    ),
    Grant(
        "EmrClustersCreateTags",  # tags given at RunJobFlow are authorised as AddTags on the new cluster
        ("aws:emr/cluster:Cluster",),
        read=(),
        write=("elasticmapreduce:AddTags",),
        resources=_any_in_account("elasticmapreduce", "cluster/*"),
        by_tag=True,
        create=("elasticmapreduce:AddTags",),
    ),
    Grant(
        "EmrClusters",
        ("aws:emr/cluster:Cluster", "aws:emr/instanceGroup:InstanceGroup"),
        read=(
            "elasticmapreduce:DescribeCluster",
            "elasticmapreduce:GetAutoTerminationPolicy",
            "elasticmapreduce:ListBootstrapActions",
            "elasticmapreduce:ListInstanceFleets",
            "elasticmapreduce:ListInstanceGroups",
            "elasticmapreduce:ListSteps",
        ),
        write=(
            "elasticmapreduce:AddInstanceGroups",
            "elasticmapreduce:AddTags",
            "elasticmapreduce:ModifyInstanceGroups",
            "elasticmapreduce:PutAutoTerminationPolicy",
            "elasticmapreduce:RemoveTags",
            "elasticmapreduce:SetTerminationProtection",
            "elasticmapreduce:TerminateJobFlows",
        ),
        resources=_named("elasticmapreduce", "cluster/*"),
        by_tag=True,
    ),
    Grant(
        "EmrSecurityConfiguration",
        ("aws:emr/securityConfiguration:SecurityConfiguration",),
        read=("elasticmapreduce:DescribeSecurityConfiguration",),
        write=(
            "elasticmapreduce:CreateSecurityConfiguration",
            "elasticmapreduce:DeleteSecurityConfiguration",
        ),
        resources=_everything,
        unscoped_reason="EMR security configurations have no resource-level permissions",
    ),
    Grant(
        "InstanceProfiles",
        ("aws:iam/instanceProfile:InstanceProfile", "aws:iam/rolePolicyAttachment:RolePolicyAttachment"),
        read=("iam:GetInstanceProfile",),
        write=(
            "iam:AddRoleToInstanceProfile",
            "iam:CreateInstanceProfile",
            "iam:DeleteInstanceProfile",
            "iam:RemoveRoleFromInstanceProfile",
            "iam:TagInstanceProfile",
        ),
        resources=_named("iam", "instance-profile/{p}-*", "role/{p}-*", region=False),
    ),
    Grant(
        "AttachEmrServicePolicy",
        ("aws:iam/rolePolicyAttachment:RolePolicyAttachment",),
        read=(),
        write=("iam:AttachRolePolicy", "iam:DetachRolePolicy"),
        resources=_named("iam", "role/{p}-*", region=False),
        # Only AWS's EMR service policy: attaching any other managed policy (AdministratorAccess) would escalate.
        conditions={"StringLike": {"iam:PolicyARN": [f"arn:*:iam::aws:policy/{EMR_SERVICE_POLICY}"]}},
    ),
    Grant(
        "PassClusterRoles",
        ("aws:emr/cluster:Cluster",),
        read=(),
        write=("iam:PassRole",),
        resources=_named("iam", "role/{p}-*", region=False),
        conditions={
            "StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "elasticmapreduce.amazonaws.com"]}
        },
    ),
    Grant(
        "EndpointAutoscaling",
        ("aws:appautoscaling/target:Target", "aws:appautoscaling/policy:Policy"),
        read=(
            "application-autoscaling:DescribeScalableTargets",
            "application-autoscaling:DescribeScalingPolicies",
        ),
        write=(
            "application-autoscaling:DeleteScalingPolicy",
            "application-autoscaling:DeregisterScalableTarget",
            "application-autoscaling:PutScalingPolicy",
            "application-autoscaling:RegisterScalableTarget",
            "application-autoscaling:TagResource",
        ),
        # scalable targets get generated ARNs: held to this account and region (the endpoint variant's resource id
        # is not an ARN IAM knows)
        resources=_any_in_account("application-autoscaling", "scalable-target/*"),
    ),
    Grant(
        "AutoscalingServiceLinkedRole",
        ("aws:appautoscaling/target:Target",),
        read=(),
        write=("iam:CreateServiceLinkedRole",),
        resources=_named("iam", "role/aws-service-role/*", region=False),
        conditions={
            "StringEquals": {"iam:AWSServiceName": ["sagemaker.application-autoscaling.amazonaws.com"]}
        },
    ),
    Grant(
        "ServingModelParameter",
        (SSM_PARAMETER,),
        read=("ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"),
        write=(),  # written by `tricloud model rollout` (rollout role), only read by the stack program
        resources=_named("ssm", "parameter/{project}/{stack}", "parameter/{project}/{stack}/*"),
    ),
    # --- model monitoring (components/api_frontend/capture_aws.py, components/observability/monitoring_aws.py) ---
    Grant(
        "CaptureStream",
        (FIREHOSE_STREAM,),
        read=("firehose:DescribeDeliveryStream", "firehose:ListTagsForDeliveryStream"),
        write=(
            "firehose:CreateDeliveryStream",
            "firehose:DeleteDeliveryStream",
            "firehose:StartDeliveryStreamEncryption",
            "firehose:StopDeliveryStreamEncryption",
            "firehose:TagDeliveryStream",
            "firehose:UntagDeliveryStream",
            "firehose:UpdateDestination",
        ),
        resources=_named("firehose", "deliverystream/{p}-*"),
    ),
    Grant(
        "CaptureSubscription",
        ("aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter",),
        read=("logs:DescribeSubscriptionFilters",),
        write=("logs:DeleteSubscriptionFilter", "logs:PutSubscriptionFilter"),
        resources=_named("logs", "log-group:/aws/lambda/{p}-*", "log-group:/aws/lambda/{p}-*:*"),
    ),
    Grant(
        "DriftSchedule",
        ("aws:scheduler/schedule:Schedule",),
        read=("scheduler:GetSchedule",),
        write=("scheduler:CreateSchedule", "scheduler:DeleteSchedule", "scheduler:UpdateSchedule"),
        resources=_named("scheduler", "schedule/default/{p}-*"),
    ),
    Grant(
        "RetrainTrigger",
        (
            "aws:cloudwatch/eventRule:EventRule",
            "aws:cloudwatch/eventTarget:EventTarget",
            "aws:cloudwatch/eventConnection:EventConnection",
            "aws:cloudwatch/eventApiDestination:EventApiDestination",
        ),
        read=(
            "events:DescribeApiDestination",
            "events:DescribeConnection",
            "events:DescribeRule",
            "events:ListTagsForResource",
            "events:ListTargetsByRule",
        ),
        write=(
            "events:CreateApiDestination",
            "events:CreateConnection",
            "events:DeleteApiDestination",
            "events:DeleteConnection",
            "events:DeleteRule",
            "events:PutRule",
            "events:PutTargets",
            "events:RemoveTargets",
            "events:TagResource",
            "events:UntagResource",
            "events:UpdateApiDestination",
            "events:UpdateConnection",
        ),
        resources=_named("events", "rule/{p}-*", "connection/{p}-*", "api-destination/{p}-*"),
    ),
    Grant(
        "RetrainTriggerSecret",
        ("aws:cloudwatch/eventConnection:EventConnection",),
        read=("secretsmanager:DescribeSecret",),
        # EventBridge keeps a connection's credentials in a secret it creates, with the caller's rights.
        write=(
            "secretsmanager:CreateSecret",
            "secretsmanager:DeleteSecret",
            "secretsmanager:PutSecretValue",
            "secretsmanager:UpdateSecret",
        ),
        resources=_named("secretsmanager", "secret:events!connection/{p}-*"),
    ),
    Grant(
        "DriftJobCode",
        ("aws:s3/bucketObjectv2:BucketObjectv2",),
        read=("s3:GetObject", "s3:GetObjectTagging"),
        write=("s3:DeleteObject", "s3:PutObject", "s3:PutObjectTagging"),
        resources=lambda s: [
            pulumi.Output.concat("arn:", s.ctx.partition, f":s3:::{s.prefix}-*/code/monitor/*")
        ],
    ),
)


def statements(scope: Scope, *, write: bool) -> list[pol.Statement]:
    """The infrastructure role's statements (write=True) or the preview role's (read only)."""
    out: list[pol.Statement] = []
    for grant in GRANTS:
        actions = sorted({*grant.read, *(grant.write if write else ())})
        if not actions:
            continue
        resources = grant.resources(scope)
        if not grant.by_tag:
            out.append(pol.statement(actions, resources, sid=grant.sid, conditions=grant.conditions))
            continue
        kind = "RequestTag" if grant.create else "ResourceTag"
        out.append(pol.statement(actions, resources, sid=grant.sid, conditions=scope.tag_condition(kind)))
    return out


def protect_ci(scope: Scope) -> pol.Statement:
    """The infrastructure role may not change the CI identities (its own trust and rights) nor the OIDC provider:
    a change there is an administrator's `pulumi up`, so a deploy job cannot widen who may deploy."""
    return pol.statement(
        [
            "iam:AttachRolePolicy",
            "iam:CreateOpenIDConnectProvider",
            "iam:DeleteOpenIDConnectProvider",
            "iam:DeleteRole",
            "iam:DeleteRolePermissionsBoundary",
            "iam:DeleteRolePolicy",
            "iam:PutRolePermissionsBoundary",
            "iam:PutRolePolicy",
            "iam:TagOpenIDConnectProvider",
            "iam:TagRole",
            "iam:UntagRole",
            "iam:UpdateAssumeRolePolicy",
            "iam:UpdateOpenIDConnectProviderThumbprint",
            "iam:UpdateRole",
        ],
        [
            scope.arn("iam", f"role/{scope.prefix}-ci-*", region=False),
            scope.arn("iam", "oidc-provider/token.actions.githubusercontent.com", region=False),
        ],
        sid="CiIdentitiesAreAdminOnly",
        effect="Deny",
    )


def covered_types() -> set[str]:
    return {t for g in GRANTS for t in g.covers}


def unscoped(grants: Sequence[Grant] = GRANTS) -> list[tuple[str, str]]:
    """(sid, reason) of every grant whose resource is not narrowed to this stack: docs/cicd.md lists them."""
    return [(g.sid, g.unscoped_reason) for g in grants if g.unscoped_reason]

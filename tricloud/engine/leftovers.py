"""What is left in the emulator: the check behind "destroy leaves the emulator empty", and the sweep that removes
what a stack left without a state entry (a lost or deleted state file).

Every resource type the engine handles is either listed here (`LISTERS`, one per kind, with the types it covers)
or goes with the resource it belongs to (`CASCADES`); `tests/emulator/test_lifecycle.py` checks both ways, so a
destroy that skips a type cannot go unnoticed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from tricloud.engine.emulator import Emulator
from tricloud.engine.handlers.identity import local_policies
from tricloud.engine.handlers.registry import group_deleted
from tricloud.engine.state import Entry

ACTIVE_CLUSTER = ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"]


@dataclass(frozen=True)
class Lister:
    service: str
    items: Callable[[Any], dict[str, str]]  # client -> {id: name (what says whose it is)}
    type: str  # the handler type that deletes one
    # client, id -> tags, for kinds whose names do not carry the stack (auto-named, URL-named)
    tags: Callable[[Any, str], dict[str, str]] | None = None
    outputs: Callable[[str, str], dict[str, Any]] = lambda ident, name: {"name": name}


def _keys(c: Any) -> dict[str, str]:
    out = {}
    for page in c.get_paginator("list_keys").paginate():
        for k in page["Keys"]:
            meta = c.describe_key(KeyId=k["KeyId"])["KeyMetadata"]
            if meta.get("KeyState") != "PendingDeletion" and meta.get("KeyManager") == "CUSTOMER":
                out[k["KeyId"]] = meta.get("Description", "")
    return out


def _same(items: list[str]) -> dict[str, str]:
    return {i: i for i in items}


def _sm_tags(c: Any, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in c.list_tags(ResourceArn=arn)["Tags"]}


def _oidc_tags(c: Any, arn: str) -> dict[str, str]:
    tags = c.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"]
    return {t["Key"]: t["Value"] for t in tags}


# moto implements neither ListSecurityConfigurations for EMR nor a dump of its state that survives Lambda models:
# EMR security configurations are found by the names this process created (`remember`), each checked by describe.
EMR_SECURITY_CONFIGURATIONS: set[str] = set()


def remember_emr_security_configuration(name: str) -> None:
    EMR_SECURITY_CONFIGURATIONS.add(name)


def _emr_security_configurations(c: Any) -> dict[str, str]:
    found = {}
    for name in sorted(EMR_SECURITY_CONFIGURATIONS):
        try:
            c.describe_security_configuration(Name=name)
            found[name] = name
        except ClientError:
            pass
    return found


def _profiles(c: Any) -> dict[str, str]:
    return _same([p["InstanceProfileName"] for p in c.list_instance_profiles()["InstanceProfiles"]])


def _ec2_tags(c: Any, ident: str) -> dict[str, str]:
    tags = c.describe_tags(Filters=[{"Name": "resource-id", "Values": [ident]}])["Tags"]
    return {t["Key"]: t["Value"] for t in tags}


def _ec2_named(items: list[dict[str, Any]], id_key: str) -> dict[str, str]:
    """{id: its Name tag, or the id}: EC2 ids are generated, so ownership is read from the tags."""
    return {
        i[id_key]: next((t["Value"] for t in i.get("Tags", []) if t["Key"] == "Name"), i[id_key])
        for i in items
    }


# Ordered so that a sweep deletes dependents before what they depend on.
LISTERS: dict[str, Lister] = {
    # The warehouse VPC (its account's default VPC and default groups are moto's own, never listed).
    "vpc flow logs": Lister(
        "ec2",
        lambda c: _ec2_named(c.describe_flow_logs()["FlowLogs"], "FlowLogId"),
        "aws:ec2/flowLog:FlowLog",
        tags=_ec2_tags,
    ),
    "vpc endpoints": Lister(
        "ec2",
        lambda c: _ec2_named(
            [e for e in c.describe_vpc_endpoints()["VpcEndpoints"] if e.get("State") != "deleted"],
            "VpcEndpointId",
        ),
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        tags=_ec2_tags,
    ),
    "security groups": Lister(
        "ec2",
        lambda c: {
            g["GroupId"]: g["GroupName"]
            for g in c.describe_security_groups()["SecurityGroups"]
            if g["GroupName"] != "default"
        },
        "aws:ec2/securityGroup:SecurityGroup",
        tags=_ec2_tags,
    ),
    "subnets": Lister(
        "ec2",
        lambda c: _ec2_named(
            [s for s in c.describe_subnets()["Subnets"] if not s.get("DefaultForAz")], "SubnetId"
        ),
        "aws:ec2/subnet:Subnet",
        tags=_ec2_tags,
    ),
    "route tables": Lister(
        "ec2",
        lambda c: _ec2_named(
            [
                t
                for t in c.describe_route_tables()["RouteTables"]
                if not any(a.get("Main") for a in t.get("Associations", []))
            ],
            "RouteTableId",
        ),
        "aws:ec2/routeTable:RouteTable",
        tags=_ec2_tags,
    ),
    "vpcs": Lister(
        "ec2",
        lambda c: _ec2_named([v for v in c.describe_vpcs()["Vpcs"] if not v.get("IsDefault")], "VpcId"),
        "aws:ec2/vpc:Vpc",
        tags=_ec2_tags,
    ),
    "http apis": Lister(
        "apigatewayv2",
        lambda c: {a["ApiId"]: a["Name"] for a in c.get_apis()["Items"]},
        "aws:apigatewayv2/api:Api",
    ),
    "lambda functions": Lister(
        "lambda",
        lambda c: _same([f["FunctionName"] for f in c.list_functions()["Functions"]]),
        "aws:lambda/function:Function",
    ),
    "sagemaker endpoints": Lister(
        "sagemaker",
        lambda c: _same([m["EndpointName"] for m in c.list_endpoints()["Endpoints"]]),
        "aws:sagemaker/endpoint:Endpoint",
    ),
    "sagemaker model package groups": Lister(
        "sagemaker",
        lambda c: {
            g["ModelPackageGroupName"]: g["ModelPackageGroupName"]
            for g in c.list_model_package_groups()["ModelPackageGroupSummaryList"]
            if not group_deleted(c, g["ModelPackageGroupArn"])
        },
        "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
    ),
    "sagemaker endpoint configs": Lister(
        "sagemaker",
        lambda c: {
            m["EndpointConfigArn"]: m["EndpointConfigName"]
            for m in c.list_endpoint_configs()["EndpointConfigs"]
        },
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        tags=_sm_tags,
    ),
    "sagemaker models": Lister(
        "sagemaker",
        lambda c: {m["ModelArn"]: m["ModelName"] for m in c.list_models()["Models"]},
        "aws:sagemaker/model:Model",
        tags=_sm_tags,
    ),
    "emr serverless apps": Lister(
        "emr-serverless",
        lambda c: {
            a["id"]: a["name"] for a in c.list_applications()["applications"] if a["state"] != "TERMINATED"
        },
        "aws:emrserverless/application:Application",
    ),
    "emr clusters": Lister(
        "emr",
        lambda c: {x["Id"]: x["Name"] for x in c.list_clusters(ClusterStates=ACTIVE_CLUSTER)["Clusters"]},
        "aws:emr/cluster:Cluster",
    ),
    "emr security configurations": Lister(
        "emr", _emr_security_configurations, "aws:emr/securityConfiguration:SecurityConfiguration"
    ),
    "glue crawlers": Lister(
        "glue", lambda c: _same(c.list_crawlers()["CrawlerNames"]), "aws:glue/crawler:Crawler"
    ),
    "glue databases": Lister(
        "glue",
        lambda c: _same([d["Name"] for d in c.get_databases()["DatabaseList"]]),
        "aws:glue/catalogDatabase:CatalogDatabase",
    ),
    "glue security configurations": Lister(
        "glue",
        lambda c: _same([s["Name"] for s in c.get_security_configurations()["SecurityConfigurations"]]),
        "aws:glue/securityConfiguration:SecurityConfiguration",
    ),
    "athena workgroups": Lister(
        "athena",
        lambda c: _same([w["Name"] for w in c.list_work_groups()["WorkGroups"] if w["Name"] != "primary"]),
        "aws:athena/workgroup:Workgroup",
    ),
    "ecr repositories": Lister(
        "ecr",
        lambda c: _same([r["repositoryName"] for r in c.describe_repositories()["repositories"]]),
        "aws:ecr/repository:Repository",
    ),
    "schedules": Lister(
        "scheduler",
        lambda c: _same([x["Name"] for x in c.list_schedules()["Schedules"]]),
        "aws:scheduler/schedule:Schedule",
    ),
    "event rules": Lister(
        "events",
        lambda c: _same([x["Name"] for x in c.list_rules()["Rules"]]),
        "aws:cloudwatch/eventRule:EventRule",
    ),
    "api destinations": Lister(
        "events",
        lambda c: _same([x["Name"] for x in c.list_api_destinations()["ApiDestinations"]]),
        "aws:cloudwatch/eventApiDestination:EventApiDestination",
    ),
    "event connections": Lister(
        "events",
        lambda c: _same([x["Name"] for x in c.list_connections()["Connections"]]),
        "aws:cloudwatch/eventConnection:EventConnection",
    ),
    "firehose streams": Lister(
        "firehose",
        lambda c: _same(c.list_delivery_streams()["DeliveryStreamNames"]),
        "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream",
    ),
    "alarms": Lister(
        "cloudwatch",
        lambda c: _same([a["AlarmName"] for a in c.describe_alarms()["MetricAlarms"]]),
        "aws:cloudwatch/metricAlarm:MetricAlarm",
    ),
    "dashboards": Lister(
        "cloudwatch",
        lambda c: _same([d["DashboardName"] for d in c.list_dashboards()["DashboardEntries"]]),
        "aws:cloudwatch/dashboard:Dashboard",
    ),
    "sns subscriptions": Lister(
        "sns",
        lambda c: {
            s["SubscriptionArn"]: s["TopicArn"]
            for s in c.list_subscriptions()["Subscriptions"]
            if s["SubscriptionArn"] not in ("PendingConfirmation", "Deleted")
        },
        "aws:sns/topicSubscription:TopicSubscription",
    ),
    "sns topics": Lister(
        "sns", lambda c: _same([t["TopicArn"] for t in c.list_topics()["Topics"]]), "aws:sns/topic:Topic"
    ),
    "log groups": Lister(
        "logs",
        lambda c: _same([g["logGroupName"] for g in c.describe_log_groups()["logGroups"]]),
        "aws:cloudwatch/logGroup:LogGroup",
    ),
    "scaling policies": Lister(
        "application-autoscaling",
        lambda c: {
            f"{p['PolicyName']}|sagemaker|{p['ResourceId']}|{p['ScalableDimension']}": p["ResourceId"]
            for p in c.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
        },
        "aws:appautoscaling/policy:Policy",
    ),
    "scalable targets": Lister(
        "application-autoscaling",
        lambda c: {
            f"sagemaker|{t['ResourceId']}|{t['ScalableDimension']}": t["ResourceId"]
            for t in c.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
        },
        "aws:appautoscaling/target:Target",
    ),
    "instance profiles": Lister("iam", _profiles, "aws:iam/instanceProfile:InstanceProfile"),
    "managed policies": Lister(
        "iam",
        lambda c: {p["Arn"]: p["PolicyName"] for p in local_policies(c)},
        "aws:iam/policy:Policy",
    ),
    "roles": Lister(
        "iam",
        lambda c: _same(
            [r["RoleName"] for r in c.list_roles()["Roles"] if not r["Path"].startswith("/aws-")]
        ),
        "aws:iam/role:Role",
    ),
    "oidc providers": Lister(
        "iam",
        lambda c: _same([p["Arn"] for p in c.list_open_id_connect_providers()["OpenIDConnectProviderList"]]),
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        tags=_oidc_tags,
    ),
    "kms aliases": Lister(
        "kms",
        lambda c: _same(
            [
                a["AliasName"]
                for a in c.list_aliases()["Aliases"]
                if not a["AliasName"].startswith("alias/aws/")
            ]
        ),
        "aws:kms/alias:Alias",
    ),
    "kms keys (not pending deletion)": Lister(
        "kms", _keys, "aws:kms/key:Key", outputs=lambda ident, name: {"deletionWindowInDays": 7}
    ),
    "buckets": Lister(
        "s3",
        lambda c: _same([b["Name"] for b in c.list_buckets().get("Buckets", [])]),
        "aws:s3/bucket:Bucket",
    ),
}

# Types with no lister of their own: each goes with the resource named here (deleting that deletes it, in moto
# as in AWS), so a leftover one shows up as a leftover of its owner.
CASCADES: dict[str, tuple[str, str]] = {
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "aws:s3/bucket:Bucket",
        "a bucket setting",
    ),
    "aws:s3/bucketVersioning:BucketVersioning": ("aws:s3/bucket:Bucket", "a bucket setting"),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ("aws:s3/bucket:Bucket", "a bucket setting"),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ("aws:s3/bucket:Bucket", "a bucket setting"),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (
        "aws:s3/bucket:Bucket",
        "a bucket setting",
    ),
    "aws:s3/bucketLogging:BucketLogging": ("aws:s3/bucket:Bucket", "a bucket setting"),
    "aws:s3/bucketPolicy:BucketPolicy": ("aws:s3/bucket:Bucket", "a bucket setting"),
    "aws:iam/rolePolicy:RolePolicy": ("aws:iam/role:Role", "inline policies are part of the role"),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": (
        "aws:iam/role:Role",
        "detached when the role is deleted",
    ),
    "aws:lambda/permission:Permission": (
        "aws:lambda/function:Function",
        "a statement of the function's policy",
    ),
    "aws:apigatewayv2/integration:Integration": ("aws:apigatewayv2/api:Api", "a part of the HTTP API"),
    "aws:apigatewayv2/route:Route": ("aws:apigatewayv2/api:Api", "a part of the HTTP API"),
    "aws:apigatewayv2/authorizer:Authorizer": ("aws:apigatewayv2/api:Api", "a part of the HTTP API"),
    "aws:apigatewayv2/stage:Stage": ("aws:apigatewayv2/api:Api", "a part of the HTTP API"),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": (
        "aws:ecr/repository:Repository",
        "a setting of the repository",
    ),
    "aws:emr/instanceGroup:InstanceGroup": ("aws:emr/cluster:Cluster", "terminated with its cluster"),
    "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy": (
        "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
        "a setting of the group",
    ),
    "aws:glue/catalogTable:CatalogTable": (
        "aws:glue/catalogDatabase:CatalogDatabase",
        "DeleteDatabase deletes the database's tables",
    ),
    "aws:athena/namedQuery:NamedQuery": (
        "aws:athena/workgroup:Workgroup",
        "saved queries go with their workgroup (DeleteWorkGroup with RecursiveDeleteOption)",
    ),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": (
        "aws:ec2/routeTable:RouteTable",
        "removed with its route table",
    ),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": ("aws:ec2/vpc:Vpc", "deleted with its VPC"),
    "aws:s3/bucketObjectv2:BucketObjectv2": ("aws:s3/bucket:Bucket", "an object of the bucket"),
    "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter": (
        "aws:cloudwatch/logGroup:LogGroup",
        "a setting of the log group",
    ),
    "aws:cloudwatch/eventTarget:EventTarget": ("aws:cloudwatch/eventRule:EventRule", "removed with its rule"),
}

# Types the emulator cannot hold (moto has no API for them): their handlers check them against the emulator and
# keep them in the engine's state only (tricloud/engine/handlers/warehouse.py), so none can be left behind.
STATE_ONLY: dict[str, str] = {
    "aws:redshiftserverless/namespace:Namespace": "moto has no Redshift Serverless",
    "aws:redshiftserverless/workgroup:Workgroup": "moto has no Redshift Serverless",
    "aws:redshiftserverless/usageLimit:UsageLimit": "moto has no Redshift Serverless",
}


def leftovers(emu: Emulator) -> dict[str, list[str]]:
    """Non-empty lists only; KMS keys count when not scheduled for deletion (AWS never deletes a key at once)."""
    found: dict[str, list[str]] = {}
    for what, lister in LISTERS.items():
        items = lister.items(emu.client(lister.service))
        if items:
            found[what] = sorted(items)
    return found


def owned(lister: Lister, client: Any, ident: str, name: str, prefix: str, tags: dict[str, str]) -> bool:
    """A resource is the stack's when its name carries `<project>-<stack>` or its tags name the project and stack."""
    if prefix in name or prefix.replace("-", "_") in name:
        return True
    if lister.tags is None:
        return False
    have = lister.tags(client, ident)
    return all(have.get(k) == v for k, v in tags.items())


def sweep(emu: Emulator, ctx: Any, project: str, stack: str) -> list[tuple[str, str]]:
    """Delete what is the stack's by name or tags but listed in no state; returns (kind, id) of what went."""
    from tricloud.engine.handlers import HANDLERS

    prefix = f"{project}-{stack}"
    tags = {"project": project, "stack": stack}
    removed: list[tuple[str, str]] = []
    for what, lister in LISTERS.items():
        client = emu.client(lister.service)
        for ident, name in sorted(lister.items(client).items()):
            if not owned(lister, client, ident, name, prefix, tags):
                continue
            handler = HANDLERS[lister.type]
            entry_id = name if lister.type.startswith("aws:sagemaker/") else ident
            handler.delete(ctx, Entry(lister.type, name, entry_id, lister.outputs(ident, name), ""))
            removed.append((what, name if name != ident else ident))
    return removed

"""What is left in the emulator: the check behind "destroy leaves the emulator empty"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tricloud.engine.emulator import Emulator


def _keys(c: Any) -> list[str]:
    out = []
    for k in c.list_keys()["Keys"]:
        meta = c.describe_key(KeyId=k["KeyId"])["KeyMetadata"]
        if meta.get("KeyState") != "PendingDeletion" and meta.get("KeyManager") == "CUSTOMER":
            out.append(k["KeyId"])
    return out


LISTERS: dict[str, tuple[str, Callable[[Any], list[str]]]] = {
    "buckets": ("s3", lambda c: [b["Name"] for b in c.list_buckets().get("Buckets", [])]),
    "roles": (
        "iam",
        lambda c: [r["RoleName"] for r in c.list_roles()["Roles"] if not r["Path"].startswith("/aws-")],
    ),
    "oidc providers": (
        "iam",
        lambda c: [p["Arn"] for p in c.list_open_id_connect_providers()["OpenIDConnectProviderList"]],
    ),
    "kms keys (not pending deletion)": ("kms", _keys),
    "kms aliases": (
        "kms",
        lambda c: [
            a["AliasName"] for a in c.list_aliases()["Aliases"] if not a["AliasName"].startswith("alias/aws/")
        ],
    ),
    "glue databases": ("glue", lambda c: [d["Name"] for d in c.get_databases()["DatabaseList"]]),
    "glue crawlers": ("glue", lambda c: c.list_crawlers()["CrawlerNames"]),
    "athena workgroups": (
        "athena",
        lambda c: [w["Name"] for w in c.list_work_groups()["WorkGroups"] if w["Name"] != "primary"],
    ),
    "emr serverless apps": (
        "emr-serverless",
        lambda c: [a["id"] for a in c.list_applications()["applications"] if a["state"] != "TERMINATED"],
    ),
    "emr clusters": (
        "emr",
        lambda c: [
            x["Id"]
            for x in c.list_clusters(ClusterStates=["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"])[
                "Clusters"
            ]
        ],
    ),
    "ecr repositories": (
        "ecr",
        lambda c: [r["repositoryName"] for r in c.describe_repositories()["repositories"]],
    ),
    "sagemaker models": ("sagemaker", lambda c: [m["ModelName"] for m in c.list_models()["Models"]]),
    "sagemaker endpoint configs": (
        "sagemaker",
        lambda c: [m["EndpointConfigName"] for m in c.list_endpoint_configs()["EndpointConfigs"]],
    ),
    "sagemaker endpoints": (
        "sagemaker",
        lambda c: [m["EndpointName"] for m in c.list_endpoints()["Endpoints"]],
    ),
    "lambda functions": ("lambda", lambda c: [f["FunctionName"] for f in c.list_functions()["Functions"]]),
    "http apis": ("apigatewayv2", lambda c: [a["ApiId"] for a in c.get_apis()["Items"]]),
    "log groups": ("logs", lambda c: [g["logGroupName"] for g in c.describe_log_groups()["logGroups"]]),
    "alarms": ("cloudwatch", lambda c: [a["AlarmName"] for a in c.describe_alarms()["MetricAlarms"]]),
    "dashboards": (
        "cloudwatch",
        lambda c: [d["DashboardName"] for d in c.list_dashboards()["DashboardEntries"]],
    ),
    "sns topics": ("sns", lambda c: [t["TopicArn"] for t in c.list_topics()["Topics"]]),
}


def leftovers(emu: Emulator) -> dict[str, list[str]]:
    """Non-empty lists only; KMS keys count when not scheduled for deletion (AWS never deletes a key at once)."""
    found: dict[str, list[str]] = {}
    for what, (service, lister) in LISTERS.items():
        items = lister(emu.client(service))
        if items:
            found[what] = sorted(items)
    return found

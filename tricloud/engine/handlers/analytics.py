"""Glue catalog, crawler and security configuration, Athena workgroups, EMR Serverless applications, ECR."""

from __future__ import annotations

from typing import Any

from tricloud.engine.handlers.base import (
    Ctx,
    Handler,
    PutHandler,
    Resource,
    as_json,
    compact,
    found,
    ignore_gone,
    pascal,
    register,
    tag_list,
)
from tricloud.engine.state import Entry


@register("aws:glue/catalogDatabase:CatalogDatabase", "glue")
class GlueDatabase(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        name = r.physical()
        db: dict[str, Any] = {"Name": name}
        if r.get("description"):
            db["Description"] = r.get("description")
        if r.get("locationUri"):
            db["LocationUri"] = r.get("locationUri")
        ctx.client("glue").create_database(DatabaseInput=db)
        return f"{ctx.account}:{name}", {
            "name": name,
            "catalogId": ctx.account,
            "arn": ctx.arn("glue", f"database/{name}"),
        }

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("glue").delete_database(Name=e.outputs["name"]))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return found(lambda: ctx.client("glue").get_database(Name=e.outputs["name"]))


@register("aws:glue/securityConfiguration:SecurityConfiguration", "glue")
class GlueSecurityConfiguration(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        name = r.physical()
        conf = r.get("encryptionConfiguration", {})
        s3 = conf.get("s3Encryption")
        enc = pascal(
            {
                "cloudWatchEncryption": conf.get("cloudwatchEncryption"),
                "jobBookmarksEncryption": conf.get("jobBookmarksEncryption"),
                "s3Encryption": [s3] if s3 else None,
            },
            {"cloudwatchEncryptionMode": "CloudWatchEncryptionMode"},
        )
        ctx.client("glue").create_security_configuration(Name=name, EncryptionConfiguration=enc)
        return name, {"name": name}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("glue").delete_security_configuration(Name=e.id))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return found(lambda: ctx.client("glue").get_security_configuration(Name=e.id))


@register("aws:glue/crawler:Crawler", "glue")
class GlueCrawler(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        name = r.physical()
        kwargs: dict[str, Any] = {
            "Name": name,
            "Role": r.get("role"),
            "DatabaseName": r.get("databaseName"),
            "Targets": {"S3Targets": pascal(r.get("s3Targets", []))},
            "Tags": dict(r.get("tags", {})),
        }
        for key in ("schemaChangePolicy", "recrawlPolicy"):
            if r.get(key):
                kwargs[key[0].upper() + key[1:]] = pascal(r.get(key))
        if r.get("securityConfiguration"):
            kwargs["CrawlerSecurityConfiguration"] = r.get("securityConfiguration")
        if r.get("schedule"):
            kwargs["Schedule"] = r.get("schedule")
        ctx.client("glue").create_crawler(**kwargs)
        return name, {"name": name, "arn": ctx.arn("glue", f"crawler/{name}"), "tagsAll": r.get("tags", {})}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("glue").delete_crawler(Name=e.id))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return found(lambda: ctx.client("glue").get_crawler(Name=e.id))


ATHENA_KEYS = {
    "kmsKeyArn": "KmsKey",
    "enforceWorkgroupConfiguration": "EnforceWorkGroupConfiguration",
    "publishCloudwatchMetricsEnabled": "PublishCloudWatchMetricsEnabled",
}


@register("aws:athena/workgroup:Workgroup", "athena")
class AthenaWorkgroup(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        name = r.physical()
        conf = pascal(r.get("configuration", {}), ATHENA_KEYS)
        ctx.client("athena").create_work_group(
            Name=name,
            Configuration=conf,
            Description=r.get("description", ""),
            Tags=tag_list(r.get("tags")),
        )
        return name, {"arn": ctx.arn("athena", f"workgroup/{name}"), "tagsAll": r.get("tags", {})}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(
            lambda: ctx.client("athena").delete_work_group(WorkGroup=e.id, RecursiveDeleteOption=True)
        )

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return found(lambda: ctx.client("athena").get_work_group(WorkGroup=e.id))


@register("aws:emrserverless/application:Application", "emr-serverless")
class EmrServerlessApplication(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        kwargs = compact(
            {
                "name": r.physical(),
                "releaseLabel": r.get("releaseLabel"),
                "type": str(r.get("type", "spark")).upper(),
                "autoStartConfiguration": r.get("autoStartConfiguration"),
                "autoStopConfiguration": r.get("autoStopConfiguration"),
                "maximumCapacity": r.get("maximumCapacity"),
                "monitoringConfiguration": r.get("monitoringConfiguration"),
                "tags": r.get("tags"),
            }
        )
        app = ctx.client("emr-serverless").create_application(**kwargs)
        return app["applicationId"], {"arn": app["arn"], "name": r.physical(), "tagsAll": r.get("tags", {})}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        emr = ctx.client("emr-serverless")
        ignore_gone(lambda: emr.stop_application(applicationId=e.id))
        ignore_gone(lambda: emr.delete_application(applicationId=e.id))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        try:
            app = ctx.client("emr-serverless").get_application(applicationId=e.id)["application"]
        except Exception:
            return False
        return app.get("state") not in ("TERMINATED",)

    def locate(self, ctx: Ctx, r: Resource) -> list[Entry]:
        apps = ctx.client("emr-serverless").get_paginator("list_applications").paginate()
        return [
            Entry(self.type, r.name, a["id"], {}, "")
            for page in apps
            for a in page["applications"]
            if a["name"] == r.physical() and a["state"] != "TERMINATED"
        ]


@register("aws:ecr/repository:Repository", "ecr")
class EcrRepository(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        name = r.physical()
        kwargs: dict[str, Any] = {
            "repositoryName": name,
            "imageTagMutability": r.get("imageTagMutability", "MUTABLE"),
            "tags": tag_list(r.get("tags")),
        }
        if r.get("imageScanningConfiguration"):
            kwargs["imageScanningConfiguration"] = compact(r.get("imageScanningConfiguration"))
        encs = r.get("encryptionConfigurations") or []
        if encs:
            kwargs["encryptionConfiguration"] = compact(encs[0])
        repo = ctx.client("ecr").create_repository(**kwargs)["repository"]
        return name, {
            "arn": repo["repositoryArn"],
            "registryId": repo["registryId"],
            "repositoryUrl": repo["repositoryUri"],
            "tagsAll": r.get("tags", {}),
        }

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("ecr").delete_repository(repositoryName=e.id, force=True))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return found(lambda: ctx.client("ecr").describe_repositories(repositoryNames=[e.id]))


@register("aws:ecr/lifecyclePolicy:LifecyclePolicy", "ecr")
class EcrLifecyclePolicy(PutHandler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        repo = str(r.get("repository"))
        out = ctx.client("ecr").put_lifecycle_policy(
            repositoryName=repo, lifecyclePolicyText=as_json(r.get("policy"))
        )
        return repo, {"registryId": out["registryId"]}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("ecr").delete_lifecycle_policy(repositoryName=e.id))


@register("aws:emr/securityConfiguration:SecurityConfiguration", "emr")
class EmrSecurityConfiguration(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        name = r.physical()
        ctx.client("emr").create_security_configuration(
            Name=name, SecurityConfiguration=as_json(r.get("configuration"))
        )
        from tricloud.engine.leftovers import remember_emr_security_configuration

        remember_emr_security_configuration(name)  # moto cannot list them (leftovers.py)
        return name, {"name": name}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("emr").delete_security_configuration(Name=e.id))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return found(lambda: ctx.client("emr").describe_security_configuration(Name=e.id))


def _group(role: str, g: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "InstanceRole": role,
        "InstanceType": g.get("instanceType"),
        "InstanceCount": int(g.get("instanceCount", 1)),
        "Market": "SPOT" if g.get("bidPrice") else "ON_DEMAND",
        **({"BidPrice": str(g["bidPrice"])} if g.get("bidPrice") else {}),
        **extra,
    }


@register("aws:emr/cluster:Cluster", "emr")
class EmrCluster(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        ec2 = r.get("ec2Attributes", {})
        instances: dict[str, Any] = {
            "InstanceGroups": [
                _group("MASTER", r.get("masterInstanceGroup", {})),
                _group("CORE", r.get("coreInstanceGroup", {})),
            ],
            "KeepJobFlowAliveWhenNoSteps": bool(r.get("keepJobFlowAliveWhenNoSteps", True)),
        }
        if ec2.get("subnetId"):
            instances["Ec2SubnetId"] = ec2["subnetId"]
        kwargs: dict[str, Any] = {
            "Name": r.physical(),
            "ReleaseLabel": r.get("releaseLabel"),
            "Applications": [{"Name": a} for a in r.get("applications", [])],
            "ServiceRole": r.get("serviceRole"),
            # EMR takes the instance profile's name; the program passes its ARN.
            "JobFlowRole": str(ec2.get("instanceProfile", "")).rsplit("/", 1)[-1],
            "Instances": instances,
            "VisibleToAllUsers": bool(r.get("visibleToAllUsers", False)),
            "Tags": tag_list(r.get("tags")),
        }
        for key, arg in (
            ("securityConfiguration", "SecurityConfiguration"),
            ("logUri", "LogUri"),
            ("logEncryptionKmsKeyId", "LogEncryptionKmsKeyId"),
        ):
            if r.get(key):
                kwargs[arg] = r.get(key)
        if r.get("autoTerminationPolicy"):
            kwargs["AutoTerminationPolicy"] = pascal(r.get("autoTerminationPolicy"))
        out = ctx.client("emr").run_job_flow(**kwargs)
        cid = out["JobFlowId"]
        r.deviate("EMR on EC2 cluster recorded by moto; no instances run (Spark runs in local mode)")
        return cid, {
            "arn": out.get("ClusterArn") or ctx.arn("elasticmapreduce", f"cluster/{cid}"),
            "masterPublicDns": f"ip-10-0-0-1.{ctx.region}.compute.internal",
            "tagsAll": r.get("tags", {}),
        }

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("emr").terminate_job_flows(JobFlowIds=[e.id]))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        try:
            state = ctx.client("emr").describe_cluster(ClusterId=e.id)["Cluster"]["Status"]["State"]
        except Exception:
            return False
        return not state.startswith("TERMINAT")

    def locate(self, ctx: Ctx, r: Resource) -> list[Entry]:
        active = ctx.client("emr").list_clusters(
            ClusterStates=["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"]
        )
        return [
            Entry(self.type, r.name, c["Id"], {}, "") for c in active["Clusters"] if c["Name"] == r.physical()
        ]


@register("aws:emr/instanceGroup:InstanceGroup", "emr")
class EmrInstanceGroup(Handler):
    idempotent = True  # a group left by a crash goes with its cluster (instance groups cannot be deleted)

    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        group = _group("TASK", r.inputs, Name=r.get("name", r.name))
        emr = ctx.client("emr")
        out = emr.add_instance_groups(JobFlowId=r.get("clusterId"), InstanceGroups=[group])
        ids = out.get("InstanceGroupIds")
        if not ids:  # moto answers with the groups, not their ids: find ours by name
            groups = emr.list_instance_groups(ClusterId=r.get("clusterId"))["InstanceGroups"]
            ids = [g["Id"] for g in groups if g.get("Name") == group["Name"]]
        return ids[-1], {"clusterId": r.get("clusterId")}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        # Instance groups cannot be deleted, only shrunk to zero (as the provider does); terminating the
        # cluster removes them.
        ignore_gone(
            lambda: ctx.client("emr").modify_instance_groups(
                ClusterId=e.outputs["clusterId"],
                InstanceGroups=[{"InstanceGroupId": e.id, "InstanceCount": 0}],
            )
        )

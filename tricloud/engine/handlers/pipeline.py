"""Model-monitoring plumbing: S3 objects (the drift job's code), Firehose, log subscription filters, EventBridge
Scheduler schedules, EventBridge connections, API destinations, rules and targets."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from tricloud.engine.archive import Zip
from tricloud.engine.handlers.base import (
    Ctx,
    Handler,
    PutHandler,
    Replace,
    Resource,
    found,
    ignore_gone,
    register,
    tag_list,
)
from tricloud.engine.state import Entry


def _body(key: str, source: Any, content: Any) -> bytes:
    """An archive uploads as its zip; a single file (FileAsset, normalised to a one-file zip) as its bytes."""
    if content is not None:
        return str(content).encode()
    if not isinstance(source, Zip):
        raise ValueError(f"source = {source!r}: the local engine needs a FileAsset or an archive")
    if key.endswith(".zip"):
        return source.data
    with zipfile.ZipFile(io.BytesIO(source.data)) as zf:
        names = zf.namelist()
        if len(names) != 1:
            raise ValueError(f"key {key!r} is not a .zip but its source holds {len(names)} files")
        return zf.read(names[0])


@register("aws:s3/bucketObjectv2:BucketObjectv2", "s3")
class BucketObject(PutHandler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        bucket, key = str(r.get("bucket")), str(r.get("key"))
        body = _body(key, r.get("source"), r.get("content"))
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key, "Body": body}
        if r.get("contentType"):
            kwargs["ContentType"] = r.get("contentType")
        out = ctx.client("s3").put_object(**kwargs)
        return key, {"bucket": bucket, "key": key, "etag": out.get("ETag", "").strip('"'),
                     "versionId": out.get("VersionId", "")}  # fmt: skip

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("s3").delete_object(Bucket=e.outputs["bucket"], Key=e.id))


def _firehose_s3(conf: dict[str, Any], r: Resource) -> dict[str, Any]:
    prefix = str(conf.get("prefix") or "")
    static = prefix.split("!{", 1)[0]
    if static != prefix:
        r.deviate(f"prefix {prefix!r}: moto does not expand !{{...}} expressions; objects go under {static!r} "
                  "+ YYYY/MM/DD/HH/")  # fmt: skip
    processing = conf.get("processingConfiguration") or {}
    if processing.get("enabled"):
        r.deviate("processors (decompression, message extraction) are stored, not run: records land as the gzipped "
                  "CloudWatch Logs envelopes (app.monitor.capture reads both)")  # fmt: skip
    out: dict[str, Any] = {
        "RoleARN": conf.get("roleArn"),
        "BucketARN": conf.get("bucketArn"),
        "Prefix": static,
        "ErrorOutputPrefix": str(conf.get("errorOutputPrefix") or "").split("!{", 1)[0],
        "BufferingHints": {
            "SizeInMBs": int(conf.get("bufferingSize") or 5),
            "IntervalInSeconds": int(conf.get("bufferingInterval") or 300),
        },
        "CompressionFormat": conf.get("compressionFormat") or "UNCOMPRESSED",
    }
    if conf.get("kmsKeyArn"):
        out["EncryptionConfiguration"] = {"KMSEncryptionConfig": {"AWSKMSKeyARN": conf["kmsKeyArn"]}}
    if processing:
        out["ProcessingConfiguration"] = {
            "Enabled": bool(processing.get("enabled")),
            "Processors": [
                {
                    "Type": p["type"],
                    "Parameters": [
                        {"ParameterName": x["parameterName"], "ParameterValue": x["parameterValue"]}
                        for x in p.get("parameters") or []
                    ],
                }
                for p in processing.get("processors") or []
            ],
        }
    logging_ = conf.get("cloudwatchLoggingOptions") or {}
    if logging_:
        out["CloudWatchLoggingOptions"] = {"Enabled": bool(logging_.get("enabled")),
                                           "LogGroupName": logging_.get("logGroupName", ""),
                                           "LogStreamName": logging_.get("logStreamName", "")}  # fmt: skip
    return out


@register("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream", "firehose")
class DeliveryStream(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        if r.get("destination") != "extended_s3":
            raise ValueError(
                f"destination = {r.get('destination')!r}: the local engine delivers extended_s3 only"
            )
        name = r.physical()
        kwargs: dict[str, Any] = {
            "DeliveryStreamName": name,
            "DeliveryStreamType": "DirectPut",
            "ExtendedS3DestinationConfiguration": _firehose_s3(r.get("extendedS3Configuration", {}), r),
            "Tags": tag_list(r.get("tags")),
        }
        sse = r.get("serverSideEncryption") or {}
        if sse.get("enabled"):
            kwargs["DeliveryStreamEncryptionConfigurationInput"] = {
                "KeyType": sse.get("keyType", "AWS_OWNED_CMK"),
                **({"KeyARN": sse["keyArn"]} if sse.get("keyArn") else {}),
            }
        arn = ctx.client("firehose").create_delivery_stream(**kwargs)["DeliveryStreamARN"]
        r.deviate("records are written to S3 at once (no buffering) by moto")
        return name, {"arn": arn, "name": name, "tagsAll": r.get("tags", {})}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("firehose").delete_delivery_stream(DeliveryStreamName=e.id))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return found(lambda: ctx.client("firehose").describe_delivery_stream(DeliveryStreamName=e.id))


@register("aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter", "logs")
class SubscriptionFilter(PutHandler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        group, name = str(r.get("logGroup")), r.physical()
        ctx.client("logs").put_subscription_filter(
            logGroupName=group,
            filterName=name,
            filterPattern=str(r.get("filterPattern", "")),
            destinationArn=str(r.get("destinationArn")),
            roleArn=str(r.get("roleArn", "")),
        )
        r.deviate("moto forwards every event of the log group, whatever the filter pattern")
        return f"{group}|{name}", {"name": name, "logGroup": group}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        group, _, name = e.id.partition("|")
        ignore_gone(
            lambda: ctx.client("logs").delete_subscription_filter(logGroupName=group, filterName=name)
        )


def _pascal_retry(retry: dict[str, Any] | None) -> dict[str, int]:
    retry = retry or {}
    return {k: int(v) for k, v in (("MaximumRetryAttempts", retry.get("maximumRetryAttempts")),
                                   ("MaximumEventAgeInSeconds", retry.get("maximumEventAgeInSeconds"))) if v is not None}  # fmt: skip


@register("aws:scheduler/schedule:Schedule", "scheduler")
class Schedule(Handler):
    def _kwargs(self, r: Resource) -> dict[str, Any]:
        t = r.get("target", {})
        window = r.get("flexibleTimeWindow", {})
        target: dict[str, Any] = {"Arn": t.get("arn"), "RoleArn": t.get("roleArn")}
        if t.get("input") is not None:
            target["Input"] = t["input"]
        if t.get("retryPolicy"):
            target["RetryPolicy"] = _pascal_retry(t["retryPolicy"])
        flexible: dict[str, Any] = {"Mode": window.get("mode", "OFF")}
        if window.get("maximumWindowInMinutes"):
            flexible["MaximumWindowInMinutes"] = int(window["maximumWindowInMinutes"])
        return {
            "Name": r.physical(),
            "ScheduleExpression": r.get("scheduleExpression"),
            "FlexibleTimeWindow": flexible,
            "Target": target,
            "Description": r.get("description", ""),
            "State": r.get("state", "ENABLED"),
        }

    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        arn = ctx.client("scheduler").create_schedule(**self._kwargs(r))["ScheduleArn"]
        r.deviate(
            "the schedule is stored, never fired: `tricloud monitor job` or the scenario runs the drift job"
        )
        return r.physical(), {"arn": arn, "name": r.physical()}

    def update(self, ctx: Ctx, r: Resource, old: Entry) -> tuple[str, dict[str, Any]]:
        if r.physical() != old.id:
            raise Replace
        ctx.client("scheduler").update_schedule(**self._kwargs(r))
        return old.id, old.outputs

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("scheduler").delete_schedule(Name=e.id))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return found(lambda: ctx.client("scheduler").get_schedule(Name=e.id))


@register("aws:cloudwatch/eventConnection:EventConnection", "events")
class Connection(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        auth = r.get("authParameters", {})
        key = auth.get("apiKey") or {}
        out = ctx.client("events").create_connection(
            Name=r.physical(),
            Description=r.get("description", ""),
            AuthorizationType=r.get("authorizationType"),
            AuthParameters={
                "ApiKeyAuthParameters": {
                    "ApiKeyName": key.get("key", ""),
                    "ApiKeyValue": key.get("value", ""),
                }
            },
        )
        return r.physical(), {"arn": out["ConnectionArn"], "name": r.physical(),
                              "secretArn": f"arn:aws:secretsmanager:{ctx.region}:{ctx.account}:secret:events!connection/{r.physical()}"}  # fmt: skip

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("events").delete_connection(Name=e.id))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return found(lambda: ctx.client("events").describe_connection(Name=e.id))


@register("aws:cloudwatch/eventApiDestination:EventApiDestination", "events")
class ApiDestination(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        out = ctx.client("events").create_api_destination(
            Name=r.physical(),
            Description=r.get("description", ""),
            ConnectionArn=r.get("connectionArn"),
            InvocationEndpoint=r.get("invocationEndpoint"),
            HttpMethod=r.get("httpMethod"),
            InvocationRateLimitPerSecond=int(r.get("invocationRateLimitPerSecond", 300)),
        )
        r.deviate(
            "nothing is ever sent to the endpoint offline (no network): the scenario runs what it dispatches"
        )
        return r.physical(), {"arn": out["ApiDestinationArn"], "name": r.physical()}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("events").delete_api_destination(Name=e.id))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return found(lambda: ctx.client("events").describe_api_destination(Name=e.id))


@register("aws:cloudwatch/eventRule:EventRule", "events")
class Rule(PutHandler):
    idempotent = False  # targets hang off a rule: a crashed create is found and deleted like any other

    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        kwargs: dict[str, Any] = {"Name": r.physical(), "Description": r.get("description", ""),
                                  "State": r.get("state", "ENABLED"), "Tags": tag_list(r.get("tags"))}  # fmt: skip
        if r.get("eventPattern"):
            kwargs["EventPattern"] = r.get("eventPattern")
        if r.get("scheduleExpression"):
            kwargs["ScheduleExpression"] = r.get("scheduleExpression")
        arn = ctx.client("events").put_rule(**kwargs)["RuleArn"]
        return r.physical(), {"arn": arn, "name": r.physical(), "tagsAll": r.get("tags", {})}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        events = ctx.client("events")
        try:
            ids = [t["Id"] for t in events.list_targets_by_rule(Rule=e.id)["Targets"]]
        except Exception:
            ids = []
        if ids:
            events.remove_targets(Rule=e.id, Ids=ids)
        ignore_gone(lambda: events.delete_rule(Name=e.id))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return found(lambda: ctx.client("events").describe_rule(Name=e.id))


@register("aws:cloudwatch/eventTarget:EventTarget", "events")
class Target(PutHandler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        rule = str(r.get("rule"))
        target_id = str(r.get("targetId") or r.autoname)
        target: dict[str, Any] = {"Id": target_id, "Arn": r.get("arn")}
        if r.get("roleArn"):
            target["RoleArn"] = r.get("roleArn")
        transformer = r.get("inputTransformer")
        if transformer:
            target["InputTransformer"] = {"InputPathsMap": transformer.get("inputPaths", {}),
                                          "InputTemplate": transformer.get("inputTemplate", "")}  # fmt: skip
        http = r.get("httpTarget")
        if http:
            target["HttpParameters"] = {"HeaderParameters": http.get("headerParameters", {})}
        if r.get("retryPolicy"):
            target["RetryPolicy"] = _pascal_retry(r.get("retryPolicy"))
        ctx.client("events").put_targets(Rule=rule, Targets=[target])
        return f"{rule}-{target_id}", {"rule": rule, "targetId": target_id}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(
            lambda: ctx.client("events").remove_targets(Rule=e.outputs["rule"], Ids=[e.outputs["targetId"]])
        )


def dumps(doc: Any) -> str:
    return json.dumps(doc, sort_keys=True)

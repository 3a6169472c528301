"""SageMaker models, endpoint configurations and endpoints; Application Auto Scaling for instance endpoints."""

from __future__ import annotations

from typing import Any

from tricloud.engine.handlers.base import (
    Ctx,
    Handler,
    Replace,
    Resource,
    found,
    ignore_gone,
    pascal,
    register,
    tag_list,
)
from tricloud.engine.state import Entry

SM_KEYS = {
    "memorySizeInMb": "MemorySizeInMB",
    "kmsKeyId": "KmsKeyId",
    "modelDataUrl": "ModelDataUrl",
    "initialSamplingPercentage": "InitialSamplingPercentage",
    "destinationS3Uri": "DestinationS3Uri",
}


def _sm_arn(ctx: Ctx, kind: str, name: str) -> str:
    return ctx.arn("sagemaker", f"{kind}/{name.lower()}")


@register("aws:sagemaker/model:Model", "sagemaker")
class Model(Handler):
    create_before_delete = True  # auto-named: a new model is created next to the old one

    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        name = r.physical()
        kwargs: dict[str, Any] = {
            "ModelName": name,
            "ExecutionRoleArn": r.get("executionRoleArn"),
            "EnableNetworkIsolation": bool(r.get("enableNetworkIsolation", False)),
            "Tags": tag_list(r.get("tags")),
        }
        if r.get("primaryContainer"):
            kwargs["PrimaryContainer"] = pascal(r.get("primaryContainer"), SM_KEYS)
        if r.get("containers"):
            kwargs["Containers"] = pascal(r.get("containers"), SM_KEYS)
        ctx.client("sagemaker").create_model(**kwargs)
        return name, {"name": name, "arn": _sm_arn(ctx, "model", name), "tagsAll": r.get("tags", {})}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("sagemaker").delete_model(ModelName=e.id))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return found(lambda: ctx.client("sagemaker").describe_model(ModelName=e.id))


@register("aws:sagemaker/endpointConfiguration:EndpointConfiguration", "sagemaker")
class EndpointConfiguration(Handler):
    create_before_delete = True  # the endpoint switches from the old configuration to the new one

    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        name = r.physical()
        kwargs: dict[str, Any] = {
            "EndpointConfigName": name,
            "ProductionVariants": pascal(r.get("productionVariants", []), SM_KEYS),
            "Tags": tag_list(r.get("tags")),
        }
        if r.get("kmsKeyArn"):
            kwargs["KmsKeyId"] = r.get("kmsKeyArn")
        if r.get("dataCaptureConfig"):
            kwargs["DataCaptureConfig"] = pascal(r.get("dataCaptureConfig"), SM_KEYS)
            r.deviate("data capture is configured but the local endpoint does not write captured requests")
        ctx.client("sagemaker").create_endpoint_config(**kwargs)
        return name, {
            "name": name,
            "arn": _sm_arn(ctx, "endpoint-config", name),
            "tagsAll": r.get("tags", {}),
        }

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("sagemaker").delete_endpoint_config(EndpointConfigName=e.id))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return found(lambda: ctx.client("sagemaker").describe_endpoint_config(EndpointConfigName=e.id))


@register("aws:sagemaker/endpoint:Endpoint", "sagemaker")
class Endpoint(Handler):
    def _deployment(self, ctx: Ctx, r: Resource) -> dict[str, Any] | None:
        conf = r.get("deploymentConfig")
        if not conf:
            return None
        alarms = [a["alarmName"] for a in conf.get("autoRollbackConfiguration", {}).get("alarms", [])]
        if alarms:
            # The alarms must exist (AWS validates them too); moto never evaluates them, so no rollback happens.
            known = {
                a["AlarmName"]
                for a in ctx.client("cloudwatch").describe_alarms(AlarmNames=alarms)["MetricAlarms"]
            }
            missing = sorted(set(alarms) - known)
            if missing:
                raise ValueError(f"deploymentConfig.autoRollbackConfiguration: alarms {missing} do not exist")
        r.deviate(
            "deployment_config (blue/green canary, auto-rollback alarms) is validated and stored; moto switches "
            "configurations at once and never evaluates alarms: the canary deployer enacts it when a model rolls "
            "out in the serving process (tricloud model demo aws, time compressed)"
        )
        return pascal(conf)

    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        name = r.physical()
        kwargs: dict[str, Any] = {
            "EndpointName": name,
            "EndpointConfigName": r.get("endpointConfigName"),
            "Tags": tag_list(r.get("tags")),
        }
        deployment = self._deployment(ctx, r)
        if deployment:
            kwargs["DeploymentConfig"] = deployment
        ctx.client("sagemaker").create_endpoint(**kwargs)
        return name, {"name": name, "arn": _sm_arn(ctx, "endpoint", name), "tagsAll": r.get("tags", {})}

    def update(self, ctx: Ctx, r: Resource, old: Entry) -> tuple[str, dict[str, Any]]:
        if r.physical() != old.id:
            raise Replace
        kwargs: dict[str, Any] = {"EndpointName": old.id, "EndpointConfigName": r.get("endpointConfigName")}
        deployment = self._deployment(ctx, r)
        if deployment:
            kwargs["DeploymentConfig"] = deployment
        ctx.client("sagemaker").update_endpoint(**kwargs)
        return old.id, {**old.outputs, "tagsAll": r.get("tags", {})}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("sagemaker").delete_endpoint(EndpointName=e.id))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return found(lambda: ctx.client("sagemaker").describe_endpoint(EndpointName=e.id))


@register("aws:appautoscaling/target:Target", "application-autoscaling")
class ScalingTarget(Handler):
    idempotent = True  # register_scalable_target is a put

    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        kwargs = {
            "ServiceNamespace": r.get("serviceNamespace"),
            "ResourceId": r.get("resourceId"),
            "ScalableDimension": r.get("scalableDimension"),
            "MinCapacity": int(r.get("minCapacity")),
            "MaxCapacity": int(r.get("maxCapacity")),
        }
        ctx.client("application-autoscaling").register_scalable_target(**kwargs)
        ident = f"{kwargs['ServiceNamespace']}|{kwargs['ResourceId']}|{kwargs['ScalableDimension']}"
        return ident, {"arn": ctx.arn("application-autoscaling", f"scalable-target/{r.name}")}

    def update(self, ctx: Ctx, r: Resource, old: Entry) -> tuple[str, dict[str, Any]]:
        return self.create(ctx, r)

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ns, rid, dim = e.id.split("|")
        ignore_gone(
            lambda: ctx.client("application-autoscaling").deregister_scalable_target(
                ServiceNamespace=ns, ResourceId=rid, ScalableDimension=dim
            )
        )


@register("aws:appautoscaling/policy:Policy", "application-autoscaling")
class ScalingPolicy(Handler):
    idempotent = True  # put_scaling_policy

    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        name = r.physical()
        kwargs: dict[str, Any] = {
            "PolicyName": name,
            "PolicyType": r.get("policyType"),
            "ServiceNamespace": r.get("serviceNamespace"),
            "ResourceId": r.get("resourceId"),
            "ScalableDimension": r.get("scalableDimension"),
        }
        if r.get("targetTrackingScalingPolicyConfiguration"):
            kwargs["TargetTrackingScalingPolicyConfiguration"] = pascal(
                r.get("targetTrackingScalingPolicyConfiguration")
            )
        arn = ctx.client("application-autoscaling").put_scaling_policy(**kwargs)["PolicyARN"]
        return f"{name}|{kwargs['ServiceNamespace']}|{kwargs['ResourceId']}|{kwargs['ScalableDimension']}", {
            "name": name,
            "arn": arn,
        }

    def delete(self, ctx: Ctx, e: Entry) -> None:
        name, ns, rid, dim = e.id.split("|")
        ignore_gone(
            lambda: ctx.client("application-autoscaling").delete_scaling_policy(
                PolicyName=name, ServiceNamespace=ns, ResourceId=rid, ScalableDimension=dim
            )
        )

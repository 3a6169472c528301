"""The model registry and the serving record offline: SageMaker model package groups in moto, the endpoint update
a rollout needs, and the provider functions (invokes) the stack program calls, answered from the emulator.

`INVOKES` maps a provider function token to `fn(ctx, args) -> result`; the engine's mocks consult it before the
recording mocks' defaults, so `ssm.getParametersByPath` returns what `tricloud model rollout` wrote to moto's SSM.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from tricloud.engine import iam
from tricloud.engine.handlers.base import (
    Ctx,
    Handler,
    Replace,
    Resource,
    gone,
    ignore_gone,
    register,
    tag_list,
)
from tricloud.engine.handlers.ml import Endpoint as EndpointBase
from tricloud.engine.handlers.ml import _sm_arn
from tricloud.engine.state import Entry
from tricloud.mocks.aws import parameters_by_path

Invoke = Callable[[Ctx, dict[str, Any]], dict[str, Any]]


# moto 5 has no DeleteModelPackageGroup (nor DeleteModelPackage): a destroyed group is marked with this tag, hidden
# from the leftovers listing, and adopted again by the next create of the same name (a deviation both ways).
DELETED_TAG = "tricloud:deleted"


def group_deleted(sm: Any, arn: str) -> bool:
    return any(t["Key"] == DELETED_TAG for t in sm.list_tags(ResourceArn=arn)["Tags"])


@register("aws:sagemaker/modelPackageGroup:ModelPackageGroup", "sagemaker")
class ModelPackageGroup(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        sm, name = ctx.client("sagemaker"), r.physical("modelPackageGroupName")
        arn = self._tombstoned(sm, name)
        if arn:
            sm.delete_tags(ResourceArn=arn, TagKeys=[DELETED_TAG])
            r.deviate(
                "moto cannot delete model package groups: re-adopted the destroyed group, versions included"
            )
        else:
            arn = sm.create_model_package_group(
                ModelPackageGroupName=name,
                ModelPackageGroupDescription=r.get("modelPackageGroupDescription", ""),
                Tags=tag_list(r.get("tags")),
            )["ModelPackageGroupArn"]
        return name, {"modelPackageGroupName": name, "arn": arn, "tagsAll": r.get("tags", {})}

    @staticmethod
    def _tombstoned(sm: Any, name: str) -> str | None:
        """The ARN of a group of this name that a destroy marked deleted, if any."""
        try:
            arn = str(sm.describe_model_package_group(ModelPackageGroupName=name)["ModelPackageGroupArn"])
        except ClientError as exc:
            if gone(exc):
                return None
            raise
        return arn if group_deleted(sm, arn) else None

    def delete(self, ctx: Ctx, e: Entry) -> None:
        sm = ctx.client("sagemaker")

        def mark() -> None:
            arn = sm.describe_model_package_group(ModelPackageGroupName=e.id)["ModelPackageGroupArn"]
            sm.add_tags(ResourceArn=arn, Tags=[{"Key": DELETED_TAG, "Value": "true"}])

        ignore_gone(mark)
        e.deviations.append(
            "moto cannot delete model package groups: marked deleted (tag) until the emulator stops"
        )

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        sm = ctx.client("sagemaker")
        try:
            arn = sm.describe_model_package_group(ModelPackageGroupName=e.id)["ModelPackageGroupArn"]
        except ClientError as exc:
            if gone(exc):
                return False
            raise
        return not group_deleted(sm, arn)


@register("aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy", "sagemaker")
class ModelPackageGroupPolicy(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        group = str(r.get("modelPackageGroupName"))
        policy = r.get("resourcePolicy")
        doc = json.loads(policy) if isinstance(policy, str) else policy
        if not isinstance(doc, dict) or not doc.get("Statement"):
            raise ValueError(f"resourcePolicy of {group}: not an IAM policy document: {policy!r}")
        # The group must exist, as PutModelPackageGroupPolicy demands.
        ctx.client("sagemaker").describe_model_package_group(ModelPackageGroupName=group)
        r.deviate("moto has no model package group policies: the policy is validated and kept in state only")
        return group, {"modelPackageGroupName": group}

    def update(self, ctx: Ctx, r: Resource, old: Entry) -> tuple[str, dict[str, Any]]:
        return self.create(ctx, r)

    def delete(self, ctx: Ctx, e: Entry) -> None:
        pass  # nothing was created in the emulator


@register("aws:sagemaker/endpoint:Endpoint", "sagemaker")
class Endpoint(EndpointBase):
    """A model rollout changes the endpoint's configuration. moto (5.2) has no UpdateEndpoint, so the endpoint is
    re-created under its name with the new configuration: instant, where AWS shifts traffic blue/green."""

    def update(self, ctx: Ctx, r: Resource, old: Entry) -> tuple[str, dict[str, Any]]:
        if r.physical() != old.id:
            raise Replace
        ctx = _as_update_endpoint(ctx, _sm_arn(ctx, "endpoint", old.id))
        ctx.client("sagemaker").delete_endpoint(EndpointName=old.id)
        _, outputs = self.create(ctx, r)
        r.deviate(
            "moto has no UpdateEndpoint: the endpoint was re-created with the new configuration at once"
        )
        return old.id, {**old.outputs, **outputs}


@dataclass
class _StandIn(Ctx):
    """The emulator's stand-in for a call moto lacks, made as AWS itself (the deployer's client)."""

    def client(self, service: str) -> Any:
        return self.emulator.deployer_client(service)


def _as_update_endpoint(ctx: Ctx, endpoint_arn: str) -> Ctx:
    """When the engine applies as a role (`Emulator.sign_as`), the delete + create that stand in for UpdateEndpoint
    are not the role's calls: authorize `sagemaker:UpdateEndpoint` on the endpoint for it (refused as SageMaker
    would), then make them as the emulator."""
    session = ctx.emulator.signer
    if session is None:
        return ctx
    auth = iam.Authorizer(ctx.emulator.deployer_client("iam"), ttl_s=0)
    denial = auth.check(session, "sagemaker:UpdateEndpoint", endpoint_arn, source="engine (UpdateEndpoint)")
    if denial is not None:
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": str(denial)}}, "UpdateEndpoint"
        )
    return _StandIn(ctx.emulator, ctx.region, ctx.account, ctx.code_store)


def _parameters_by_path(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
    ssm = ctx.client("ssm")
    store: dict[str, str] = {}
    pages = ssm.get_paginator("get_parameters_by_path").paginate(
        Path=str(args.get("path")),
        Recursive=bool(args.get("recursive")),
        WithDecryption=bool(args.get("withDecryption")),
    )
    for page in pages:
        store.update({p["Name"]: p["Value"] for p in page["Parameters"]})
    return parameters_by_path({**args, "region": ctx.region}, store)


INVOKES: dict[str, Invoke] = {"aws:ssm/getParametersByPath:getParametersByPath": _parameters_by_path}


def emulator_invokes(ctx: Callable[[], Ctx]) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
    """The invokes bound to an engine's context (created lazily: the emulator may start after the mocks)."""
    return {token: (lambda args, fn=fn: fn(ctx(), args)) for token, fn in INVOKES.items()}

"""IAM roles, inline and managed policies, attachments, instance profiles and OIDC providers."""

from __future__ import annotations

from typing import Any

from tricloud.engine.handlers.base import (
    Ctx,
    Handler,
    PutHandler,
    Replace,
    Resource,
    as_json,
    found,
    ignore_gone,
    register,
    tag_list,
)
from tricloud.engine.state import Entry


def mirrored(ctx: Ctx) -> bool:
    return ctx.emulator.url_for("iam") != ctx.emulator.moto_url


@register("aws:iam/role:Role", "iam")
class Role(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        name = r.physical()
        kwargs: dict[str, Any] = {
            "RoleName": name,
            "AssumeRolePolicyDocument": as_json(r.get("assumeRolePolicy")),
            "Path": r.get("path", "/"),
            "MaxSessionDuration": int(r.get("maxSessionDuration", 3600)),
            "Tags": tag_list(r.get("tags")),
        }
        if r.get("description"):
            kwargs["Description"] = r.get("description")
        role = ctx.client("iam").create_role(**kwargs)["Role"]
        if mirrored(ctx):
            # moto's Lambda and EMR Serverless accept only roles moto's IAM knows: keep a copy there.
            ctx.emulator.moto_client("iam").create_role(**kwargs)
            r.deviate("role also created in moto's IAM: moto's Lambda/EMR Serverless check roles against it")
        return name, {
            "name": name,
            "arn": role["Arn"],
            "uniqueId": role["RoleId"],
            "createDate": str(role["CreateDate"]),
            "tagsAll": r.get("tags", {}),
        }

    def update(self, ctx: Ctx, r: Resource, old: Entry) -> tuple[str, dict[str, Any]]:
        if r.physical() != old.id:
            raise Replace
        iam = ctx.client("iam")
        iam.update_assume_role_policy(RoleName=old.id, PolicyDocument=as_json(r.get("assumeRolePolicy")))
        iam.update_role(
            RoleName=old.id,
            Description=r.get("description", ""),
            MaxSessionDuration=int(r.get("maxSessionDuration", 3600)),
        )
        if r.get("tags"):
            iam.tag_role(RoleName=old.id, Tags=tag_list(r.get("tags")))
        return old.id, {**old.outputs, "tagsAll": r.get("tags", {})}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        iam = ctx.client("iam")

        def drop() -> None:
            # AWS refuses to delete a role that still has policies or profiles; detach leftovers first.
            for pname in iam.list_role_policies(RoleName=e.id)["PolicyNames"]:
                iam.delete_role_policy(RoleName=e.id, PolicyName=pname)
            for att in iam.list_attached_role_policies(RoleName=e.id)["AttachedPolicies"]:
                iam.detach_role_policy(RoleName=e.id, PolicyArn=att["PolicyArn"])
            for prof in iam.list_instance_profiles_for_role(RoleName=e.id)["InstanceProfiles"]:
                iam.remove_role_from_instance_profile(
                    InstanceProfileName=prof["InstanceProfileName"], RoleName=e.id
                )
            iam.delete_role(RoleName=e.id)

        ignore_gone(drop)
        if mirrored(ctx):
            ignore_gone(lambda: ctx.emulator.moto_client("iam").delete_role(RoleName=e.id))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return found(lambda: ctx.client("iam").get_role(RoleName=e.id))


@register("aws:iam/rolePolicy:RolePolicy", "iam")
class RolePolicy(PutHandler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        role, name = str(r.get("role")), r.physical()
        ctx.client("iam").put_role_policy(
            RoleName=role, PolicyName=name, PolicyDocument=as_json(r.get("policy"))
        )
        return f"{role}:{name}", {"name": name, "role": role}

    def update(self, ctx: Ctx, r: Resource, old: Entry) -> tuple[str, dict[str, Any]]:
        if f"{r.get('role')}:{r.physical()}" != old.id:
            raise Replace
        return self.create(ctx, r)

    def delete(self, ctx: Ctx, e: Entry) -> None:
        role, _, name = e.id.partition(":")
        ignore_gone(lambda: ctx.client("iam").delete_role_policy(RoleName=role, PolicyName=name))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        role, _, name = e.id.partition(":")
        return found(lambda: ctx.client("iam").get_role_policy(RoleName=role, PolicyName=name))


@register("aws:iam/policy:Policy", "iam")
class ManagedPolicy(Handler):
    """A customer-managed policy (the CI infrastructure role's grants do not fit one inline document)."""

    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        name = r.physical()
        policy = ctx.client("iam").create_policy(
            PolicyName=name,
            Path=r.get("path", "/"),
            PolicyDocument=as_json(r.get("policy")),
            Description=r.get("description", ""),
            Tags=tag_list(r.get("tags")),
        )["Policy"]
        return policy["Arn"], {"name": name, "arn": policy["Arn"], "policyId": policy["PolicyId"]}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        iam = ctx.client("iam")

        def drop() -> None:
            # A crashed run may have left it attached (IAM refuses to delete an attached policy).
            for role in iam.list_entities_for_policy(PolicyArn=e.id, EntityFilter="Role")["PolicyRoles"]:
                ignore_gone(lambda r=role: iam.detach_role_policy(RoleName=r["RoleName"], PolicyArn=e.id))
            for version in iam.list_policy_versions(PolicyArn=e.id)["Versions"]:
                if not version["IsDefaultVersion"]:
                    iam.delete_policy_version(PolicyArn=e.id, VersionId=version["VersionId"])
            iam.delete_policy(PolicyArn=e.id)

        ignore_gone(drop)

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return found(lambda: ctx.client("iam").get_policy(PolicyArn=e.id))

    def locate(self, ctx: Ctx, r: Resource) -> list[Entry]:
        """The id is an ARN: find a policy of this name that a crashed run created."""
        name = r.physical()
        return [
            Entry(self.type, r.name, p["Arn"], {"name": name, "arn": p["Arn"]}, "")
            for p in local_policies(ctx.client("iam"))
            if p["PolicyName"] == name
        ]


def local_policies(iam: Any) -> list[dict[str, Any]]:
    """The account's customer-managed policies."""
    return [
        p for page in iam.get_paginator("list_policies").paginate(Scope="Local") for p in page["Policies"]
    ]


@register("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "iam")
class RolePolicyAttachment(Handler):
    idempotent = True  # attaching twice is a no-op

    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        role, arn = str(r.get("role")), str(r.get("policyArn"))
        ctx.client("iam").attach_role_policy(RoleName=role, PolicyArn=arn)
        return f"{role}/{arn}", {}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        role, _, arn = e.id.partition("/")
        ignore_gone(lambda: ctx.client("iam").detach_role_policy(RoleName=role, PolicyArn=arn))


@register("aws:iam/instanceProfile:InstanceProfile", "iam")
class InstanceProfile(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        iam, name = ctx.client("iam"), r.physical()
        prof = iam.create_instance_profile(
            InstanceProfileName=name, Path=r.get("path", "/"), Tags=tag_list(r.get("tags"))
        )["InstanceProfile"]
        if r.get("role"):
            iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=str(r.get("role")))
        return name, {"name": name, "arn": prof["Arn"], "uniqueId": prof["InstanceProfileId"]}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        iam = ctx.client("iam")

        def drop() -> None:
            prof = iam.get_instance_profile(InstanceProfileName=e.id)["InstanceProfile"]
            for role in prof.get("Roles", []):
                iam.remove_role_from_instance_profile(InstanceProfileName=e.id, RoleName=role["RoleName"])
            iam.delete_instance_profile(InstanceProfileName=e.id)

        ignore_gone(drop)

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return found(lambda: ctx.client("iam").get_instance_profile(InstanceProfileName=e.id))


@register("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "iam")
class OidcProvider(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "Url": r.get("url"),
            "ClientIDList": list(r.get("clientIdLists", [])),
            "Tags": tag_list(r.get("tags")),
        }
        if r.get("thumbprintLists"):
            kwargs["ThumbprintList"] = list(r.get("thumbprintLists"))
        arn = ctx.client("iam").create_open_id_connect_provider(**kwargs)["OpenIDConnectProviderArn"]
        return arn, {"arn": arn, "tagsAll": r.get("tags", {})}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("iam").delete_open_id_connect_provider(OpenIDConnectProviderArn=e.id))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return found(lambda: ctx.client("iam").get_open_id_connect_provider(OpenIDConnectProviderArn=e.id))

    def locate(self, ctx: Ctx, r: Resource) -> list[Entry]:
        host = str(r.get("url", "")).removeprefix("https://")
        providers = ctx.client("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"]
        return [
            Entry(self.type, r.name, p["Arn"], {}, "") for p in providers if p["Arn"].endswith(f"/{host}")
        ]

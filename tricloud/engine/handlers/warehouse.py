"""The Warehouse concept offline: its VPC in moto's EC2, and Redshift Serverless, which moto does not emulate.

EC2 (VPC, subnets, route table and associations, the S3 gateway endpoint, security groups, flow logs) is real in
moto: created, described and deleted like the other handlers' resources, and found again by tags after a crash.

moto 5 has no Redshift Serverless API. The namespace, workgroup and usage limit handlers therefore check what the
service would check against the emulator (the KMS key, the IAM roles, the audit log groups, three subnets in three
zones, the security groups, the capacity and limit values), refuse what it would refuse, answer with the outputs
it would return (ids, ARNs, the endpoint address), and keep the resource in the engine's state only. Each run says
so among its deviations; nothing of theirs exists in the emulator, so there is nothing to delete or leave behind.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from tricloud.engine.handlers.base import (
    Ctx,
    Handler,
    PutHandler,
    Replace,
    Resource,
    found,
    ignore_gone,
    register,
)
from tricloud.engine.state import Entry

# --- EC2 ----------------------------------------------------------------------------------------------------------


def _tag_spec(kind: str, tags: Mapping[str, str] | None) -> list[dict[str, Any]]:
    if not tags:
        return []
    return [{"ResourceType": kind, "Tags": [{"Key": k, "Value": str(v)} for k, v in sorted(tags.items())]}]


def _tag_filters(tags: Mapping[str, str] | None) -> list[dict[str, Any]]:
    return [{"Name": f"tag:{k}", "Values": [str(v)]} for k, v in sorted((tags or {}).items())]


def _located(
    type_: str,
    r: Resource,
    describe: Callable[[list[dict[str, Any]]], list[str]],
    extra: list[dict[str, Any]],
) -> list[Entry]:
    """What a crashed create of `r` left: resources of its kind carrying all its tags (EC2 ids are generated)."""
    if not r.get("tags"):
        return []
    return [Entry(type_, r.name, rid, {}, "") for rid in describe(_tag_filters(r.get("tags")) + extra)]


@register("aws:ec2/vpc:Vpc", "ec2")
class Vpc(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        ec2 = ctx.client("ec2")
        vpc = ec2.create_vpc(CidrBlock=r.get("cidrBlock"), TagSpecifications=_tag_spec("vpc", r.get("tags")))[
            "Vpc"
        ]
        vid = vpc["VpcId"]
        for attr in ("enableDnsSupport", "enableDnsHostnames"):
            if r.get(attr) is not None:
                ec2.modify_vpc_attribute(
                    VpcId=vid, **{attr[0].upper() + attr[1:]: {"Value": bool(r.get(attr))}}
                )
        default_sg = ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vid]}, {"Name": "group-name", "Values": ["default"]}]
        )["SecurityGroups"][0]["GroupId"]
        main_rt = ec2.describe_route_tables(
            Filters=[{"Name": "vpc-id", "Values": [vid]}, {"Name": "association.main", "Values": ["true"]}]
        )["RouteTables"][0]["RouteTableId"]
        return vid, {
            "arn": ctx.arn("ec2", f"vpc/{vid}"),
            "cidrBlock": vpc["CidrBlock"],
            "defaultSecurityGroupId": default_sg,
            "mainRouteTableId": main_rt,
            "tagsAll": r.get("tags", {}),
        }

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("ec2").delete_vpc(VpcId=e.id))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return found(lambda: ctx.client("ec2").describe_vpcs(VpcIds=[e.id]))

    def locate(self, ctx: Ctx, r: Resource) -> list[Entry]:
        ec2 = ctx.client("ec2")
        return _located(
            self.type, r, lambda f: [v["VpcId"] for v in ec2.describe_vpcs(Filters=f)["Vpcs"]], []
        )


@register("aws:ec2/subnet:Subnet", "ec2")
class Subnet(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        ec2 = ctx.client("ec2")
        subnet = ec2.create_subnet(
            VpcId=r.get("vpcId"),
            CidrBlock=r.get("cidrBlock"),
            AvailabilityZone=r.get("availabilityZone"),
            TagSpecifications=_tag_spec("subnet", r.get("tags")),
        )["Subnet"]
        sid = subnet["SubnetId"]
        ec2.modify_subnet_attribute(
            SubnetId=sid, MapPublicIpOnLaunch={"Value": bool(r.get("mapPublicIpOnLaunch", False))}
        )
        return sid, {
            "arn": subnet.get("SubnetArn") or ctx.arn("ec2", f"subnet/{sid}"),
            "availabilityZone": subnet["AvailabilityZone"],
            "availabilityZoneId": subnet.get("AvailabilityZoneId", ""),
            "tagsAll": r.get("tags", {}),
        }

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("ec2").delete_subnet(SubnetId=e.id))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return found(lambda: ctx.client("ec2").describe_subnets(SubnetIds=[e.id]))

    def locate(self, ctx: Ctx, r: Resource) -> list[Entry]:
        ec2 = ctx.client("ec2")
        extra = [{"Name": "cidr-block", "Values": [str(r.get("cidrBlock"))]}]
        return _located(
            self.type, r, lambda f: [s["SubnetId"] for s in ec2.describe_subnets(Filters=f)["Subnets"]], extra
        )


@register("aws:ec2/routeTable:RouteTable", "ec2")
class RouteTable(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        if r.get("routes"):
            raise ValueError(f"{r.name}: inline routes are not handled offline (the warehouse VPC has none)")
        table = ctx.client("ec2").create_route_table(
            VpcId=r.get("vpcId"), TagSpecifications=_tag_spec("route-table", r.get("tags"))
        )["RouteTable"]
        rid = table["RouteTableId"]
        return rid, {"arn": ctx.arn("ec2", f"route-table/{rid}"), "tagsAll": r.get("tags", {})}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ec2 = ctx.client("ec2")

        def drop() -> None:
            # AWS refuses to delete a table that subnets still use (a sweep meets such leftovers).
            table = ec2.describe_route_tables(RouteTableIds=[e.id])["RouteTables"][0]
            for assoc in table.get("Associations", []):
                if not assoc.get("Main"):
                    ec2.disassociate_route_table(AssociationId=assoc["RouteTableAssociationId"])
            ec2.delete_route_table(RouteTableId=e.id)

        ignore_gone(drop)

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return found(lambda: ctx.client("ec2").describe_route_tables(RouteTableIds=[e.id]))

    def locate(self, ctx: Ctx, r: Resource) -> list[Entry]:
        ec2 = ctx.client("ec2")
        extra = [{"Name": "vpc-id", "Values": [str(r.get("vpcId"))]}]
        return _located(
            self.type,
            r,
            lambda f: [t["RouteTableId"] for t in ec2.describe_route_tables(Filters=f)["RouteTables"]],
            extra,
        )


@register("aws:ec2/routeTableAssociation:RouteTableAssociation", "ec2")
class RouteTableAssociation(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        assoc = ctx.client("ec2").associate_route_table(
            RouteTableId=r.get("routeTableId"), SubnetId=r.get("subnetId")
        )["AssociationId"]
        return assoc, {}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("ec2").disassociate_route_table(AssociationId=e.id))

    def locate(self, ctx: Ctx, r: Resource) -> list[Entry]:
        """A subnet has one explicit association at most: the one a crash left is the subnet's."""
        tables = ctx.client("ec2").describe_route_tables(
            Filters=[{"Name": "association.subnet-id", "Values": [str(r.get("subnetId"))]}]
        )["RouteTables"]
        return [
            Entry(self.type, r.name, a["RouteTableAssociationId"], {}, "")
            for t in tables
            for a in t.get("Associations", [])
            if a.get("SubnetId") == r.get("subnetId")
        ]


@register("aws:ec2/vpcEndpoint:VpcEndpoint", "ec2")
class VpcEndpoint(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        ec2 = ctx.client("ec2")
        kind = str(r.get("vpcEndpointType", "Gateway"))
        kwargs: dict[str, Any] = {
            "VpcId": r.get("vpcId"),
            "ServiceName": r.get("serviceName"),
            "VpcEndpointType": kind,
            "TagSpecifications": _tag_spec("vpc-endpoint", r.get("tags")),
        }
        if r.get("routeTableIds"):
            kwargs["RouteTableIds"] = list(r.get("routeTableIds"))
        if r.get("policy"):
            kwargs["PolicyDocument"] = r.get("policy")
        endpoint = ec2.create_vpc_endpoint(**kwargs)["VpcEndpoint"]
        eid = endpoint["VpcEndpointId"]
        lists = ec2.describe_prefix_lists(
            Filters=[{"Name": "prefix-list-name", "Values": [str(r.get("serviceName"))]}]
        )["PrefixLists"]
        if kind == "Gateway" and not lists:
            raise ValueError(
                f"{r.name}: no prefix list for {r.get('serviceName')}: not a gateway service here"
            )
        return eid, {
            "arn": ctx.arn("ec2", f"vpc-endpoint/{eid}"),
            "prefixListId": lists[0]["PrefixListId"] if lists else "",
            "state": endpoint.get("State", "available"),
            "tagsAll": r.get("tags", {}),
        }

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("ec2").delete_vpc_endpoints(VpcEndpointIds=[e.id]))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        # By id, not by a `vpc-endpoint-id` filter: moto answers that filter with a 500.
        endpoints: list[dict[str, Any]] = []
        if not found(
            lambda: endpoints.extend(
                ctx.client("ec2").describe_vpc_endpoints(VpcEndpointIds=[e.id])["VpcEndpoints"]
            )
        ):
            return False
        return any(x["VpcEndpointId"] == e.id and x.get("State") != "deleted" for x in endpoints)

    def locate(self, ctx: Ctx, r: Resource) -> list[Entry]:
        ec2 = ctx.client("ec2")
        return _located(
            self.type,
            r,
            lambda f: [x["VpcEndpointId"] for x in ec2.describe_vpc_endpoints(Filters=f)["VpcEndpoints"]],
            [{"Name": "vpc-id", "Values": [str(r.get("vpcId"))]}],
        )


def _permissions(rules: Any) -> list[dict[str, Any]]:
    """Pulumi's inline security group rules as EC2 IpPermissions."""
    out = []
    for rule in rules or []:
        perm: dict[str, Any] = {
            "IpProtocol": str(rule.get("protocol", "-1")),
            "FromPort": int(rule.get("fromPort", 0)),
            "ToPort": int(rule.get("toPort", 0)),
        }
        desc = {"Description": rule["description"]} if rule.get("description") else {}
        if rule.get("cidrBlocks"):
            perm["IpRanges"] = [{"CidrIp": c, **desc} for c in rule["cidrBlocks"]]
        if rule.get("prefixListIds"):
            perm["PrefixListIds"] = [{"PrefixListId": p, **desc} for p in rule["prefixListIds"]]
        if rule.get("securityGroups"):
            perm["UserIdGroupPairs"] = [{"GroupId": g, **desc} for g in rule["securityGroups"]]
        out.append(perm)
    return out


def _replace_rules(ec2: Any, group_id: str, ingress: Any, egress: Any) -> None:
    """Make the group's rules exactly the program's: revoke what is there (AWS adds an allow-all egress to every
    new group; the provider removes it when the program lists egress), then authorize the program's rules."""
    group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    if group.get("IpPermissions"):
        ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=group["IpPermissions"])
    if group.get("IpPermissionsEgress"):
        ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=group["IpPermissionsEgress"])
    if _permissions(ingress):
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=_permissions(ingress))
    if _permissions(egress):
        ec2.authorize_security_group_egress(GroupId=group_id, IpPermissions=_permissions(egress))


@register("aws:ec2/securityGroup:SecurityGroup", "ec2")
class SecurityGroup(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        ec2 = ctx.client("ec2")
        gid = ec2.create_security_group(
            GroupName=r.physical(),
            Description=r.get("description", "Managed by Pulumi"),
            VpcId=r.get("vpcId"),
            TagSpecifications=_tag_spec("security-group", r.get("tags")),
        )["GroupId"]
        _replace_rules(ec2, gid, r.get("ingress"), r.get("egress"))
        return gid, {
            "arn": ctx.arn("ec2", f"security-group/{gid}"),
            "name": r.physical(),
            "tagsAll": r.get("tags", {}),
        }

    def update(self, ctx: Ctx, r: Resource, old: Entry) -> tuple[str, dict[str, Any]]:
        if r.physical() != old.outputs.get("name"):
            raise Replace  # a group's name and VPC are fixed at creation
        _replace_rules(ctx.client("ec2"), old.id, r.get("ingress"), r.get("egress"))
        return old.id, {**old.outputs, "tagsAll": r.get("tags", {})}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("ec2").delete_security_group(GroupId=e.id))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return found(lambda: ctx.client("ec2").describe_security_groups(GroupIds=[e.id]))

    def locate(self, ctx: Ctx, r: Resource) -> list[Entry]:
        groups = ctx.client("ec2").describe_security_groups(
            Filters=[
                {"Name": "group-name", "Values": [r.physical()]},
                {"Name": "vpc-id", "Values": [str(r.get("vpcId"))]},
            ]
        )["SecurityGroups"]
        return [Entry(self.type, r.name, g["GroupId"], {"name": g["GroupName"]}, "") for g in groups]


@register("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "ec2")
class DefaultSecurityGroup(PutHandler):
    """Takes over the VPC's default group and sets its rules to the program's (none, for the warehouse). As in
    the provider, a delete only forgets it: the group goes with its VPC."""

    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        ec2 = ctx.client("ec2")
        group = ec2.describe_security_groups(
            Filters=[
                {"Name": "vpc-id", "Values": [str(r.get("vpcId"))]},
                {"Name": "group-name", "Values": ["default"]},
            ]
        )["SecurityGroups"][0]
        gid = group["GroupId"]
        _replace_rules(ec2, gid, r.get("ingress"), r.get("egress"))
        if r.get("tags"):
            ec2.create_tags(
                Resources=[gid], Tags=[{"Key": k, "Value": str(v)} for k, v in r.get("tags").items()]
            )
        return gid, {
            "arn": ctx.arn("ec2", f"security-group/{gid}"),
            "name": "default",
            "tagsAll": r.get("tags", {}),
        }

    def delete(self, ctx: Ctx, e: Entry) -> None:
        pass  # the default group cannot be deleted; it is deleted with its VPC


@register("aws:ec2/flowLog:FlowLog", "ec2")
class FlowLog(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        resource_id, resource_type = next(
            (str(r.get(key)), kind)
            for key, kind in (("vpcId", "VPC"), ("subnetId", "Subnet"), ("eniId", "NetworkInterface"))
            if r.get(key)
        )
        kwargs: dict[str, Any] = {
            "ResourceIds": [resource_id],
            "ResourceType": resource_type,
            "TrafficType": r.get("trafficType", "ALL"),
            "LogDestinationType": r.get("logDestinationType", "cloud-watch-logs"),
            "LogDestination": r.get("logDestination"),
            "MaxAggregationInterval": int(r.get("maxAggregationInterval", 600)),
            "TagSpecifications": _tag_spec("vpc-flow-log", r.get("tags")),
        }
        if r.get("iamRoleArn"):
            kwargs["DeliverLogsPermissionArn"] = r.get("iamRoleArn")
        out = ctx.client("ec2").create_flow_logs(**kwargs)
        if out.get("Unsuccessful"):
            raise ValueError(f"{r.name}: flow log refused: {out['Unsuccessful']}")
        fid = out["FlowLogIds"][0]
        return fid, {"arn": ctx.arn("ec2", f"vpc-flow-log/{fid}"), "tagsAll": r.get("tags", {})}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("ec2").delete_flow_logs(FlowLogIds=[e.id]))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        logs = ctx.client("ec2").describe_flow_logs(Filters=[{"Name": "flow-log-id", "Values": [e.id]}])
        return bool(logs["FlowLogs"])

    def locate(self, ctx: Ctx, r: Resource) -> list[Entry]:
        logs = ctx.client("ec2").describe_flow_logs(
            Filters=[{"Name": "resource-id", "Values": [str(r.get("vpcId") or r.get("subnetId"))]}]
        )["FlowLogs"]
        return [Entry(self.type, r.name, f["FlowLogId"], {}, "") for f in logs]


# --- Redshift Serverless: checked against the emulator, kept in state -----------------------------------------

NAME = re.compile(r"[a-z0-9-]{3,64}")
DATABASE = re.compile(r"[a-z_][a-z0-9_$]{0,63}")
LOG_EXPORTS = {"connectionlog", "userlog", "useractivitylog"}
USAGE_TYPES = {"serverless-compute", "cross-region-datasharing"}
PERIODS = {"daily", "weekly", "monthly"}
BREACH_ACTIONS = {"log", "emit-metric", "deactivate"}
NOT_EMULATED = (
    "moto has no Redshift Serverless: {what} checked against the emulator and kept in the engine's state only"
)


class RedshiftServerlessRefused(ValueError):
    """What the Redshift Serverless API would answer with a ValidationException, offline."""


def _refuse(ok: bool, message: str) -> None:
    if not ok:
        raise RedshiftServerlessRefused(message)


def _uuid(*parts: str) -> str:
    h = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _exists(call: Callable[[], Any]) -> bool:
    try:
        call()
        return True
    except ClientError:
        return False


class _StateOnly(Handler):
    """A resource the emulator cannot hold: a delete has nothing to remove."""

    def update(self, ctx: Ctx, r: Resource, old: Entry) -> tuple[str, dict[str, Any]]:
        rid, outputs = self.create(ctx, r)
        if rid != old.id:
            raise Replace
        return rid, outputs

    def delete(self, ctx: Ctx, e: Entry) -> None:
        pass


@register("aws:redshiftserverless/namespace:Namespace", "redshift-serverless")
class RedshiftNamespace(_StateOnly):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        name = str(r.get("namespaceName", ""))
        _refuse(
            NAME.fullmatch(name) is not None,
            f"namespaceName {name!r}: 3-64 lowercase letters, digits, hyphens",
        )
        db = str(r.get("dbName", "dev"))
        _refuse(
            DATABASE.fullmatch(db) is not None,
            f"dbName {db!r}: a lowercase identifier of at most 64 characters",
        )
        managed, password = r.get("manageAdminPassword") is True, r.get("adminUserPassword")
        _refuse(not (managed and password), "manageAdminPassword and adminUserPassword exclude each other")
        for key in ("kmsKeyId", "adminPasswordSecretKmsKeyId"):
            if r.get(key):
                _refuse(
                    _exists(lambda k=r.get(key): ctx.client("kms").describe_key(KeyId=k)),
                    f"{key} {r.get(key)!r}: no such KMS key",
                )
        roles = [str(a) for a in r.get("iamRoles", [])]
        for arn in roles:
            _refuse(
                _exists(lambda a=arn: ctx.client("iam").get_role(RoleName=a.rsplit("/", 1)[-1])),
                f"iamRoles: no such role {arn}",
            )
        default = r.get("defaultIamRoleArn")
        _refuse(not default or default in roles, f"defaultIamRoleArn {default!r} is not one of iamRoles")
        exports = list(r.get("logExports", []))
        _refuse(set(exports) <= LOG_EXPORTS, f"logExports {exports}: only {sorted(LOG_EXPORTS)}")
        for log in exports:
            group = f"/aws/redshift/{name}/{log}"
            groups = ctx.client("logs").describe_log_groups(logGroupNamePrefix=group)["logGroups"]
            if not any(g["logGroupName"] == group for g in groups):
                r.deviate(f"{group} does not exist: Redshift would create it without retention or key")
        ns_id = _uuid(ctx.account, ctx.region, "namespace", name)
        r.deviate(NOT_EMULATED.format(what=f"namespace {name} (KMS key, roles, log groups)"))
        outputs: dict[str, Any] = {
            "namespaceName": name,
            "namespaceId": ns_id,
            "arn": ctx.arn("redshift-serverless", f"namespace/{ns_id}"),
            "dbName": db,
            "tagsAll": r.get("tags", {}),
        }
        if managed:
            # The secret Redshift would create and own; no secret exists in the emulator.
            outputs["adminPasswordSecretArn"] = ctx.arn("secretsmanager", f"secret:redshift!{name}-admin")
        return name, outputs


@register("aws:redshiftserverless/workgroup:Workgroup", "redshift-serverless")
class RedshiftWorkgroup(_StateOnly):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        from components.warehouse.spec import RPU_STEPS

        name = str(r.get("workgroupName", ""))
        _refuse(
            NAME.fullmatch(name) is not None,
            f"workgroupName {name!r}: 3-64 lowercase letters, digits, hyphens",
        )
        _refuse(bool(r.get("namespaceName")), "namespaceName is required")
        base = int(r.get("baseCapacity", 128))
        _refuse(base in RPU_STEPS, f"baseCapacity {base}: 4, or 8 to 512 in steps of 8")
        ec2 = ctx.client("ec2")
        subnet_ids = [str(s) for s in r.get("subnetIds", [])]
        subnets = ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"] if subnet_ids else []
        zones = {s["AvailabilityZone"] for s in subnets}
        _refuse(
            len(subnets) >= 3 and len(zones) >= 3,
            f"subnetIds {subnet_ids}: at least three subnets in three Availability Zones (got zones {sorted(zones)})",
        )
        groups = [str(g) for g in r.get("securityGroupIds", [])]
        if groups:
            vpcs = {g["VpcId"] for g in ec2.describe_security_groups(GroupIds=groups)["SecurityGroups"]}
            _refuse(vpcs == {subnets[0]["VpcId"]}, f"securityGroupIds {groups}: not in the subnets' VPC")
        port = int(r.get("port", 5439))
        _refuse(
            port == 5439 or 5431 <= port <= 5455 or 8191 <= port <= 8215,
            f"port {port}: 5431-5455 or 8191-8215",
        )
        wg_id = _uuid(ctx.account, ctx.region, "workgroup", name)
        r.deviate(NOT_EMULATED.format(what=f"workgroup {name} (subnets, zones, security groups, capacity)"))
        host = f"{name}.{ctx.account}.{ctx.region}.redshift-serverless.amazonaws.com"
        return name, {
            "workgroupName": name,
            "workgroupId": wg_id,
            "arn": ctx.arn("redshift-serverless", f"workgroup/{wg_id}"),
            "endpoints": [{"address": host, "port": port, "vpcEndpoints": []}],
            "tagsAll": r.get("tags", {}),
        }


@register("aws:redshiftserverless/usageLimit:UsageLimit", "redshift-serverless")
class RedshiftUsageLimit(_StateOnly):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        arn = str(r.get("resourceArn", ""))
        _refuse(
            re.fullmatch(r"arn:aws[a-z-]*:redshift-serverless:[a-z0-9-]+:\d{12}:workgroup/[0-9a-f-]+", arn)
            is not None,
            f"resourceArn {arn!r}: not a Redshift Serverless workgroup ARN",
        )
        usage, period = str(r.get("usageType")), str(r.get("period", "monthly"))
        breach = str(r.get("breachAction", "log"))
        _refuse(usage in USAGE_TYPES, f"usageType {usage!r}: one of {sorted(USAGE_TYPES)}")
        _refuse(period in PERIODS, f"period {period!r}: one of {sorted(PERIODS)}")
        _refuse(breach in BREACH_ACTIONS, f"breachAction {breach!r}: one of {sorted(BREACH_ACTIONS)}")
        amount = int(r.get("amount", 0))
        _refuse(amount >= 1, f"amount {amount}: at least 1 (RPU-hours)")
        limit_id = _uuid(arn, usage, period)
        r.deviate(
            NOT_EMULATED.format(what=f"usage limit {amount} RPU-hours {period}, breach action {breach}")
        )
        return limit_id, {"arn": ctx.arn("redshift-serverless", f"usagelimit/{limit_id}")}

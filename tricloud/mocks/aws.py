"""Computed outputs of the AWS resources and functions the tricloud components use, as AWS would return them.

Ids and ARNs are derived from the logical name, the inputs and the region only, so two runs give identical state.
"""

from __future__ import annotations

from typing import Any

ACCOUNT_ID = "123456789012"
PARTITION = "aws"


def _arn(service: str, region: str, resource: str, *, account: str = ACCOUNT_ID) -> str:
    return f"arn:{PARTITION}:{service}:{region}:{account}:{resource}"


def computed_state(
    type_token: str, name: str, inputs: dict[str, Any], region: str
) -> tuple[str, dict[str, Any]]:
    """(id, extra state) for one resource; unknown types get an id and an ARN so dependents never see None."""
    if not inputs.get("name") and inputs.get("namePrefix"):
        # The provider appends a unique suffix to name_prefix; derive it from the logical name so runs agree.
        inputs = {**inputs, "name": f"{inputs['namePrefix']}{hash_name(name) % 10**8:08d}"}
    physical = str(inputs.get("name") or name)
    _, module_type, _ = type_token.split(":", 2) if type_token.count(":") >= 2 else ("", type_token, "")
    service, _, kind = module_type.partition("/")
    state: dict[str, Any] = {"tagsAll": inputs.get("tags", {})} if "tags" in inputs else {}
    if "namePrefix" in inputs:
        state["name"] = physical

    if type_token == "aws:s3/bucket:Bucket":
        bucket = str(inputs.get("bucket") or name)
        return bucket, {
            **state,
            "bucket": bucket,
            "arn": f"arn:{PARTITION}:s3:::{bucket}",
            "bucketDomainName": f"{bucket}.s3.amazonaws.com",
            "bucketRegionalDomainName": f"{bucket}.s3.{region}.amazonaws.com",
            "region": region,
        }
    if type_token == "aws:kms/key:Key":
        key_id = f"key-{name}"
        return key_id, {**state, "keyId": key_id, "arn": _arn("kms", region, f"key/{key_id}")}
    if type_token == "aws:kms/alias:Alias":
        return physical, {
            "arn": _arn("kms", region, physical),
            "targetKeyArn": _arn("kms", region, f"key/{inputs.get('targetKeyId')}"),
        }
    if type_token == "aws:iam/role:Role":
        return physical, {
            **state,
            "name": physical,
            "arn": f"arn:{PARTITION}:iam::{ACCOUNT_ID}:role/{physical}",
            "uniqueId": f"AROA{name.upper()[:16]}",
        }
    if type_token == "aws:iam/rolePolicy:RolePolicy":
        return f"{inputs.get('role')}:{name}", {"name": name}
    if type_token == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
        host = str(inputs.get("url", "")).removeprefix("https://")
        arn = f"arn:{PARTITION}:iam::{ACCOUNT_ID}:oidc-provider/{host}"
        return arn, {**state, "arn": arn}
    if type_token == "aws:glue/catalogDatabase:CatalogDatabase":
        return f"{ACCOUNT_ID}:{physical}", {
            "name": physical,
            "catalogId": ACCOUNT_ID,
            "arn": _arn("glue", region, f"database/{physical}", account=ACCOUNT_ID),
        }
    if type_token == "aws:athena/workgroup:Workgroup":
        return physical, {**state, "arn": _arn("athena", region, f"workgroup/{physical}")}
    if type_token == "aws:emrserverless/application:Application":
        app_id = f"00{abs(hash_name(name)) % 10**14:014d}"
        return app_id, {**state, "arn": _arn("emr-serverless", region, f"/applications/{app_id}")}
    if type_token == "aws:emr/cluster:Cluster":
        cid = f"j-{abs(hash_name(name)) % 10**12:012d}"
        return cid, {
            **state,
            "arn": _arn("elasticmapreduce", region, f"cluster/{cid}"),
            "masterPublicDns": f"ip-10-0-0-1.{region}.compute.internal",
        }
    if type_token.startswith("aws:sagemaker/"):
        resource = {
            "model": "model",
            "endpointConfiguration": "endpoint-config",
            "endpoint": "endpoint",
            "modelPackageGroup": "model-package-group",
        }.get(kind.split(":")[0], kind.split(":")[0].lower())
        physical = str(inputs.get("modelPackageGroupName") or physical)
        return physical, {
            **state,
            "name": physical,
            "arn": _arn("sagemaker", region, f"{resource}/{physical.lower()}"),
        }
    if type_token == "aws:lambda/function:Function":
        arn = _arn("lambda", region, f"function:{physical}")
        return physical, {
            **state,
            "arn": arn,
            "qualifiedArn": f"{arn}:$LATEST",
            "invokeArn": f"arn:{PARTITION}:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations",
            "version": "$LATEST",
        }
    if type_token == "aws:apigatewayv2/api:Api":
        api_id = f"api{abs(hash_name(name)) % 10**7:07d}"
        return api_id, {
            **state,
            "arn": f"arn:{PARTITION}:apigateway:{region}::/apis/{api_id}",
            "apiEndpoint": f"https://{api_id}.execute-api.{region}.amazonaws.com",
            "executionArn": _arn("execute-api", region, api_id),
        }
    if type_token == "aws:apigatewayv2/stage:Stage":
        api_id = str(inputs.get("apiId"))
        stage = str(inputs.get("name"))
        suffix = "" if stage == "$default" else stage
        return f"{api_id}-{stage}", {
            **state,
            "arn": f"arn:{PARTITION}:apigateway:{region}::/apis/{api_id}/stages/{stage}",
            "invokeUrl": f"https://{api_id}.execute-api.{region}.amazonaws.com/{suffix}",
            "executionArn": _arn("execute-api", region, f"{api_id}/{stage}"),
        }
    if type_token == "aws:cloudwatch/logGroup:LogGroup":
        return physical, {**state, "arn": _arn("logs", region, f"log-group:{physical}")}
    if type_token == "aws:cloudwatch/metricAlarm:MetricAlarm":
        return physical, {**state, "arn": _arn("cloudwatch", region, f"alarm:{physical}")}
    if type_token == "aws:cloudwatch/dashboard:Dashboard":
        dash = str(inputs.get("dashboardName") or name)
        return dash, {"dashboardArn": f"arn:{PARTITION}:cloudwatch::{ACCOUNT_ID}:dashboard/{dash}"}
    if type_token == "aws:sns/topic:Topic":
        arn = _arn("sns", region, physical)
        return arn, {**state, "arn": arn}
    if type_token == "aws:ecr/repository:Repository":
        return physical, {
            **state,
            "arn": _arn("ecr", region, f"repository/{physical}"),
            "registryId": ACCOUNT_ID,
            "repositoryUrl": f"{ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com/{physical}",
        }
    if type_token == "aws:redshiftserverless/namespace:Namespace":
        ns_id = f"{abs(hash_name(name)) % 10**12:012d}-ns"
        arn = _arn("redshift-serverless", region, f"namespace/{ns_id}")
        return physical, {
            **state,
            "namespaceName": inputs.get("namespaceName"),
            "namespaceId": ns_id,
            "arn": arn,
            "adminPasswordSecretArn": _arn("secretsmanager", region, f"secret:redshift!{ns_id}-admin"),
        }
    if type_token == "aws:redshiftserverless/workgroup:Workgroup":
        wg = str(inputs.get("workgroupName") or name)
        wg_id = f"{abs(hash_name(name)) % 10**12:012d}-wg"
        host = f"{wg}.{ACCOUNT_ID}.{region}.redshift-serverless.amazonaws.com"
        return wg, {
            **state,
            "workgroupId": wg_id,
            "arn": _arn("redshift-serverless", region, f"workgroup/{wg_id}"),
            "endpoints": [{"address": host, "port": inputs.get("port", 5439), "vpcEndpoints": []}],
        }
    if type_token == "aws:ec2/vpcEndpoint:VpcEndpoint":
        vpce = f"vpce-{abs(hash_name(name)) % 16**17:017x}"
        return vpce, {
            **state,
            "arn": _arn("ec2", region, f"vpc-endpoint/{vpce}"),
            "prefixListId": f"pl-{abs(hash_name(str(inputs.get('serviceName')))) % 16**8:08x}",
            "state": "available",
        }
    if type_token.startswith("aws:ec2/"):
        prefix = {"vpc": "vpc", "subnet": "subnet", "routeTable": "rtb", "securityGroup": "sg",
                  "defaultSecurityGroup": "sg", "flowLog": "fl", "routeTableAssociation": "rtbassoc"}  # fmt: skip
        kind_name = kind.split(":")[0]
        rid = f"{prefix.get(kind_name, kind_name.lower())}-{abs(hash_name(name)) % 16**17:017x}"
        return rid, {**state, "arn": _arn("ec2", region, f"{kind_name.lower()}/{rid}")}
    # Everything else: an id and an ARN named after the resource.
    return f"{name}-id", {
        **state,
        "arn": _arn(service or "unknown", region, f"{kind.split(':')[0]}/{physical}"),
    }


def hash_name(name: str) -> int:
    """A stable (not per-process-salted like hash()) integer from a name."""
    import hashlib

    return int(hashlib.sha256(name.encode()).hexdigest()[:15], 16)


def invoke(token: str, args: dict[str, Any], region: str) -> dict[str, Any]:
    if token == "aws:ssm/getParametersByPath:getParametersByPath":
        # No parameter exists before a first rollout: AWS answers empty lists, not an error.
        return parameters_by_path(args, {})
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {
            "accountId": ACCOUNT_ID,
            "arn": f"arn:{PARTITION}:iam::{ACCOUNT_ID}:user/tricloud",
            "userId": "AIDATRICLOUD",
            "id": ACCOUNT_ID,
        }
    if token == "aws:index/getRegion:getRegion":
        return {
            "name": region,
            "region": region,
            "id": region,
            "endpoint": f"ec2.{region}.amazonaws.com",
            "description": region,
        }
    if token == "aws:index/getPartition:getPartition":
        return {
            "partition": PARTITION,
            "dnsSuffix": "amazonaws.com",
            "reverseDnsPrefix": "com.amazonaws",
            "id": PARTITION,
        }
    if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
        # The zones a new account sees in a region with three (a, b, c), as AWS lists them.
        names = [f"{region}{z}" for z in "abc"]
        geo, direction, number = [*region.split("-"), "", "", ""][:3]
        short = f"{geo}{direction[:1]}{number}"  # ap-south-1 -> aps1, as in the zone id aps1-az1
        return {
            "names": names,
            "zoneIds": [f"{short}-az{i}" for i in range(1, 4)],
            "groupNames": [region] * 3,
            "id": region,
            "state": args.get("state"),
        }
    raise NotImplementedError(f"tricloud.mocks.aws: no mock for the function {token}")


def parameters_by_path(args: dict[str, Any], store: dict[str, str]) -> dict[str, Any]:
    """getParametersByPath over `store` (name -> String value) as the provider returns it: direct children only
    unless `recursive`, sorted by name."""
    path = str(args.get("path", "")).rstrip("/") + "/"
    names = sorted(
        n for n in store if n.startswith(path) and (args.get("recursive") or "/" not in n[len(path) :])
    )
    return {
        "arns": [
            f"arn:{PARTITION}:ssm:{args.get('region') or 'ap-south-1'}:{ACCOUNT_ID}:parameter{n}"
            for n in names
        ],
        "names": names,
        "types": ["String"] * len(names),
        "values": [store[n] for n in names],
        "path": args.get("path"),
        "id": args.get("path"),
        "recursive": bool(args.get("recursive")),
        "withDecryption": bool(args.get("withDecryption")),
        "region": args.get("region") or "",
    }

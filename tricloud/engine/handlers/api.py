"""Lambda functions and permissions, API Gateway HTTP APIs (v2): api, integration, routes, authorizer, stage."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from tricloud.engine.archive import Zip
from tricloud.engine.handlers.base import (
    Ctx,
    Handler,
    Replace,
    Resource,
    found,
    gone,
    ignore_gone,
    pascal,
    register,
)
from tricloud.engine.state import Entry


def _function_config(r: Resource) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "Role": r.get("role"),
        "Handler": r.get("handler"),
        "Runtime": r.get("runtime"),
        "MemorySize": int(r.get("memorySize", 128)),
        "Timeout": int(r.get("timeout", 3)),
        "Environment": {"Variables": dict((r.get("environment") or {}).get("variables") or {})},
    }
    if r.get("description"):
        conf["Description"] = r.get("description")
    if r.get("kmsKeyArn"):
        conf["KMSKeyArn"] = r.get("kmsKeyArn")
    if r.get("tracingConfig"):
        conf["TracingConfig"] = pascal(r.get("tracingConfig"))
    if r.get("loggingConfig"):
        conf["LoggingConfig"] = pascal(r.get("loggingConfig"))
    return conf


def code_path(store: Path, sha256_b64: str) -> Path:
    return store / (base64.b64decode(sha256_b64).hex() + ".zip")


def store_code(ctx: Ctx, code: Zip) -> Path:
    """Keep the deployed bytes, so the local gateway runs exactly what the function holds (checked by sha256)."""
    path = code_path(ctx.code_store, code.sha256_b64)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(code.data)
        tmp.replace(path)
    return path


@register("aws:lambda/function:Function", "lambda")
class Function(Handler):
    def _outputs(self, ctx: Ctx, name: str, fn: dict[str, Any], r: Resource) -> dict[str, Any]:
        arn = fn["FunctionArn"]
        return {
            "name": name,
            "arn": arn,
            "qualifiedArn": f"{arn}:{fn.get('Version', '$LATEST')}",
            "invokeArn": f"arn:aws:apigateway:{ctx.region}:lambda:path/2015-03-31/functions/{arn}/invocations",
            "version": fn.get("Version", "$LATEST"),
            "codeSha256": fn.get("CodeSha256", ""),
            "tagsAll": r.get("tags", {}),
            # moto 5.2 keeps no LoggingConfig: the applied one is recorded here, where the gateway reads it.
            "loggingConfig": dict(r.get("loggingConfig") or {}),
        }

    def _concurrency(self, ctx: Ctx, name: str, r: Resource) -> None:
        reserved = r.get("reservedConcurrentExecutions")
        lam = ctx.client("lambda")
        if reserved is not None and int(reserved) >= 0:
            lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=int(reserved))
        else:
            ignore_gone(lambda: lam.delete_function_concurrency(FunctionName=name))

    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        name = r.physical()
        code = r.get("code")
        if not isinstance(code, Zip):
            raise ValueError(f"code = {code!r}: the local engine needs an archive (AssetArchive/FileArchive)")
        store_code(ctx, code)
        fn = ctx.client("lambda").create_function(
            FunctionName=name,
            Code={"ZipFile": code.data},
            Architectures=list(r.get("architectures", ["x86_64"])),
            Tags=dict(r.get("tags", {})),
            **_function_config(r),
        )
        self._concurrency(ctx, name, r)
        return name, self._outputs(ctx, name, fn, r)

    def update(self, ctx: Ctx, r: Resource, old: Entry) -> tuple[str, dict[str, Any]]:
        if r.physical() != old.id:
            raise Replace
        lam = ctx.client("lambda")
        code = r.get("code")
        if isinstance(code, Zip) and code.sha256_b64 != old.outputs.get("codeSha256"):
            store_code(ctx, code)
            lam.update_function_code(FunctionName=old.id, ZipFile=code.data)
        fn = lam.update_function_configuration(FunctionName=old.id, **_function_config(r))
        self._concurrency(ctx, old.id, r)
        return old.id, self._outputs(ctx, old.id, fn, r)

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("lambda").delete_function(FunctionName=e.id))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return found(lambda: ctx.client("lambda").get_function(FunctionName=e.id))


@register("aws:lambda/permission:Permission", "lambda")
class Permission(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        sid = str(r.get("statementId") or r.autoname)
        fn = str(r.get("function"))
        kwargs: dict[str, Any] = {
            "FunctionName": fn,
            "StatementId": sid,
            "Action": r.get("action"),
            "Principal": r.get("principal"),
        }
        if r.get("sourceArn"):
            kwargs["SourceArn"] = r.get("sourceArn")
        ctx.client("lambda").add_permission(**kwargs)
        return f"{fn}|{sid}", {"statementId": sid}

    def delete(self, ctx: Ctx, e: Entry) -> None:
        fn, _, sid = e.id.partition("|")
        ignore_gone(lambda: ctx.client("lambda").remove_permission(FunctionName=fn, StatementId=sid))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        fn, _, sid = e.id.partition("|")
        try:
            policy = json.loads(ctx.client("lambda").get_policy(FunctionName=fn)["Policy"])
        except ClientError as exc:
            if gone(exc):
                return False
            raise
        return any(s.get("Sid") == sid for s in policy.get("Statement", []))

    def locate(self, ctx: Ctx, r: Resource) -> list[Entry]:
        e = Entry(self.type, r.name, f"{r.get('function')}|{r.get('statementId') or r.autoname}", {}, "")
        return [e] if self.exists(ctx, e) else []


@register("aws:apigatewayv2/api:Api", "apigatewayv2")
class Api(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "Name": r.physical(),
            "ProtocolType": r.get("protocolType"),
            "Tags": dict(r.get("tags", {})),
        }
        if r.get("corsConfiguration"):
            kwargs["CorsConfiguration"] = pascal(r.get("corsConfiguration"))
        if r.get("routeSelectionExpression"):
            kwargs["RouteSelectionExpression"] = r.get("routeSelectionExpression")
        api = ctx.client("apigatewayv2").create_api(**kwargs)
        api_id = api["ApiId"]
        return api_id, {
            "name": r.physical(),
            "arn": f"arn:aws:apigateway:{ctx.region}::/apis/{api_id}",
            "apiEndpoint": api.get("ApiEndpoint")
            or f"https://{api_id}.execute-api.{ctx.region}.amazonaws.com",
            "executionArn": ctx.arn("execute-api", api_id),
            "tagsAll": r.get("tags", {}),
        }

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: ctx.client("apigatewayv2").delete_api(ApiId=e.id))

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return found(lambda: ctx.client("apigatewayv2").get_api(ApiId=e.id))

    def locate(self, ctx: Ctx, r: Resource) -> list[Entry]:
        apis = ctx.client("apigatewayv2").get_apis()["Items"]
        return [Entry(self.type, r.name, a["ApiId"], {}, "") for a in apis if a["Name"] == r.physical()]


class ApiChild(Handler):
    """A child of an HTTP API: its id is only unique within the API, so state keeps the API id with it."""

    # (list call, its id field, the field naming the child, the input holding that name)
    listing: tuple[str, str, str, str] = ("", "", "", "")

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(lambda: self.remove(ctx.client("apigatewayv2"), e.outputs["apiId"], e.id))

    def locate(self, ctx: Ctx, r: Resource) -> list[Entry]:
        call, id_field, match_field, input_key = self.listing
        api_id = str(r.get("apiId"))
        try:
            items = getattr(ctx.client("apigatewayv2"), call)(ApiId=api_id)["Items"]
        except ClientError as exc:
            if gone(exc):
                return []
            raise
        want = r.physical() if input_key == "name" else r.get(input_key)
        return [
            Entry(self.type, r.name, i[id_field], {"apiId": api_id}, "")
            for i in items
            if i.get(match_field) == want
        ]

    def remove(self, client: Any, api_id: str, ident: str) -> None:
        raise NotImplementedError


@register("aws:apigatewayv2/integration:Integration", "apigatewayv2")
class Integration(ApiChild):
    listing = ("get_integrations", "IntegrationId", "IntegrationUri", "integrationUri")

    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        kwargs = pascal(
            {
                "apiId": r.get("apiId"),
                "integrationType": r.get("integrationType"),
                "integrationUri": r.get("integrationUri"),
                "integrationMethod": r.get("integrationMethod"),
                "payloadFormatVersion": r.get("payloadFormatVersion"),
                "timeoutInMillis": int(r.get("timeoutMilliseconds"))
                if r.get("timeoutMilliseconds")
                else None,
            }
        )
        out = ctx.client("apigatewayv2").create_integration(**kwargs)
        return out["IntegrationId"], {"apiId": r.get("apiId")}

    def remove(self, client: Any, api_id: str, ident: str) -> None:
        client.delete_integration(ApiId=api_id, IntegrationId=ident)


@register("aws:apigatewayv2/route:Route", "apigatewayv2")
class Route(ApiChild):
    listing = ("get_routes", "RouteId", "RouteKey", "routeKey")

    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        kwargs = pascal(
            {
                "apiId": r.get("apiId"),
                "routeKey": r.get("routeKey"),
                "target": r.get("target"),
                "authorizationType": r.get("authorizationType", "NONE"),
                "authorizerId": r.get("authorizerId"),
                "authorizationScopes": r.get("authorizationScopes"),
            }
        )
        out = ctx.client("apigatewayv2").create_route(**kwargs)
        return out["RouteId"], {"apiId": r.get("apiId")}

    def remove(self, client: Any, api_id: str, ident: str) -> None:
        client.delete_route(ApiId=api_id, RouteId=ident)


@register("aws:apigatewayv2/authorizer:Authorizer", "apigatewayv2")
class Authorizer(ApiChild):
    listing = ("get_authorizers", "AuthorizerId", "Name", "name")

    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        jwt = r.get("jwtConfiguration")
        kwargs = pascal(
            {
                "apiId": r.get("apiId"),
                "name": r.physical(),
                "authorizerType": r.get("authorizerType"),
                "identitySource": list(r.get("identitySources", [])),
                "jwtConfiguration": {"issuer": jwt.get("issuer"), "audience": jwt.get("audiences")}
                if jwt
                else None,
            }
        )
        out = ctx.client("apigatewayv2").create_authorizer(**kwargs)
        r.deviate(
            "JWT authorizer stored but not enforced: verifying tokens needs the issuer's keys (network)"
        )
        return out["AuthorizerId"], {"apiId": r.get("apiId")}

    def remove(self, client: Any, api_id: str, ident: str) -> None:
        client.delete_authorizer(ApiId=api_id, AuthorizerId=ident)


@register("aws:apigatewayv2/stage:Stage", "apigatewayv2")
class Stage(ApiChild):
    listing = ("get_stages", "StageName", "StageName", "name")

    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        api_id, stage = str(r.get("apiId")), str(r.get("name"))
        kwargs = pascal(
            {
                "apiId": api_id,
                "stageName": stage,
                "autoDeploy": r.get("autoDeploy"),
                "defaultRouteSettings": r.get("defaultRouteSettings"),
                "accessLogSettings": r.get("accessLogSettings"),
                "tags": r.get("tags"),
            }
        )
        ctx.client("apigatewayv2").create_stage(**kwargs)
        suffix = "" if stage == "$default" else stage
        return stage, {
            "apiId": api_id,
            "arn": f"arn:aws:apigateway:{ctx.region}::/apis/{api_id}/stages/{stage}",
            "invokeUrl": f"https://{api_id}.execute-api.{ctx.region}.amazonaws.com/{suffix}",
            "executionArn": ctx.arn("execute-api", f"{api_id}/{stage}"),
            "tagsAll": r.get("tags", {}),
        }

    def remove(self, client: Any, api_id: str, ident: str) -> None:
        client.delete_stage(ApiId=api_id, StageName=ident)

"""AWS Lambda handler for API Gateway HTTP API (payload v2): ``POST /predict``, ``GET /health``.

The route comes from the event's ``routeKey`` (what API Gateway matched), else from the method and the path
without the stage prefix, and must match exactly (``app.frontend.core.resolve_route``).

Calls the SageMaker endpoint with boto3 ``sagemaker-runtime`` ``invoke_endpoint``. Environment:
``ENDPOINT_NAME``, ``ENDPOINT_TIMEOUT_MS`` (2000), ``ENDPOINT_MAX_ATTEMPTS`` (2),
``FALLBACK_ENABLED`` (true), ``LOG_LEVEL``. The client is a standard boto3 client, so
``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`` redirects it (the offline gateway's local shim).
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

from app.frontend.core import (
    ApiResult,
    EndpointError,
    EndpointSettings,
    check_predictions,
    configure_logging,
    health,
    predict_request,
    resolve_route,
)
from app.schema import dumps, parse_json

configure_logging()

# Created on first use and kept for warm invocations, one per set of bounds (a prediction's, /health's probe).
_clients: dict[tuple[Any, ...], Any] = {}


def runtime_client(settings: EndpointSettings) -> Any:
    key = (settings.timeout_ms, settings.max_attempts, os.environ.get("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"))
    client = _clients.get(key)
    if client is None:
        timeout_s = settings.timeout_ms / 1000
        config = Config(
            connect_timeout=min(timeout_s, 1.0),
            read_timeout=timeout_s,
            # total_max_attempts counts the first call: ENDPOINT_MAX_ATTEMPTS=2 is one retry.
            retries={"total_max_attempts": settings.max_attempts, "mode": "standard"},
        )
        if len(_clients) >= 4:  # settings changed under a warm instance: drop the old clients
            _clients.clear()
        client = _clients[key] = boto3.client("sagemaker-runtime", config=config)
    return client


def _invoke(rows: list[dict[str, Any]], settings: EndpointSettings) -> tuple[list[float], str]:
    name = os.environ.get("ENDPOINT_NAME")
    if not name:
        raise EndpointError("not_configured", "ENDPOINT_NAME is not set")
    try:
        resp = runtime_client(settings).invoke_endpoint(
            EndpointName=name,
            ContentType="application/json",
            Accept="application/json",
            Body=dumps({"instances": rows}).encode(),
        )
        raw = resp["Body"].read()
    except (ReadTimeoutError, ConnectTimeoutError) as exc:
        raise EndpointError("timeout", str(exc)) from None
    except ClientError as exc:
        raise EndpointError(
            "endpoint_error", exc.response.get("Error", {}).get("Code", "ClientError")
        ) from None
    except BotoCoreError as exc:
        raise EndpointError("unavailable", type(exc).__name__) from None
    try:
        payload = parse_json(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise EndpointError("bad_response", "answer is not JSON") from None
    preds, version = check_predictions(payload, len(rows))
    return preds, version or name


def _response(result: ApiResult) -> dict[str, Any]:
    return {
        "statusCode": result.status,
        "headers": {"content-type": "application/json", "cache-control": "no-store", **result.headers},
        "body": result.json(),
    }


def request_route(event: dict[str, Any]) -> tuple[str, str]:
    """(method, path) of the request: API Gateway's matched routeKey, else the raw path minus the stage."""
    ctx = event.get("requestContext") or {}
    route_key = str(event.get("routeKey") or "")
    if route_key and route_key != "$default" and " " in route_key:
        method, _, path = route_key.partition(" ")
        return method.upper(), path
    http = ctx.get("http") or {}
    path = str(event.get("rawPath") or http.get("path") or "")
    stage = str(ctx.get("stage") or "$default")
    if stage != "$default" and path.startswith(f"/{stage}/"):
        path = path[len(stage) + 1 :]
    return str(http.get("method", "")).upper(), path


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    method, path = request_route(event)
    request_id = event.get("requestContext", {}).get("requestId") or getattr(context, "aws_request_id", None)
    route = resolve_route(method, path, request_id)
    if isinstance(route, ApiResult):
        return _response(route)
    settings = EndpointSettings.from_env()
    if route == "/health":
        return _response(health("aws", _invoke, settings))
    body: str | bytes | None = event.get("body")
    if body is not None and event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True)
        except ValueError:
            return _response(
                ApiResult(400, {"request_id": request_id, "message": "body is not valid base64"})
            )
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    result = predict_request(
        body,
        headers.get("content-type"),
        lambda rows: _invoke(rows, settings),
        settings,
        request_id=request_id,
        cloud="aws",
    )
    return _response(result)

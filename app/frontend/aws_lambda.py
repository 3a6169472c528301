"""AWS Lambda handler for API Gateway HTTP API (payload v2): ``POST /predict``, ``GET /health``.

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
    not_found,
    predict_request,
)

configure_logging()

# Created on first use and kept for warm invocations; rebuilt only if the settings change.
_client: Any = None
_client_key: tuple[Any, ...] | None = None


def runtime_client(settings: EndpointSettings) -> Any:
    global _client, _client_key
    key = (settings.timeout_ms, settings.max_attempts, os.environ.get("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"))
    if _client is None or key != _client_key:
        timeout_s = settings.timeout_ms / 1000
        config = Config(
            connect_timeout=min(timeout_s, 1.0),
            read_timeout=timeout_s,
            # total_max_attempts counts the first call: ENDPOINT_MAX_ATTEMPTS=2 is one retry.
            retries={"total_max_attempts": settings.max_attempts, "mode": "standard"},
        )
        _client = boto3.client("sagemaker-runtime", config=config)
        _client_key = key
    return _client


def _invoke(rows: list[dict[str, Any]], settings: EndpointSettings) -> tuple[list[float], str]:
    name = os.environ.get("ENDPOINT_NAME")
    if not name:
        raise EndpointError("not_configured", "ENDPOINT_NAME is not set")
    try:
        resp = runtime_client(settings).invoke_endpoint(
            EndpointName=name,
            ContentType="application/json",
            Accept="application/json",
            Body=json.dumps({"instances": rows}).encode(),
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
        payload = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise EndpointError("bad_response", "answer is not JSON") from None
    preds, version = check_predictions(payload, len(rows))
    return preds, version or name


def _response(result: ApiResult) -> dict[str, Any]:
    return {
        "statusCode": result.status,
        "headers": {"content-type": "application/json", "cache-control": "no-store"},
        "body": result.json(),
    }


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    http = event.get("requestContext", {}).get("http", {})
    method = str(http.get("method", "")).upper()
    path = str(event.get("rawPath") or http.get("path") or "")
    request_id = event.get("requestContext", {}).get("requestId") or getattr(context, "aws_request_id", None)
    if path.endswith("/health") and method == "GET":
        return _response(health("aws", bool(os.environ.get("ENDPOINT_NAME"))))
    if not (path.endswith("/predict") and method == "POST"):
        return _response(not_found(method, path))
    settings = EndpointSettings.from_env()
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

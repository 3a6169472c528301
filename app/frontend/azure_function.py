"""Azure Functions HTTP triggers (Python v2 programming model) calling the Azure ML online endpoint.

Environment: ``AZUREML_ENDPOINT_URL`` (the scoring URI), ``AZUREML_ENDPOINT_KEY``, and the shared
``ENDPOINT_TIMEOUT_MS``, ``ENDPOINT_MAX_ATTEMPTS``, ``FALLBACK_ENABLED``, ``LOG_LEVEL``. The deployed package
(components/api_frontend/package.py) imports ``app`` from this module in its ``function_app.py``, which is where
the worker's indexing looks for it.

The triggers accept every method and answer the wrong ones with a JSON 405 (the host itself would answer a bare
404); a catch-all route answers unknown paths with a JSON 404, so every body the app returns has one shape.
"""

from __future__ import annotations

import os
from typing import Any

import azure.functions as func

from app.frontend.core import (
    ApiResult,
    EndpointError,
    EndpointSettings,
    check_predictions,
    configure_logging,
    health,
    not_found,
    post_json_with_retries,
    predict_request,
    resolve_route,
)

configure_logging()

# FUNCTION level: callers need a function key (API Management holds it), never anonymous.
app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


def _invoke(rows: list[dict[str, Any]], settings: EndpointSettings) -> tuple[list[float], str]:
    url, key = os.environ.get("AZUREML_ENDPOINT_URL"), os.environ.get("AZUREML_ENDPOINT_KEY")
    if not url or not key:
        raise EndpointError("not_configured", "AZUREML_ENDPOINT_URL and AZUREML_ENDPOINT_KEY must be set")
    payload = post_json_with_retries(url, {"instances": rows}, {"Authorization": f"Bearer {key}"}, settings)
    preds, version = check_predictions(payload, len(rows))
    return preds, version or "azureml"


def _response(result: ApiResult) -> func.HttpResponse:
    return func.HttpResponse(
        result.json(),
        status_code=result.status,
        mimetype="application/json",
        headers={"Cache-Control": "no-store", **result.headers},
    )


def _request_id(req: func.HttpRequest, context: Any) -> str | None:
    # The invocation id is what the host logs the execution under, so the audit line joins its traces.
    return (
        req.headers.get("x-request-id")
        or req.headers.get("x-ms-request-id")
        or getattr(context, "invocation_id", None)
    )


def _method_check(req: func.HttpRequest, route: str, rid: str | None) -> ApiResult | None:
    """The host matched the route template; the method is checked here (405 with Allow, JSON)."""
    resolved = resolve_route(req.method, route, rid)
    return resolved if isinstance(resolved, ApiResult) else None


@app.route(route="predict", methods=None)
def predict(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    rid = _request_id(req, context)
    refused = _method_check(req, "/predict", rid)
    if refused is not None:
        return _response(refused)
    settings = EndpointSettings.from_env()
    result = predict_request(
        req.get_body(),
        req.headers.get("content-type"),
        lambda rows: _invoke(rows, settings),
        settings,
        request_id=rid,
        cloud="azure",
    )
    return _response(result)


@app.route(route="health", methods=None, auth_level=func.AuthLevel.ANONYMOUS)
def health_check(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    refused = _method_check(req, "/health", _request_id(req, context))
    if refused is not None:
        return _response(refused)
    return _response(health("azure", _invoke, EndpointSettings.from_env()))


@app.route(route="{*path}", methods=None)
def unknown_route(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    rid = _request_id(req, context)
    result = not_found(req.method, "/" + req.route_params.get("path", ""))
    if rid:
        result.body = {"request_id": rid, **result.body}
    return _response(result)

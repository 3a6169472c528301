"""Azure Functions HTTP trigger (Python v2 programming model) calling the Azure ML online endpoint.

Environment: ``AZUREML_ENDPOINT_URL`` (the scoring URI), ``AZUREML_ENDPOINT_KEY``, and the shared
``ENDPOINT_TIMEOUT_MS``, ``ENDPOINT_MAX_ATTEMPTS``, ``FALLBACK_ENABLED``, ``LOG_LEVEL``.
Deploy with this module as ``function_app.py`` (or import ``app`` from it there).
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
    post_json_with_retries,
    predict_request,
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
        headers={"Cache-Control": "no-store"},
    )


@app.route(route="predict", methods=["POST"])
def predict(req: func.HttpRequest) -> func.HttpResponse:
    settings = EndpointSettings.from_env()
    result = predict_request(
        req.get_body(),
        req.headers.get("content-type"),
        lambda rows: _invoke(rows, settings),
        settings,
        request_id=req.headers.get("x-request-id") or req.headers.get("x-ms-request-id"),
        cloud="azure",
    )
    return _response(result)


@app.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health_check(req: func.HttpRequest) -> func.HttpResponse:
    return _response(health("azure", bool(os.environ.get("AZUREML_ENDPOINT_URL"))))

"""Google Cloud Functions (functions-framework) handler calling a Vertex AI endpoint.

Environment: ``VERTEX_ENDPOINT_ID``, ``GOOGLE_CLOUD_PROJECT``, ``VERTEX_REGION`` (REST
``:predict`` with a google-auth token), or ``VERTEX_PREDICT_URL`` to call a Vertex-contract server
directly (the offline emulator; no token is sent to non-Google hosts), and the shared
``ENDPOINT_TIMEOUT_MS``, ``ENDPOINT_MAX_ATTEMPTS``, ``FALLBACK_ENABLED``, ``LOG_LEVEL``.
Entry point: ``predict`` (routes ``POST /predict`` and ``GET /health``).
"""

from __future__ import annotations

import os
import threading
from typing import Any
from urllib.parse import urlparse

import functions_framework

from app.frontend.core import (
    MAX_BODY_BYTES,
    ApiResult,
    EndpointError,
    EndpointSettings,
    check_predictions,
    configure_logging,
    health,
    not_found,
    post_json_with_retries,
    predict_request,
)

configure_logging()

_credentials: Any = None
_lock = threading.Lock()


def predict_url() -> str:
    override = os.environ.get("VERTEX_PREDICT_URL")
    if override:
        return override
    endpoint, project, region = (
        os.environ.get("VERTEX_ENDPOINT_ID"),
        os.environ.get("GOOGLE_CLOUD_PROJECT"),
        os.environ.get("VERTEX_REGION"),
    )
    if not (endpoint and project and region):
        raise EndpointError(
            "not_configured", "VERTEX_ENDPOINT_ID, GOOGLE_CLOUD_PROJECT, VERTEX_REGION must be set"
        )
    return (
        f"https://{region}-aiplatform.googleapis.com/v1/projects/{project}"
        f"/locations/{region}/endpoints/{endpoint}:predict"
    )


def _token() -> str:
    """Access token of the function's service account, refreshed when it expires."""
    global _credentials
    import google.auth
    import google.auth.transport.requests

    with _lock:
        if _credentials is None:
            _credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
        if not _credentials.valid:
            _credentials.refresh(google.auth.transport.requests.Request())
        return str(_credentials.token)


def _invoke(rows: list[dict[str, Any]], settings: EndpointSettings) -> tuple[list[float], str]:
    url = predict_url()
    host = urlparse(url).hostname or ""
    # Tokens go only to Google's API hosts, never to an override URL elsewhere.
    headers = {"Authorization": f"Bearer {_token()}"} if host.endswith(".googleapis.com") else {}
    payload = post_json_with_retries(url, {"instances": rows}, headers, settings)
    preds, version = check_predictions(payload, len(rows))
    return preds, version or "vertex"


@functions_framework.http
def predict(request: Any) -> tuple[str, int, dict[str, str]]:
    path = request.path.rstrip("/") or "/"
    if request.method == "GET" and path.endswith("/health"):
        result: ApiResult = health(
            "gcp", bool(os.environ.get("VERTEX_ENDPOINT_ID") or os.environ.get("VERTEX_PREDICT_URL"))
        )
    elif request.method == "POST" and (path.endswith("/predict") or path == "/"):
        settings = EndpointSettings.from_env()
        # Refuse a declared-oversized body before reading it into memory.
        too_big = (request.content_length or 0) > MAX_BODY_BYTES
        body = b" " * (MAX_BODY_BYTES + 1) if too_big else request.get_data(cache=False)
        result = predict_request(
            body,
            request.headers.get("content-type"),
            lambda rows: _invoke(rows, settings),
            settings,
            request_id=request.headers.get("x-cloud-trace-context", "").split("/")[0] or None,
            cloud="gcp",
        )
    else:
        result = not_found(request.method, path)
    return result.json(), result.status, {"Content-Type": "application/json", "Cache-Control": "no-store"}

"""Google Cloud Functions (functions-framework) handler calling a Vertex AI endpoint.

Entry point: ``predict`` (every request reaches it; it routes ``POST /predict`` and ``GET /health`` exactly).
Environment: ``VERTEX_ENDPOINT_ID``, ``GOOGLE_CLOUD_PROJECT``, ``VERTEX_REGION``, optionally ``VERTEX_API_ENDPOINT``
(the API's base URL, as the client libraries' ``api_endpoint``; the offline platform points it at its local
Vertex API), and the shared ``ENDPOINT_TIMEOUT_MS``, ``ENDPOINT_MAX_ATTEMPTS``, ``FALLBACK_ENABLED``,
``LOG_LEVEL``.

It calls ``:rawPredict``, not ``:predict``: Vertex's predict API keeps only the container's ``predictions``, while
rawPredict returns the container's body, so the model version the server names reaches the caller. Both need the
same permission (``aiplatform.endpoints.predict``). The token is the function's service account's, from
google-auth's default credentials (the metadata server on Cloud Run) through its ``requests`` transport; the
deployed ``requirements.txt`` (components/api_frontend/package.py) lists both.
"""

from __future__ import annotations

import os
import threading
from typing import Any
from urllib.parse import urlsplit

import functions_framework

from app.frontend.core import (
    MAX_BODY_BYTES,
    ApiResult,
    EndpointError,
    EndpointSettings,
    check_predictions,
    configure_logging,
    health,
    post_json_with_retries,
    predict_request,
    resolve_route,
)

configure_logging()

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_credentials: Any = None
_lock = threading.Lock()


def api_endpoint(region: str) -> str:
    """The Vertex API base URL: the region's, or VERTEX_API_ENDPOINT (https; plain http on loopback only)."""
    override = os.environ.get("VERTEX_API_ENDPOINT", "").rstrip("/")
    if not override:
        return f"https://{region}-aiplatform.googleapis.com"
    parts = urlsplit(override)
    # The access token goes to this URL: never in clear text beyond this machine.
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
        raise EndpointError("not_configured", f"VERTEX_API_ENDPOINT must be https, got {override!r}")
    return override


def predict_url() -> str:
    endpoint, project, region = (
        os.environ.get("VERTEX_ENDPOINT_ID"),
        os.environ.get("GOOGLE_CLOUD_PROJECT"),
        os.environ.get("VERTEX_REGION"),
    )
    if not (endpoint and project and region):
        raise EndpointError(
            "not_configured", "VERTEX_ENDPOINT_ID, GOOGLE_CLOUD_PROJECT, VERTEX_REGION must be set"
        )
    return f"{api_endpoint(region)}/v1/projects/{project}/locations/{region}/endpoints/{endpoint}:rawPredict"


def _token() -> str:
    """Access token of the function's service account, refreshed when it expires."""
    global _credentials
    import google.auth
    import google.auth.transport.requests

    with _lock:
        if _credentials is None:
            _credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
        if not _credentials.valid:
            _credentials.refresh(google.auth.transport.requests.Request())
        return str(_credentials.token)


def _invoke(rows: list[dict[str, Any]], settings: EndpointSettings) -> tuple[list[float], str]:
    url = predict_url()
    headers = {"Authorization": f"Bearer {_token()}"}
    payload = post_json_with_retries(url, {"instances": rows}, headers, settings)
    preds, version = check_predictions(payload, len(rows))
    return preds, version or "vertex"


def _request_id(request: Any) -> str | None:
    # Cloud Run's trace id ties the audit line to the request's log entries.
    return request.headers.get("x-cloud-trace-context", "").split("/")[0] or None


@functions_framework.http
def predict(request: Any) -> tuple[str, int, dict[str, str]]:
    rid = _request_id(request)
    route = resolve_route(request.method, request.path, rid)
    if isinstance(route, ApiResult):
        result = route
    elif route == "/health":
        result = health("gcp", _invoke, EndpointSettings.from_env())
    else:
        settings = EndpointSettings.from_env()
        # Refuse a declared-oversized body before reading it into memory.
        too_big = (request.content_length or 0) > MAX_BODY_BYTES
        body = b" " * (MAX_BODY_BYTES + 1) if too_big else request.get_data(cache=False)
        result = predict_request(
            body,
            request.headers.get("content-type"),
            lambda rows: _invoke(rows, settings),
            settings,
            request_id=rid,
            cloud="gcp",
        )
    headers = {"Content-Type": "application/json", "Cache-Control": "no-store", **result.headers}
    return result.json(), result.status, headers

"""Vertex AI custom-container contract.

Vertex sets ``AIP_HTTP_PORT`` (default 8080), ``AIP_HEALTH_ROUTE`` and ``AIP_PREDICT_ROUTE`` and
sends ``{"instances": [...]}``; the answer is ``{"predictions": [...]}`` (plus ``model_version``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from app.serve.http import Request, Response, error_response, json_response
from app.serve.service import InferenceService, to_response

# Vertex online prediction refuses requests over 1.5 MB; mirror it so local tests see the same limit.
MAX_BODY_BYTES = 1_500_000
DEFAULT_PORT = 8080


def routes(env: Mapping[str, str] | None = None) -> tuple[str, str, int]:
    env = os.environ if env is None else env
    health = env.get("AIP_HEALTH_ROUTE") or "/health"
    predict = env.get("AIP_PREDICT_ROUTE") or "/predict"
    return health, predict, int(env.get("AIP_HTTP_PORT") or DEFAULT_PORT)


def make_handler(service: InferenceService, health_route: str, predict_route: str):
    version = service.version
    healthy = json_response(200, {"status": "ok", "model_version": version})

    def handle(req: Request) -> Response:
        if req.path == predict_route:
            if req.method != "POST":
                return error_response(405, f"method {req.method} not allowed on {predict_route}; use POST")
            outcome = service.predict_body(req.body, req.headers.get("content-type"), instances_only=True)
            return to_response(outcome, version)
        if req.path == health_route:
            if req.method not in ("GET", "HEAD"):
                return error_response(405, f"method {req.method} not allowed on {health_route}; use GET")
            return healthy
        return error_response(404, f"no route {req.path!r}; use GET {health_route} or POST {predict_route}")

    return handle

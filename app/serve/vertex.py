"""Vertex AI custom-container contract.

Vertex sets ``AIP_HTTP_PORT`` (default 8080), ``AIP_HEALTH_ROUTE`` and ``AIP_PREDICT_ROUTE`` and sends
``{"instances": [...]}``; the answer is ``{"predictions": [...], "model_version"}``. Vertex's ``:predict`` API keeps
only ``predictions`` from it; ``:rawPredict`` (what the API function calls) returns the body as is, so the model
version reaches the caller.
"""

from __future__ import annotations

from collections.abc import Mapping

from app.serve.contracts import VERTEX
from app.serve.http import Request, Response
from app.serve.service import InferenceService, Outcome, refuse, to_response

MAX_BODY_BYTES = VERTEX.max_body_bytes
DEFAULT_PORT = VERTEX.port


def routes(env: Mapping[str, str] | None = None) -> tuple[str, str, int]:
    return VERTEX.routes(env)


def make_handler(service: InferenceService, health_route: str, predict_route: str):
    version = service.version

    def reply(status: int, message: str) -> Response:
        return to_response(refuse(status, message), version)

    healthy = to_response(Outcome(200, {"status": "ok"}), version)

    def handle(req: Request) -> Response:
        if req.path == predict_route:
            if req.method != "POST":
                return reply(405, f"method {req.method} not allowed on {predict_route}; use POST")
            outcome = service.predict_body(req.body, req.headers.get("content-type"), instances_only=True)
            return to_response(outcome, version)
        if req.path == health_route:
            if req.method not in ("GET", "HEAD"):
                return reply(405, f"method {req.method} not allowed on {health_route}; use GET")
            return healthy
        return reply(404, f"no route {req.path!r}; use GET {health_route} or POST {predict_route}")

    return handle

"""SageMaker hosting contract: ``GET /ping``, ``POST /invocations`` on port 8080.

Bodies: JSON (one object, a list of objects, or ``{"instances": [...]}``) or ``text/csv`` rows in
``app.schema.FIELD_NAMES`` order (optional header). Answers ``{"predictions": [...], "model_version"}``.
"""

from __future__ import annotations

from app.serve.http import Request, Response, error_response, json_response
from app.serve.service import InferenceService, to_response

# SageMaker real-time endpoints accept at most 6 MB per invocation; nothing larger is legitimate.
MAX_BODY_BYTES = 6 * 1024 * 1024
DEFAULT_PORT = 8080


def make_handler(service: InferenceService):
    version = service.version
    ping = json_response(200, {"status": "ok", "model_version": version})

    def handle(req: Request) -> Response:
        # The runtime API path too, so boto3 (AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME) can call this directly.
        if req.path == "/invocations" or (
            req.path.startswith("/endpoints/") and req.path.endswith("/invocations")
        ):
            if req.method != "POST":
                return error_response(405, f"method {req.method} not allowed on /invocations; use POST")
            accept = req.headers.get("accept", "*/*")
            if not any(a in accept for a in ("*/*", "application/json", "application/*")):
                return error_response(406, f"Accept {accept!r} not supported; responses are application/json")
            return to_response(service.predict_body(req.body, req.headers.get("content-type")), version)
        if req.path == "/ping":
            if req.method not in ("GET", "HEAD"):
                return error_response(405, f"method {req.method} not allowed on /ping; use GET")
            return ping
        return error_response(404, f"no route {req.path!r}; use GET /ping or POST /invocations")

    return handle

"""SageMaker hosting contract (``GET /ping``, ``POST /invocations`` on 8080), also Azure ML's custom container.

Bodies: JSON (one object, a list of objects, or ``{"instances": [...]}``) or ``text/csv`` rows in
``app.schema.FIELD_NAMES`` order (optional header). Answers ``{"predictions": [...], "model_version"}``; every
answer, errors included, names the model version. Azure ML's environment declares the same two routes as its
liveness/readiness and scoring routes (``app.serve.contracts.AZUREML``), so one handler serves both clouds.
"""

from __future__ import annotations

from app.serve.contracts import SAGEMAKER
from app.serve.http import Request, Response
from app.serve.service import InferenceService, Outcome, refuse, to_response

MAX_BODY_BYTES = SAGEMAKER.max_body_bytes
DEFAULT_PORT = SAGEMAKER.port


def make_handler(
    service: InferenceService,
    health_route: str = SAGEMAKER.health_route,
    predict_route: str = SAGEMAKER.predict_route,
):
    version = service.version

    def reply(status: int, message: str) -> Response:
        return to_response(refuse(status, message), version)

    ping = to_response(Outcome(200, {"status": "ok"}), version)

    def handle(req: Request) -> Response:
        # The runtime API path too, so boto3 (AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME) can call this directly.
        if req.path == predict_route or (
            req.path.startswith("/endpoints/") and req.path.endswith("/invocations")
        ):
            if req.method != "POST":
                return reply(405, f"method {req.method} not allowed on {predict_route}; use POST")
            accept = req.headers.get("accept", "*/*")
            if not any(a in accept for a in ("*/*", "application/json", "application/*")):
                return reply(406, f"Accept {accept!r} not supported; responses are application/json")
            return to_response(service.predict_body(req.body, req.headers.get("content-type")), version)
        if req.path == health_route:
            if req.method not in ("GET", "HEAD"):
                return reply(405, f"method {req.method} not allowed on {health_route}; use GET")
            return ping
        return reply(404, f"no route {req.path!r}; use GET {health_route} or POST {predict_route}")

    return handle

"""Azure ML online-endpoint scoring script: ``init()`` and ``run(raw_data)``.

Azure ML mounts the registered model under ``AZUREML_MODEL_DIR`` (the artifact folder may sit
one level down). ``run`` accepts the same bodies as the other adapters; invalid input returns
an ``AMLResponse`` with status 4xx and the field errors, never an exception (which would be a 500).
"""

from __future__ import annotations

import json
import os
from typing import Any

from app.serve.predictor import Predictor
from app.serve.service import InferenceService

try:  # present inside Azure ML's inference server; absent in plain test environments
    from azureml_inference_server_http.api.aml_response import AMLResponse  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - exercised where the server is not installed

    class AMLResponse:  # type: ignore[no-redef]
        """Same constructor as the server's class, so run() behaves identically in tests."""

        def __init__(self, message: Any, status_code: int, json_str: bool = False) -> None:
            self.message = message
            self.status_code = status_code
            self.json_str = json_str


_service: InferenceService | None = None
# The inference server passes any body through; bound it like the SageMaker adapter does.
MAX_BODY_BYTES = 6 * 1024 * 1024


def init() -> None:
    global _service
    _service = InferenceService(Predictor(os.environ.get("AZUREML_MODEL_DIR")))


def run(raw_data: str | bytes) -> Any:
    if _service is None:
        return AMLResponse(
            json.dumps({"message": "model not loaded; init() was not called"}), 503, json_str=True
        )
    body = raw_data.encode("utf-8") if isinstance(raw_data, str) else raw_data
    if len(body) > MAX_BODY_BYTES:
        message = {"message": f"body of {len(body)} bytes exceeds the limit of {MAX_BODY_BYTES} bytes"}
        return AMLResponse(json.dumps({**message, "model_version": _service.version}), 413, json_str=True)
    outcome = _service.predict_body(body, "application/json")
    payload = {**outcome.payload, "model_version": _service.version}
    if outcome.status >= 400:
        return AMLResponse(json.dumps(payload), outcome.status, json_str=True)
    return payload

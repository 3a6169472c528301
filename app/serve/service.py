"""Request handling shared by the serving adapters: parse, validate, predict, shape the answer."""

from __future__ import annotations

import json
from typing import Any

from app.schema import (
    MAX_ROWS_PER_REQUEST,
    FieldError,
    dumps,
    instances_from_json,
    parse_csv_rows,
    parse_json,
    validate_batch,
)
from app.serve.http import Response
from app.serve.predictor import Predictor

JSON_TYPES = ("application/json",)
CSV_TYPES = ("text/csv",)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


class Outcome:
    """Adapter-neutral result: an HTTP status and a JSON-able payload."""

    __slots__ = ("payload", "status")

    def __init__(self, status: int, payload: dict[str, Any]) -> None:
        self.status = status
        self.payload = payload


def refuse(status: int, message: str, errors: list[FieldError] | None = None) -> Outcome:
    payload: dict[str, Any] = {"message": message}
    if errors is not None:
        payload["errors"] = errors
    return Outcome(status, payload)


class InferenceService:
    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor

    @property
    def version(self) -> str:
        return self.predictor.version

    def predict_instances(self, instances: list[Any], *, from_text: bool = False) -> Outcome:
        if len(instances) > MAX_ROWS_PER_REQUEST:
            return refuse(
                413, f"{len(instances)} instances exceed the limit of {MAX_ROWS_PER_REQUEST} per request"
            )
        clean, errors = validate_batch(instances, from_text=from_text)
        if errors:
            return refuse(400, "invalid input", errors)
        return Outcome(200, {"predictions": self.predictor.predict(clean), "model_version": self.version})

    def predict_body(self, body: bytes, content_type: str | None, *, instances_only: bool = False) -> Outcome:
        """Decode a JSON (or CSV) body; ``instances_only`` enforces Vertex's {"instances": [...]}."""
        mtype = media_type(content_type)
        if mtype not in JSON_TYPES + CSV_TYPES or (instances_only and mtype not in JSON_TYPES):
            allowed = "application/json" if instances_only else "application/json or text/csv"
            return refuse(415, f"Content-Type {content_type!r} is not supported; send {allowed}")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return refuse(400, f"body is not UTF-8: {exc.reason} at byte {exc.start}")
        if mtype in CSV_TYPES:
            return self.predict_instances(list(parse_csv_rows(text)), from_text=True)
        try:
            payload = parse_json(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            return refuse(400, f"malformed JSON: {exc}")
        if instances_only and not (isinstance(payload, dict) and "instances" in payload):
            return refuse(400, 'body must be {"instances": [...]}')
        instances, err = instances_from_json(payload)
        if err is not None or instances is None:
            return refuse(400, "invalid input", [err] if err else None)
        return self.predict_instances(instances)


def to_response(outcome: Outcome, version: str) -> Response:
    """Every answer, error or not, names the model version (body and X-Model-Version header); never NaN/Infinity."""
    body = dumps({**outcome.payload, "model_version": version}).encode()
    return Response(outcome.status, body, headers={"X-Model-Version": version})

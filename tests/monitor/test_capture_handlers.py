"""Capture on every cloud's real handler: an answered request writes its capture lines (named with the cloud), and a
fault injected into capture never fails the request. The endpoint is a closed loopback port, so each handler
answers with its fallback (the path that must work when everything else is broken)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import azure.functions as func
import pytest
from flask import Request as FlaskRequest
from werkzeug.test import EnvironBuilder

from app.frontend import aws_lambda, azure_function, capture, gcp_function

LISTING = {
    "city": "Pune", "locality_tier": 2, "area_sqft": 1050, "bedrooms": 2, "bathrooms": 2, "age_years": 6,
    "floor": 4, "parking": 1, "furnishing": "semi-furnished", "distance_to_metro_km": 1.8,
}  # fmt: skip
BODY = json.dumps({"instances": [LISTING, {**LISTING, "city": "Delhi"}]}).encode()
CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens, the call fails at once


def call_aws(mp: pytest.MonkeyPatch) -> tuple[int, dict]:
    for k, v in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_DEFAULT_REGION": "ap-south-1",
                 "ENDPOINT_NAME": "house", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": CLOSED,
                 "ENDPOINT_MAX_ATTEMPTS": "1"}.items():  # fmt: skip
        mp.setenv(k, v)
    event = {"version": "2.0", "routeKey": "POST /predict", "rawPath": "/predict",
             "headers": {"Content-Type": "application/json"}, "body": BODY.decode(), "isBase64Encoded": False,
             "requestContext": {"requestId": "aws-req", "http": {"method": "POST", "path": "/predict"}}}  # fmt: skip
    out = aws_lambda.handler(event, None)
    return out["statusCode"], json.loads(out["body"])


def call_azure(mp: pytest.MonkeyPatch) -> tuple[int, dict]:
    mp.setenv("AZUREML_ENDPOINT_URL", CLOSED + "/score")
    mp.setenv("AZUREML_ENDPOINT_KEY", "k")

    class Ctx:
        invocation_id = "azure-req"

    req = func.HttpRequest("POST", "/api/predict", body=BODY, headers={"content-type": "application/json"})
    resp = azure_function.predict(req, Ctx())
    return resp.status_code, json.loads(resp.get_body())


def call_gcp(mp: pytest.MonkeyPatch) -> tuple[int, dict]:
    mp.setenv("VERTEX_API_ENDPOINT", CLOSED)
    for k, v in {"VERTEX_ENDPOINT_ID": "1", "GOOGLE_CLOUD_PROJECT": "p", "VERTEX_REGION": "r"}.items():
        mp.setenv(k, v)
    mp.setattr(gcp_function, "_token", lambda: "never-sent")
    env = EnvironBuilder(
        method="POST", path="/predict", data=BODY, content_type="application/json"
    ).get_environ()
    text, status, _ = gcp_function.predict(FlaskRequest(env))
    return status, json.loads(text)


HANDLERS: dict[str, Callable[[pytest.MonkeyPatch], tuple[int, dict]]] = {
    "aws": call_aws, "azure": call_azure, "gcp": call_gcp,
}  # fmt: skip


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def lines(monkeypatch: pytest.MonkeyPatch):
    handler = Collect()
    log = logging.getLogger(capture.CAPTURE_LOGGER)
    log.addHandler(handler)
    old = log.level
    log.setLevel(logging.INFO)
    monkeypatch.setenv("CAPTURE_PERCENT", "100")
    monkeypatch.setenv("FALLBACK_ENABLED", "true")
    yield handler.lines
    log.removeHandler(handler)
    log.setLevel(old)


@pytest.mark.parametrize("cloud", sorted(HANDLERS))
def test_each_handler_captures_its_answer(
    cloud: str, lines: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, body = HANDLERS[cloud](monkeypatch)
    assert status == 200 and body["fallback"] is True
    docs = [json.loads(line) for line in lines]
    assert [(d["cloud"], d["row"], d["city"]) for d in docs] == [(cloud, 0, "Pune"), (cloud, 1, "Delhi")]
    assert [d["prediction"] for d in docs] == body["predictions"]


@pytest.mark.parametrize("cloud", sorted(HANDLERS))
def test_a_capture_fault_never_fails_the_handler(
    cloud: str, lines: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object, **kwargs: object) -> int:
        raise OSError("log pipe closed")

    monkeypatch.setattr(capture, "capture_lines", boom)  # inside capture.capture: the real call path raises
    status, body = HANDLERS[cloud](monkeypatch)
    assert status == 200 and len(body["predictions"]) == 2 and lines == []


@pytest.mark.parametrize("cloud", sorted(HANDLERS))
def test_capture_is_off_unless_the_deployment_turns_it_on(
    cloud: str, lines: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CAPTURE_PERCENT")
    assert HANDLERS[cloud](monkeypatch)[0] == 200 and lines == []

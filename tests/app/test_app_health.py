"""GET /health on the three cloud handlers reports the endpoint's real state (issue 13, item 6): with the model server
dead it says so, with it alive it says available; what a prediction learned is reused, a probe runs at most once per
30 s per instance, one at a time, with one short attempt, so /health stays cheap and cannot be used to load the
endpoint."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import azure.functions as func
import pytest
from app_support import FaultyEndpoint
from flask import Request as FlaskRequest
from werkzeug.test import EnvironBuilder

from app.frontend import aws_lambda, azure_function, core, gcp_function

DEAD = "http://127.0.0.1:9"  # the discard port: nothing listens, the connection is refused at once


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(core, "_health", core.EndpointHealth(clock=c))
    return c


@pytest.fixture()
def endpoint() -> Iterator[FaultyEndpoint]:
    ep = FaultyEndpoint("ok")
    yield ep
    ep.close()


# ---- the three handlers, pointed at an endpoint URL --------------------------------------------------------------


def aws_health(monkeypatch: pytest.MonkeyPatch, url: str | None) -> tuple[int, dict[str, Any]]:
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "ap-south-1",
        "ENDPOINT_TIMEOUT_MS": "500",
    }.items():
        monkeypatch.setenv(k, v)
    if url is None:
        monkeypatch.delenv("ENDPOINT_NAME", raising=False)
    else:
        monkeypatch.setenv("ENDPOINT_NAME", "house-price")
        monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", url)
    event = {
        "version": "2.0",
        "routeKey": "GET /health",
        "rawPath": "/health",
        "headers": {},
        "requestContext": {"requestId": "r-1", "http": {"method": "GET", "path": "/health"}},
        "isBase64Encoded": False,
    }
    out = aws_lambda.handler(event, None)
    return out["statusCode"], json.loads(out["body"])


def azure_health(
    monkeypatch: pytest.MonkeyPatch, url: str | None, path: str = "/score"
) -> tuple[int, dict[str, Any]]:
    monkeypatch.setenv("ENDPOINT_TIMEOUT_MS", "500")
    if url is None:
        monkeypatch.delenv("AZUREML_ENDPOINT_URL", raising=False)
    else:
        monkeypatch.setenv("AZUREML_ENDPOINT_URL", url + path)
        monkeypatch.setenv("AZUREML_ENDPOINT_KEY", "local-key")
    resp = azure_function.health_check(
        func.HttpRequest("GET", "/api/health", body=b""), type("Ctx", (), {"invocation_id": "i-1"})()
    )
    return resp.status_code, json.loads(resp.get_body())


def gcp_health(monkeypatch: pytest.MonkeyPatch, url: str | None) -> tuple[int, dict[str, Any]]:
    monkeypatch.setenv("ENDPOINT_TIMEOUT_MS", "500")
    monkeypatch.setattr(gcp_function, "_token", lambda: "token-1")
    if url is None:
        monkeypatch.delenv("VERTEX_ENDPOINT_ID", raising=False)
    else:
        for k, v in {
            "VERTEX_ENDPOINT_ID": "123",
            "GOOGLE_CLOUD_PROJECT": "tricloud-demo",
            "VERTEX_REGION": "asia-south1",
            "VERTEX_API_ENDPOINT": url,
        }.items():
            monkeypatch.setenv(k, v)
    env = EnvironBuilder(method="GET", path="/health").get_environ()
    text, status, _ = gcp_function.predict(FlaskRequest(env))
    return status, json.loads(text)


HANDLERS: dict[str, Callable[[pytest.MonkeyPatch, str | None], tuple[int, dict[str, Any]]]] = {
    "aws": aws_health,
    "azure": azure_health,
    "gcp": gcp_health,
}


@pytest.mark.parametrize("cloud", list(HANDLERS))
def test_dead_then_alive_endpoint(cloud: str, monkeypatch, clock: Clock, endpoint: FaultyEndpoint) -> None:
    """Issue 13: /health said `endpoint_configured: true` with the model server dead."""
    call = HANDLERS[cloud]
    status, body = call(monkeypatch, DEAD)
    assert (status, body) == (
        200,
        {"status": "degraded", "cloud": cloud, "endpoint": "unavailable", "checked_s_ago": 0.0},
    )
    clock.now += core.HEALTH_TTL_S  # the model server comes back; the next look after the TTL sees it
    status, body = call(monkeypatch, endpoint.url)
    assert (status, body["status"], body["endpoint"]) == (200, "ok", "available")
    assert endpoint.calls == 1


@pytest.mark.parametrize("cloud", list(HANDLERS))
def test_without_an_endpoint_and_without_fallback(cloud: str, monkeypatch, clock: Clock) -> None:
    call = HANDLERS[cloud]
    assert call(monkeypatch, None) == (
        200,
        {"status": "degraded", "cloud": cloud, "endpoint": "not_configured", "checked_s_ago": 0.0},
    )
    clock.now += core.HEALTH_TTL_S
    monkeypatch.setenv("FALLBACK_ENABLED", "false")  # nothing can answer /predict: the API is unavailable
    status, body = call(monkeypatch, DEAD)
    assert (status, body["status"], body["endpoint"]) == (503, "unavailable", "unavailable")


def test_one_probe_per_ttl_and_predictions_count_as_looks(
    monkeypatch, clock: Clock, endpoint: FaultyEndpoint, valid_listing: dict
) -> None:
    for _ in range(20):
        assert aws_health(monkeypatch, endpoint.url)[1]["endpoint"] == "available"
    assert endpoint.calls == 1 and core._health.probes == 1
    clock.now += 12.0
    assert aws_health(monkeypatch, endpoint.url)[1]["checked_s_ago"] == 12.0
    # A prediction that finds the endpoint down is news /health repeats without probing.
    event = {
        "version": "2.0",
        "routeKey": "POST /predict",
        "headers": {"content-type": "application/json"},
        "requestContext": {"requestId": "r-2", "http": {"method": "POST", "path": "/predict"}},
        "body": json.dumps(valid_listing),
        "isBase64Encoded": False,
    }
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", DEAD)
    assert json.loads(aws_lambda.handler(event, None)["body"])["fallback"] is True
    status, body = aws_health(monkeypatch, endpoint.url)
    assert (status, body["endpoint"], body["checked_s_ago"]) == (200, "unavailable", 0.0)
    assert core._health.probes == 1 and endpoint.calls == 1
    clock.now += core.HEALTH_TTL_S - 0.1
    assert aws_health(monkeypatch, endpoint.url)[1]["endpoint"] == "unavailable"  # still within the TTL
    clock.now += 0.1
    assert aws_health(monkeypatch, endpoint.url)[1]["endpoint"] == "available"
    assert core._health.probes == 2 and endpoint.calls == 2


def test_concurrent_health_calls_share_one_probe(monkeypatch, endpoint: FaultyEndpoint) -> None:
    endpoint.delay = 0.3
    for k, v in {
        "AZUREML_ENDPOINT_URL": endpoint.url + "/score",
        "AZUREML_ENDPOINT_KEY": "k",
        "ENDPOINT_TIMEOUT_MS": "2000",
    }.items():
        monkeypatch.setenv(k, v)
    answers: list[str] = []

    def one() -> None:
        resp = azure_function.health_check(
            func.HttpRequest("GET", "/api/health", body=b""), type("Ctx", (), {"invocation_id": "i"})()
        )
        answers.append(json.loads(resp.get_body())["endpoint"])

    threads = [threading.Thread(target=one) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert answers == ["available"] * 12
    assert endpoint.calls == 1


def test_a_hanging_endpoint_is_one_short_attempt(monkeypatch, clock: Clock, caplog) -> None:
    """The probe has one attempt of at most HEALTH_PROBE_TIMEOUT_MS (here the function's 500 ms), no retry, and
    writes no audit line (it is not a prediction)."""
    hanging = FaultyEndpoint("ok", delay=5.0)
    caplog.set_level(logging.INFO, logger="tricloud.audit")
    try:
        started = time.monotonic()
        status, body = gcp_health(monkeypatch, hanging.url)
        elapsed = time.monotonic() - started
    finally:
        hanging.close()
    assert (status, body["endpoint"]) == (200, "unavailable")
    assert hanging.calls == 1
    assert elapsed < 4.0, f"/health waited {elapsed:.1f} s on an endpoint that hangs for 5 s"
    assert not [r for r in caplog.records if r.name == "tricloud.audit"]


def test_the_probe_listing_is_a_valid_request() -> None:
    from app.schema import validate_batch

    clean, errors = validate_batch([core.PROBE_LISTING])
    assert errors == [] and len(clean) == 1


def test_real_model_servers_answer_the_probe(
    monkeypatch, clock: Clock, sagemaker_server: str, vertex_api
) -> None:
    """The probe is a real prediction request: the SageMaker- and Vertex-contract servers accept it."""
    assert aws_health(monkeypatch, sagemaker_server)[1]["endpoint"] == "available"
    clock.now += core.HEALTH_TTL_S
    status, body = azure_health(monkeypatch, sagemaker_server, "/invocations")  # Azure ML's scoring route
    assert (status, body["endpoint"]) == (200, "available")
    clock.now += core.HEALTH_TTL_S
    status, body = gcp_health(monkeypatch, vertex_api.url)
    assert (status, body["endpoint"]) == (200, "available")
    assert ("rawPredict", 200) in vertex_api.calls

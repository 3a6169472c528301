"""The API handlers: real endpoint calls, moto, injected failures and timeouts, bad input, audit log."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import boto3
import pytest
import requests
from app_support import FaultyEndpoint
from flask import Request as FlaskRequest
from moto import mock_aws
from werkzeug.test import EnvironBuilder

from app.frontend import aws_lambda, azure_function, gcp_function
from app.frontend.core import FALLBACK_VERSION, EndpointError, EndpointSettings, rule_estimate
from app.serve.predictor import Predictor
from tricloud.emulate.hosts.gcp_apis import VertexApi
from tricloud.emulate.hosts.web import strict_json

# ---- helpers -------------------------------------------------------------------------------


@pytest.fixture(params=["slow", "error", "garbage"])
def faulty(request: pytest.FixtureRequest) -> Iterator[FaultyEndpoint]:
    ep = FaultyEndpoint(request.param)
    yield ep
    ep.close()


def lambda_event(
    body: bytes | str | None,
    content_type: str = "application/json",
    path: str = "/predict",
    method: str = "POST",
    b64: bool = False,
) -> dict[str, Any]:
    if isinstance(body, bytes):
        body = base64.b64encode(body).decode() if b64 else body.decode("utf-8", errors="surrogateescape")
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "headers": {"Content-Type": content_type} if content_type else {},
        "requestContext": {"requestId": "req-123", "http": {"method": method, "path": path}},
        "body": body,
        "isBase64Encoded": b64,
    }


def call_lambda(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    out = aws_lambda.handler(event, None)
    return out["statusCode"], strict_json(out["body"])


@pytest.fixture()
def aws_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "ap-south-1",
        "ENDPOINT_NAME": "house-price",
        "ENDPOINT_TIMEOUT_MS": "500",
        "ENDPOINT_MAX_ATTEMPTS": "2",
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", raising=False)
    monkeypatch.delenv("FALLBACK_ENABLED", raising=False)
    # In-process mock_aws is unauthenticated here, whatever order the suite runs in: an emulator test's session
    # moto turns IAM enforcement on process-wide while it lives (tricloud.engine.emulator).
    from moto import settings

    monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", float("inf"))
    return monkeypatch


# ---- AWS Lambda ----------------------------------------------------------------------------


def test_lambda_against_real_sagemaker_server(
    aws_env, sagemaker_server: str, model_dir, valid_listing: dict
) -> None:
    aws_env.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", sagemaker_server)
    status, body = call_lambda(lambda_event(json.dumps({"instances": [valid_listing, valid_listing]})))
    predictor = Predictor(model_dir)
    assert status == 200, body
    assert body["fallback"] is False
    assert body["model_version"] == predictor.version
    assert body["predictions"] == predictor.predict([valid_listing] * 2)
    assert body["request_id"] == "req-123"
    # The client is built once and reused across warm invocations.
    clients = dict(aws_lambda._clients)
    call_lambda(lambda_event(json.dumps(valid_listing)))
    assert aws_lambda._clients == clients  # the same client objects, none added


def test_lambda_with_moto_placeholder_falls_back(aws_env, valid_listing: dict) -> None:
    with mock_aws():
        status, body = call_lambda(lambda_event(json.dumps(valid_listing)))
    assert status == 200
    assert body["fallback"] is True and body["model_version"] == FALLBACK_VERSION
    assert body["predictions"] == [rule_estimate(valid_listing)]


def test_lambda_with_moto_queued_result(aws_env, valid_listing: dict) -> None:
    with mock_aws():
        results = {
            "region": "ap-south-1",
            "results": [
                {
                    "Body": json.dumps({"predictions": [12345678.0], "model_version": "moto-v1"}),
                    "ContentType": "application/json",
                }
            ],
        }
        resp = requests.post(
            "http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results", json=results, timeout=5
        )
        assert resp.status_code == 201
        boto3.client("sagemaker-runtime", region_name="ap-south-1")  # moto's backend for the region
        status, body = call_lambda(lambda_event(json.dumps(valid_listing)))
    assert (status, body["predictions"], body["model_version"], body["fallback"]) == (
        200,
        [12345678.0],
        "moto-v1",
        False,
    )


def test_lambda_falls_back_on_injected_failures(
    aws_env, faulty: FaultyEndpoint, valid_listing: dict, caplog
) -> None:
    aws_env.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", faulty.url)
    caplog.set_level(logging.INFO, logger="tricloud.audit")
    started = time.monotonic()
    status, body = call_lambda(lambda_event(json.dumps([valid_listing])))
    elapsed = time.monotonic() - started
    assert status == 200 and body["fallback"] is True and body["model_version"] == FALLBACK_VERSION
    assert body["predictions"] == [rule_estimate(valid_listing)]
    # Bounded: at most ENDPOINT_MAX_ATTEMPTS calls, each within ENDPOINT_TIMEOUT_MS (plus backoff).
    assert faulty.calls <= 2 and elapsed < 2 * 0.5 + 2.0
    if faulty.mode != "garbage":
        assert faulty.calls == 2
    audit = [json.loads(r.getMessage()) for r in caplog.records if r.name == "tricloud.audit"]
    assert len(audit) == 1
    assert audit[0]["fallback"] is True and audit[0]["status"] == 200 and audit[0]["error_kind"]


def test_lambda_without_fallback_answers_503(aws_env, valid_listing: dict) -> None:
    ep = FaultyEndpoint("error")
    try:
        aws_env.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", ep.url)
        aws_env.setenv("FALLBACK_ENABLED", "false")
        status, body = call_lambda(lambda_event(json.dumps(valid_listing)))
    finally:
        ep.close()
    assert status == 503 and "unavailable" in body["message"]


def test_lambda_bad_request_corpus_all_4xx(aws_env, bad_request_corpus, caplog) -> None:
    aws_env.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "http://127.0.0.1:9")  # must never be called
    caplog.set_level(logging.INFO, logger="tricloud.audit")
    for name, body, ctype in bad_request_corpus:
        status, out = call_lambda(lambda_event(body, ctype, b64=True))
        assert 400 <= status < 500, (name, status, out)
        assert out["request_id"] == "req-123"
    audit = [json.loads(r.getMessage()) for r in caplog.records if r.name == "tricloud.audit"]
    assert len(audit) == len(bad_request_corpus)
    assert all(400 <= a["status"] < 500 and a["fallback"] is False for a in audit)


def test_lambda_routes_and_audit_has_no_personal_data(
    aws_env, sagemaker_server: str, valid_listing: dict, caplog
) -> None:
    assert call_lambda(lambda_event(None, path="/health", method="GET"))[0] == 200
    assert call_lambda(lambda_event(None, path="/admin", method="GET"))[0] == 404
    assert call_lambda(lambda_event(b"%%%", b64=False, path="/predict") | {"isBase64Encoded": True})[0] == 400
    aws_env.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", sagemaker_server)
    caplog.set_level(logging.INFO, logger="tricloud.audit")
    assert call_lambda(lambda_event(json.dumps(valid_listing)))[0] == 200
    line = next(r.getMessage() for r in caplog.records if r.name == "tricloud.audit")
    entry = json.loads(line)
    assert set(entry) >= {"request_id", "model_version", "latency_ms", "fallback", "status"}
    assert "Pune" not in line and "1050" not in line


def test_endpoint_settings_validate_env() -> None:
    assert EndpointSettings.from_env({}) == EndpointSettings(2000, 2, True)
    with pytest.raises(ValueError, match=r"ENDPOINT_TIMEOUT_MS.*'soon'"):
        EndpointSettings.from_env({"ENDPOINT_TIMEOUT_MS": "soon"})
    with pytest.raises(ValueError, match="FALLBACK_ENABLED"):
        EndpointSettings.from_env({"FALLBACK_ENABLED": "maybe"})


# ---- Azure Functions -----------------------------------------------------------------------


class InvocationContext:
    invocation_id = "inv-123"


def azure_call(
    body: bytes, content_type: str = "application/json", method: str = "POST"
) -> tuple[int, dict[str, Any]]:
    req = func.HttpRequest(
        method, "/api/predict", body=body, headers={"content-type": content_type} if content_type else {}
    )
    resp = azure_function.predict(req, InvocationContext())
    return resp.status_code, strict_json(resp.get_body())


def test_azure_function_real_endpoint_and_fallback(
    monkeypatch, sagemaker_server: str, model_dir, valid_listing: dict
) -> None:
    monkeypatch.setenv("AZUREML_ENDPOINT_URL", sagemaker_server + "/invocations")
    monkeypatch.setenv("AZUREML_ENDPOINT_KEY", "local-key")
    monkeypatch.setenv("ENDPOINT_TIMEOUT_MS", "500")
    status, body = azure_call(json.dumps({"instances": [valid_listing]}).encode())
    assert (status, body["fallback"]) == (200, False)
    assert body["predictions"] == Predictor(model_dir).predict([valid_listing])
    for mode in ("slow", "error", "garbage"):
        ep = FaultyEndpoint(mode)
        monkeypatch.setenv("AZUREML_ENDPOINT_URL", ep.url + "/score")
        try:
            status, body = azure_call(json.dumps(valid_listing).encode())
        finally:
            ep.close()
        assert (status, body["fallback"], body["model_version"]) == (200, True, FALLBACK_VERSION), mode
        assert ep.calls == (1 if mode == "garbage" else 2), mode


def test_azure_function_bad_request_corpus_all_4xx(monkeypatch, bad_request_corpus) -> None:
    monkeypatch.setenv("AZUREML_ENDPOINT_URL", "http://127.0.0.1:9/score")
    monkeypatch.setenv("AZUREML_ENDPOINT_KEY", "k")
    for name, body, ctype in bad_request_corpus:
        status, out = azure_call(body, ctype)
        assert 400 <= status < 500, (name, status, out)


# ---- Google Cloud Functions ----------------------------------------------------------------


def gcp_call(
    body: bytes, content_type: str = "application/json", path: str = "/predict", method: str = "POST"
) -> tuple[int, dict[str, Any]]:
    env = EnvironBuilder(method=method, path=path, data=body, content_type=content_type or None).get_environ()
    text, status, _ = gcp_function.predict(FlaskRequest(env))
    return status, strict_json(text)


def test_gcp_function_real_vertex_server_and_fallback(
    vertex_api: VertexApi, model_dir, valid_listing: dict
) -> None:
    status, body = gcp_call(json.dumps([valid_listing, valid_listing]).encode())
    assert (status, body["fallback"]) == (200, False)
    assert body["predictions"] == Predictor(model_dir).predict([valid_listing] * 2)
    # rawPredict: the container's own model version reaches the caller (predict would keep predictions only).
    assert body["model_version"] == Predictor(model_dir).version
    assert vertex_api.calls == [("rawPredict", 200)]
    assert gcp_call(b"", path="/health", method="GET")[0] == 200
    vertex_api.outage = True
    status, body = gcp_call(json.dumps(valid_listing).encode())
    assert (status, body["fallback"], body["model_version"]) == (200, True, FALLBACK_VERSION)
    assert [c for c in vertex_api.calls if c[1] == 503] == [
        ("rawPredict", 503)
    ] * 2  # one retry, then the rule


def test_vertex_predict_api_drops_the_model_version(vertex_api: VertexApi, valid_listing: dict) -> None:
    """Why the function calls rawPredict: Vertex's predict answer keeps only the container's predictions."""
    from tricloud.emulate.hosts.web import call

    url = f"{vertex_api.url}/v1/projects/tricloud-demo/locations/asia-south1/endpoints/123"
    auth = {"Authorization": "Bearer token-1"}
    status, _, body = call(f"{url}:predict", {"instances": [valid_listing]}, headers=auth)
    assert status == 200 and "model_version" not in body and body["deployedModelId"] == "456"
    status, headers, body = call(f"{url}:rawPredict", {"instances": [valid_listing]}, headers=auth)
    assert status == 200 and body["model_version"] and headers["x-vertex-ai-deployed-model-id"] == "456"
    assert call(f"{url}:rawPredict", {"instances": [valid_listing]})[0] == 401


def test_gcp_function_builds_the_vertex_rest_url(monkeypatch) -> None:
    monkeypatch.delenv("VERTEX_API_ENDPOINT", raising=False)
    monkeypatch.setenv("VERTEX_ENDPOINT_ID", "123")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "tricloud-demo")
    monkeypatch.setenv("VERTEX_REGION", "asia-south1")
    assert gcp_function.predict_url() == (
        "https://asia-south1-aiplatform.googleapis.com/v1/projects/tricloud-demo/locations/asia-south1/endpoints/123:rawPredict"
    )
    monkeypatch.setenv("VERTEX_API_ENDPOINT", "http://127.0.0.1:8123/")
    assert gcp_function.predict_url().startswith("http://127.0.0.1:8123/v1/projects/tricloud-demo/")
    # The token travels to this URL: plain http only on loopback.
    monkeypatch.setenv("VERTEX_API_ENDPOINT", "http://vertex.example.com")
    with pytest.raises(EndpointError, match="must be https"):
        gcp_function.predict_url()


def test_gcp_function_bad_request_corpus_all_4xx(monkeypatch, bad_request_corpus) -> None:
    monkeypatch.setenv("VERTEX_API_ENDPOINT", "http://127.0.0.1:9")
    for k, v in {"VERTEX_ENDPOINT_ID": "1", "GOOGLE_CLOUD_PROJECT": "p", "VERTEX_REGION": "r"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(gcp_function, "_token", lambda: "never-sent")
    for name, body, ctype in bad_request_corpus:
        status, out = gcp_call(body, ctype)
        assert 400 <= status < 500, (name, status, out)


# ---- routes: exact on every cloud -----------------------------------------------------------------------------


def test_routes_are_exact_and_a_wrong_method_is_405(aws_env) -> None:
    listing = json.dumps({"instances": []}).encode()
    # Lambda: the route API Gateway matched (routeKey) or the path without the stage.
    assert call_lambda(lambda_event(listing, path="/anything/predict"))[0] == 404
    status, body = call_lambda(lambda_event(None, path="/predict", method="GET"))
    assert status == 405 and body["request_id"] == "req-123"
    assert (
        aws_lambda.handler(lambda_event(None, path="/predict", method="GET"), None)["headers"]["Allow"]
        == "POST"
    )
    staged = lambda_event(None, path="/prod/health", method="GET") | {"routeKey": "$default"}
    staged["requestContext"]["stage"] = "prod"
    assert call_lambda(staged)[0] == 200
    # Cloud Functions: every path reaches the function, which answers only its two routes.
    assert gcp_call(listing, path="/anything/predict")[0] == 404
    assert gcp_call(listing, path="/predict/")[0] == 404
    assert gcp_call(b"", path="/predict", method="GET")[0] == 405
    assert gcp_call(b"", path="/health", method="POST")[0] == 405
    # Azure Functions: the host matched the route template; the method is the function's to check.
    status, body = azure_call(b"", method="GET")
    assert status == 405 and body["request_id"] == "inv-123"


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        (
            "app.frontend.aws_lambda",
            ["numpy", "pandas", "sklearn", "azure.functions", "functions_framework", "google.auth"],
        ),
        ("app.frontend.azure_function", ["numpy", "pandas", "sklearn", "boto3", "functions_framework"]),
        ("app.frontend.gcp_function", ["numpy", "pandas", "sklearn", "boto3", "azure.functions"]),
        ("app.serve.__main__", ["pandas", "pyspark", "boto3"]),
    ],
)
def test_bundles_import_only_their_own_sdk(module: str, forbidden: list[str]) -> None:
    import subprocess
    import sys

    code = f"import sys, {module}; print([m for m in {forbidden!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout


# ---- the audit line and the observe seam ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "module", ["app.frontend.aws_lambda", "app.frontend.azure_function", "app.frontend.gcp_function"]
)
def test_audit_has_a_handler_when_the_host_installed_none(module: str) -> None:
    """functions-framework installs no handler: the INFO audit line needs one of its own, on stderr."""
    import subprocess
    import sys

    code = (
        f"import logging, {module}\n"
        "from app.frontend.core import audit\n"
        "print([type(h).__name__ for h in logging.getLogger().handlers])\n"
        "audit('r-1', cloud='x', status=200, fallback=False)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "['StreamHandler']"
    entry = json.loads(out.stderr.strip().splitlines()[-1])
    assert (entry["severity"], entry["logger"], entry["request_id"], entry["status"]) == (
        "INFO",
        "tricloud.audit",
        "r-1",
        200,
    )


def test_a_host_handler_is_kept_and_not_doubled() -> None:
    """Lambda's runtime and the Azure worker install a root handler first: the module must not add another."""
    import subprocess
    import sys

    code = (
        "import logging\n"
        "logging.getLogger().addHandler(logging.NullHandler())\n"
        "import app.frontend.gcp_function\n"
        "print([type(h).__name__ for h in logging.getLogger().handlers])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "['NullHandler']"


def test_a_failing_observer_never_fails_the_request(
    aws_env, sagemaker_server: str, valid_listing: dict, monkeypatch
) -> None:
    from app.frontend import core

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("log pipe closed")

    monkeypatch.setattr(core, "audit", broken)
    aws_env.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", sagemaker_server)
    status, body = call_lambda(lambda_event(json.dumps(valid_listing)))
    assert status == 200 and body["fallback"] is False

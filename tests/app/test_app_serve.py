"""The predictor and the three serving contracts through their real interfaces."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

from app.data import generate
from app.features import featurize_frame
from app.serve.contracts import AZUREML, SAGEMAKER, VERTEX, detect
from app.serve.predictor import ModelLoadError, Predictor
from tricloud.emulate.hosts.web import strict_json


def post(base: str, path: str, body: bytes, content_type: str) -> tuple[int, dict, dict[str, str]]:
    u = urlparse(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    headers = {"Content-Type": content_type} if content_type else {}
    try:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    # Strict: an answer holding NaN or Infinity is not JSON for any client but Python's.
    return resp.status, strict_json(data) if data else {}, {k.lower(): v for k, v in resp.getheaders()}


def raw_exchange(base: str, payload: bytes, read_until_close: bool = True) -> bytes:
    u = urlparse(base)
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        s.sendall(payload)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if not read_until_close and b"\r\n\r\n" in b"".join(chunks):
                break
        return b"".join(chunks)


# ---- predictor -----------------------------------------------------------------------------


def test_flat_forest_equals_sklearn_predict(model_dir: Path) -> None:
    p = Predictor(model_dir)
    X = featurize_frame(generate(500, seed=77))
    np.testing.assert_allclose(np.log(p.predict_features(X)), p.model.predict(X), rtol=0, atol=1e-9)
    one = X[:1]
    np.testing.assert_allclose(np.log(p.predict_features(one)), p.model.predict(one), atol=1e-9)


def test_predictor_refuses_tampered_model(model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "m"
    shutil.copytree(model_dir, copy)
    with (copy / "model.joblib").open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ModelLoadError, match="sha256"):
        Predictor(copy)


def test_predictor_finds_nested_artifact_and_env(model_dir: Path, tmp_path: Path, monkeypatch) -> None:
    shutil.copytree(model_dir, tmp_path / "registered" / "house-price")
    assert Predictor(tmp_path / "registered").version == Predictor(model_dir).version
    monkeypatch.setenv("MODEL_DIR", str(model_dir))
    assert Predictor().model_dir == model_dir
    with pytest.raises(ModelLoadError, match="no model artifact"):
        Predictor(tmp_path)


# ---- SageMaker contract --------------------------------------------------------------------


def test_sagemaker_ping_and_json_forms(sagemaker_server: str, model_dir: Path, valid_listing: dict) -> None:
    version = Predictor(model_dir).version
    u = urlparse(sagemaker_server)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request("GET", "/ping")
    resp = conn.getresponse()
    assert resp.status == 200 and json.loads(resp.read())["model_version"] == version
    expected = Predictor(model_dir).predict([valid_listing])[0]
    for body in (valid_listing, [valid_listing, valid_listing], {"instances": [valid_listing]}):
        # Same keep-alive connection for every request.
        conn.request(
            "POST", "/invocations", json.dumps(body), {"Content-Type": "application/json; charset=utf-8"}
        )
        resp = conn.getresponse()
        out = json.loads(resp.read())
        assert resp.status == 200, out
        assert resp.getheader("X-Model-Version") == version == out["model_version"]
        assert out["predictions"][0] == expected
        assert 1e6 < expected < 1e8
    conn.close()


def test_sagemaker_csv_and_batches(sagemaker_server: str, model_dir: Path) -> None:
    frame = generate(100, seed=31).drop(columns=["price_inr"])
    csv_body = frame.to_csv(index=False).encode()
    status, out, _ = post(sagemaker_server, "/invocations", csv_body, "text/csv")
    assert status == 200
    expected = Predictor(model_dir).predict(frame.to_dict("records"))
    assert out["predictions"] == expected
    no_header = frame.to_csv(index=False, header=False).encode()
    assert post(sagemaker_server, "/invocations", no_header, "text/csv")[1]["predictions"] == expected
    status, out, _ = post(sagemaker_server, "/invocations", b"Pune,2,900,2,2,1,3,1,furnished,x\n", "text/csv")
    assert status == 400
    assert out["errors"] == [
        {
            "row": 0,
            "field": "distance_to_metro_km",
            "value": "x",
            "error": "must be a number",
            "code": "wrong_type",
        }
    ]


def test_sagemaker_bad_request_corpus_all_4xx(sagemaker_server: str, bad_request_corpus) -> None:
    for name, body, ctype in bad_request_corpus:
        status, out, _ = post(sagemaker_server, "/invocations", body, ctype)
        assert 400 <= status < 500, (name, status, out)
        assert out.get("message"), name
    assert post(sagemaker_server, "/invocations", b"x" * 7_000_000, "application/json")[0] == 413
    assert post(sagemaker_server, "/invocations", b"a,b", "text/plain")[0] == 415


def test_sagemaker_field_errors_carry_row_field_value(sagemaker_server: str, valid_listing: dict) -> None:
    body = json.dumps([valid_listing, {**valid_listing, "city": "Atlantis", "bedrooms": -2}]).encode()
    status, out, _ = post(sagemaker_server, "/invocations", body, "application/json")
    assert status == 400
    got = {(e["row"], e["field"], e["value"]) for e in out["errors"]}
    assert got == {(1, "city", "Atlantis"), (1, "bedrooms", -2)}


def test_http_layer_robustness(sagemaker_server: str, valid_listing: dict) -> None:
    body = json.dumps(valid_listing).encode()
    req = b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
    pipelined = raw_exchange(
        sagemaker_server, (req % (len(body), body)) * 3 + b"GET /ping HTTP/1.1\r\nConnection: close\r\n\r\n"
    )
    assert pipelined.count(b"HTTP/1.1 200 OK") == 4
    cases = [
        (b"GARBAGE\r\n\r\n", b"400"),
        (b"GET /ping HTTP/1.1\r\nbad header line\r\n\r\n", b"400"),
        (b"POST /invocations HTTP/1.1\r\nContent-Length: abc\r\n\r\n", b"400"),
        (b"POST /invocations HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", b"400"),
        (b"POST /invocations HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", b"411"),
        (b"GET /ping HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", b"431"),
        (b"POST /invocations HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n", b"413"),
        (b"GET /nope HTTP/1.1\r\nConnection: close\r\n\r\n", b"404"),
        (b"GET /invocations HTTP/1.1\r\nConnection: close\r\n\r\n", b"405"),
        (b"PUT /ping HTTP/1.1\r\nConnection: close\r\n\r\n", b"405"),
        (
            b"POST /invocations HTTP/1.1\r\nAccept: text/xml\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
            b"406",
        ),
        (b"GET /ping HTTP/2.0\r\n\r\n", b"400"),
    ]
    for payload, code in cases:
        answer = raw_exchange(sagemaker_server, payload)
        assert answer.startswith(b"HTTP/1.1 " + code), (payload[:60], answer[:120])
    head_answer = raw_exchange(sagemaker_server, b"HEAD /ping HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert head_answer.startswith(b"HTTP/1.1 200") and head_answer.endswith(b"\r\n\r\n")
    # 100-continue: the server invites the body instead of making the client wait.
    head = b"POST /invocations HTTP/1.1\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
    first = raw_exchange(
        sagemaker_server, head + b"Content-Length: %d\r\n\r\n" % len(body), read_until_close=False
    )
    assert first.startswith(b"HTTP/1.1 100 Continue")
    # The server still answers after all of that.
    assert post(sagemaker_server, "/invocations", body, "application/json")[0] == 200


# ---- Vertex contract -----------------------------------------------------------------------


def test_vertex_routes_from_env_and_instances_contract(
    vertex_server: str, model_dir: Path, valid_listing: dict
) -> None:
    u = urlparse(vertex_server)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request("GET", "/v1/health")
    assert conn.getresponse().status == 200
    conn.close()
    body = json.dumps({"instances": [valid_listing] * 3}).encode()
    status, out, _ = post(vertex_server, "/v1/models/house:predict", body, "application/json")
    assert status == 200
    assert out["predictions"] == Predictor(model_dir).predict([valid_listing] * 3)
    assert (
        post(
            vertex_server, "/v1/models/house:predict", json.dumps(valid_listing).encode(), "application/json"
        )[0]
        == 400
    )
    assert post(vertex_server, "/v1/models/house:predict", b"a,b", "text/csv")[0] == 415
    assert post(vertex_server, "/predict", body, "application/json")[0] == 404


def test_vertex_bad_request_corpus_all_4xx(vertex_server: str, bad_request_corpus) -> None:
    for name, body, ctype in bad_request_corpus:
        status, out, _ = post(vertex_server, "/v1/models/house:predict", body, ctype)
        assert 400 <= status < 500, (name, status, out)


# ---- Azure ML contract (custom container) -----------------------------------------------------------------------


def test_azureml_contract_loads_the_model_from_azureml_model_dir(
    model_dir: Path, tmp_path: Path, valid_listing: dict, serve_process
) -> None:
    """Azure ML mounts the registered folder one level under AZUREML_MODEL_DIR and sets no MODEL_DIR."""
    start_server, stop_server = serve_process
    mount = tmp_path / "var" / "azureml-app" / "azureml-models" / "house-price" / "1"
    shutil.copytree(model_dir, mount / "latest")
    proc, port = start_server(["azureml"], {"AZUREML_MODEL_DIR": str(mount), "MODEL_DIR": ""})
    try:
        base = f"http://127.0.0.1:{port}"
        body = json.dumps({"instances": [valid_listing]}).encode()
        status, out, headers = post(base, AZUREML.predict_route, body, "application/json")
        assert status == 200, out
        assert out["predictions"] == Predictor(model_dir).predict([valid_listing])
        assert out["model_version"] == headers["x-model-version"] == Predictor(model_dir).version
    finally:
        stop_server(proc)


def test_azureml_contract_without_its_mount_is_one_line_exit_2(tmp_path: Path) -> None:
    import subprocess
    import sys

    env = {"PATH": "/usr/bin:/bin", "AZUREML_MODEL_DIR": str(tmp_path / "nothing")}
    out = subprocess.run(
        [sys.executable, "-m", "app.serve", "azureml", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"cannot load model (azureml contract): no model artifact (metadata.json) in model dir {str(tmp_path / 'nothing')!r}"
    ]


def test_every_server_answer_names_the_model_version(sagemaker_server: str, model_dir: Path) -> None:
    version = Predictor(model_dir).version
    for path, method in (("/nope", "GET"), ("/invocations", "GET"), ("/ping", "POST")):
        u = urlparse(sagemaker_server)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        conn.request(method, path)
        resp = conn.getresponse()
        out = strict_json(resp.read())
        conn.close()
        assert resp.status in (404, 405), (path, method)
        assert out["model_version"] == version == resp.getheader("X-Model-Version"), (path, out)


def test_non_finite_numbers_are_field_errors_in_valid_json(
    sagemaker_server: str, valid_listing: dict
) -> None:
    body = json.dumps({**valid_listing, "area_sqft": "__x__"}).encode().replace(b'"__x__"', b"1e400")
    status, out, _ = post(sagemaker_server, "/invocations", body, "application/json")
    assert status == 400
    assert out["errors"] == [
        {"row": 0, "field": "area_sqft", "value": "1e400", "error": "must be a number", "code": "wrong_type"}
    ]


# ---- contract detection (the image's entry point) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, SAGEMAKER),
        ({"SAGEMAKER_BIND_TO_PORT": "8080"}, SAGEMAKER),
        ({"AZUREML_MODEL_DIR": "/var/azureml-app/azureml-models/m/1"}, AZUREML),
        ({"AIP_MODE": "PREDICTION", "AIP_HTTP_PORT": "8080"}, VERTEX),
        ({"AIP_STORAGE_URI": "gs://b/m"}, VERTEX),
        ({"AZUREML_MODEL_DIR": "", "MODEL_DIR": "/models"}, SAGEMAKER),
    ],
)
def test_the_platform_environment_picks_the_contract(env: dict[str, str], expected) -> None:
    assert detect(env) is expected


def test_vertex_routes_come_from_the_aip_variables() -> None:
    env = {
        "AIP_HTTP_PORT": "7070",
        "AIP_HEALTH_ROUTE": "/h",
        "AIP_PREDICT_ROUTE": "/v1/endpoints/1/deployedModels/2:predict",
    }
    assert VERTEX.routes(env) == ("/h", "/v1/endpoints/1/deployedModels/2:predict", 7070)
    assert VERTEX.routes({}) == ("/health", "/predict", 8080)
    assert SAGEMAKER.routes({"SAGEMAKER_BIND_TO_PORT": "9090"}) == ("/ping", "/invocations", 9090)

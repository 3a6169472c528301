"""The Cloud Function's source archive, built by the component's function, under the functions-framework CLI.

Its venv holds exactly the archive's requirements.txt on the function's runtime Python (python312); the function
reaches the Vertex-contract model server through the Vertex API stand-in, with a token google-auth gets from a
loopback metadata server, as on Cloud Run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hosts_support import LISTING, expected_prices, metadata_of

from app.serve.contracts import VERTEX
from components.api_frontend.package import GCP_ENTRY_POINT, GCP_RUNTIME, cloud_function_source
from tricloud.emulate.hosts.gcp_apis import DeployedModel, GcsEmulator, MetadataServer, VertexApi
from tricloud.emulate.hosts.platform import audit_lines_wait
from tricloud.emulate.hosts.runtimes import CloudFunction, ImageContainer
from tricloud.emulate.hosts.venvs import installed
from tricloud.emulate.hosts.web import call

PROJECT, REGION, ENDPOINT = "tricloud-demo", "asia-south1", "5095310933"


@pytest.fixture(scope="module")
def vertex(
    image: ImageContainer, model: Path, gcs: GcsEmulator, metadata: MetadataServer
) -> Iterator[VertexApi]:
    gcs.create_bucket("artifacts")
    for f in model.iterdir():
        gcs.upload("artifacts", f"models/latest/{f.name}", f.read_bytes())
    env = {
        "AIP_MODE": "PREDICTION",
        "AIP_PREDICT_ROUTE": VERTEX.predict_route,
        "AIP_HEALTH_ROUTE": VERTEX.health_route,
        "AIP_STORAGE_URI": "gs://artifacts/models/latest",
        "STORAGE_EMULATOR_HOST": gcs.url,
    }
    proc, url, _ = image.serve(env)
    api = VertexApi(PROJECT, REGION, metadata.token)
    api.deploy(DeployedModel(ENDPOINT, "42", "7", "tricloud", url, VERTEX.predict_route))
    yield api
    api.close()
    proc.stop()


@pytest.fixture(scope="module")
def function(
    tmp_path_factory: pytest.TempPathFactory, extract, vertex: VertexApi, metadata: MetadataServer
) -> Iterator[CloudFunction]:
    tmp_path = tmp_path_factory.mktemp("cloud-function")
    source = extract(cloud_function_source().archive, tmp_path / "source")
    env = {
        "VERTEX_ENDPOINT_ID": ENDPOINT,
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "VERTEX_REGION": REGION,
        "ENDPOINT_TIMEOUT_MS": "2000",
        "ENDPOINT_MAX_ATTEMPTS": "2",
        "FALLBACK_ENABLED": "true",
        "LOG_LEVEL": "INFO",
        "VERTEX_API_ENDPOINT": vertex.url,
        **metadata.env(),
    }
    fn = CloudFunction(
        source,
        entry_point=GCP_ENTRY_POINT,
        runtime=GCP_RUNTIME,
        name="tricloud-api",
        env=env,
        workdir=tmp_path,
    )
    yield fn
    fn.close()


def test_the_venv_holds_the_archive_requirements_on_python_312(function: CloudFunction) -> None:
    assert function.venv.interpreter.version == "3.12"
    names = installed(function.venv)
    assert {"functions-framework", "google-auth", "requests"} <= names
    for absent in ("numpy", "pandas", "scikit-learn", "boto3", "azure-functions"):
        assert absent not in names, absent


def test_a_model_prediction_through_the_function(
    function: CloudFunction, vertex: VertexApi, metadata: MetadataServer, model: Path
) -> None:
    """Finding: without `requests` in the source's requirements every real call fell back to the rule."""
    vertex.calls.clear()
    status, headers, body = call(f"{function.url}/predict", {"instances": [LISTING, LISTING]})
    assert status == 200, body
    assert body["fallback"] is False
    assert body["predictions"] == expected_prices(model, [LISTING, LISTING])
    # Finding: through Vertex the model version was lost; rawPredict keeps the container's answer whole.
    assert body["model_version"] == metadata_of(model)["version"]
    assert vertex.calls == [("rawPredict", 200)]
    # google-auth found the metadata server and fetched the service account's token.
    assert "/computeMetadata/v1/instance/service-accounts/default/token" in metadata.requests
    assert headers["cache-control"] == "no-store"


def test_the_audit_line_reaches_the_function_log(function: CloudFunction) -> None:
    """Finding: under functions-framework the INFO audit line had no handler and vanished."""
    status, _, body = call(f"{function.url}/predict", {"instances": [LISTING]})
    assert status == 200
    (line,) = audit_lines_wait(function.proc, 1, request_ids={body["request_id"]})
    assert line["severity"] == "INFO" and line["request_id"] == body["request_id"]
    assert (line["fallback"], line["model_version"], line["rows"]) == (False, body["model_version"], 1)
    assert "Mumbai" not in json.dumps(line)  # counts and outcomes only, never the listing


def test_routes_are_exact_and_errors_are_json(function: CloudFunction) -> None:
    """Finding: POST /anything/predict answered 200."""
    status, _, body = call(f"{function.url}/anything/predict", {"instances": [LISTING]})
    assert status == 404 and body["message"].startswith("no route POST /anything/predict")
    status, headers, body = call(f"{function.url}/predict", method="GET")
    assert status == 405 and headers["allow"] == "POST" and "use POST" in body["message"]
    assert call(f"{function.url}/health")[0] == 200
    # Finding: 1e400 came back as Infinity; call() parses strictly, so an Infinity would fail here.
    raw = json.dumps({**LISTING, "area_sqft": "__x__"}).replace('"__x__"', "1e400").encode()
    status, _, body = call(f"{function.url}/predict", raw=raw)
    assert status == 400
    assert {"field": "area_sqft", "value": "1e400"}.items() <= body["errors"][0].items()


def test_an_endpoint_outage_answers_with_the_rule(function: CloudFunction, vertex: VertexApi) -> None:
    vertex.calls.clear()
    vertex.outage = True
    try:
        status, _, body = call(f"{function.url}/predict", {"instances": [LISTING]})
    finally:
        vertex.outage = False
    assert status == 200 and body["fallback"] is True and body["model_version"] == "rules-v1"
    assert vertex.calls == [("rawPredict", 503), ("rawPredict", 503)]  # ENDPOINT_MAX_ATTEMPTS=2

"""The Function App package, built by the component's function, under the Azure Functions Python worker.

The worker (azure-functions-runtime) indexes `function_app.py` and invokes the functions; its venv holds the worker
only, so the app's own dependencies must come from the package's `.python_packages`, as on a run-from-package app.
The function calls the image (started as Azure ML starts it) through a key-authenticated scoring URI.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hosts_support import LISTING, expected_prices, metadata_of

from app.serve.contracts import AZUREML
from components.api_frontend.package import (
    AZURE_PACKAGES_DIR,
    AZURE_PYTHON,
    function_app_package,
)
from tricloud.emulate.hosts.azure_apis import AzureMlEndpoint, Deployment
from tricloud.emulate.hosts.platform import audit_lines_wait
from tricloud.emulate.hosts.runtimes import AzureFunctionsHost, ImageContainer
from tricloud.emulate.hosts.venvs import installed
from tricloud.emulate.hosts.web import call

SETTINGS = {
    "FUNCTIONS_EXTENSION_VERSION": "~4",
    "FUNCTIONS_WORKER_RUNTIME": "python",
    "AzureWebJobsFeatureFlags": "EnableWorkerIndexing",
    "ENDPOINT_TIMEOUT_MS": "2000",
    "ENDPOINT_MAX_ATTEMPTS": "2",
    "FALLBACK_ENABLED": "true",
    "LOG_LEVEL": "INFO",
    "AzureFunctionsJobHost__functionTimeout": "00:00:10",
}


@pytest.fixture(scope="module")
def endpoint(
    image: ImageContainer, model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AzureMlEndpoint]:
    mount = tmp_path_factory.mktemp("azureml") / "azureml-models" / "tricloud-azure-dev-model" / "1"
    shutil.copytree(model, mount / "latest")
    proc, url, _ = image.serve({"AZUREML_MODEL_DIR": str(mount)})
    ep = AzureMlEndpoint("tricloud-azure-dev-endpoint")
    ep.deploy(Deployment("blue", url, AZUREML.health_route, AZUREML.predict_route))
    yield ep
    ep.close()
    proc.stop()


@pytest.fixture(scope="module")
def host(
    tmp_path_factory: pytest.TempPathFactory, extract, endpoint: AzureMlEndpoint
) -> Iterator[AzureFunctionsHost]:
    root = extract(function_app_package().archive, tmp_path_factory.mktemp("function-app") / "wwwroot")
    settings = {
        **SETTINGS,
        "AZUREML_ENDPOINT_URL": endpoint.scoring_uri,
        "AZUREML_ENDPOINT_KEY": endpoint.key,
    }
    fn_host = AzureFunctionsHost(root, linux_fx_version=f"Python|{AZURE_PYTHON}", app_settings=settings)
    yield fn_host
    fn_host.close()


def predict(host: AzureFunctionsHost, payload: object, **kw: object) -> tuple[int, dict, object]:
    return call(f"{host.url}/api/predict", payload, headers={"x-functions-key": host.function_key}, **kw)


def test_the_package_zip_carries_its_dependencies(tmp_path: Path) -> None:
    """Finding: the zip had no requirements.txt and no .python_packages; a run-from-package app builds nothing."""
    from tricloud.engine.archive import build_zip

    data = build_zip(function_app_package().archive).data
    (tmp_path / "f.zip").write_bytes(data)
    names = set(zipfile.ZipFile(tmp_path / "f.zip").namelist())
    assert {"function_app.py", "host.json", "requirements.txt"} <= names
    assert f"{AZURE_PACKAGES_DIR}/azure/functions/__init__.py" in names
    assert any(n.startswith(f"{AZURE_PACKAGES_DIR}/werkzeug/") for n in names)  # azure-functions' dependency
    assert not any(n.startswith(("app/serve/", "app/train/", "app/features/")) for n in names)


def test_the_worker_indexes_the_package_and_its_venv_has_no_app_dependency(host: AzureFunctionsHost) -> None:
    assert host.venv.interpreter.version == AZURE_PYTHON
    names = installed(host.venv)
    assert "azure-functions-runtime" in names
    assert "azure-functions" not in names  # it must come from the package's .python_packages
    assert host.functions == (
        "predict (any /api/predict), health_check (any /api/health), unknown_route (any /api/{*path})"
    )


def test_a_model_prediction_through_the_function(
    host: AzureFunctionsHost, endpoint: AzureMlEndpoint, model: Path
) -> None:
    endpoint.calls.clear()
    status, _, body = predict(host, {"instances": [LISTING, LISTING]})
    assert status == 200, body
    assert body["fallback"] is False
    assert body["predictions"] == expected_prices(model, [LISTING, LISTING])
    assert body["model_version"] == metadata_of(model)["version"]
    assert endpoint.calls == [200]


def test_auth_levels_and_routes(host: AzureFunctionsHost) -> None:
    assert call(f"{host.url}/api/predict", {"instances": [LISTING]})[0] == 401  # FUNCTION level: key required
    assert call(f"{host.url}/api/health")[0] == 200  # ANONYMOUS
    status, headers, body = predict(host, None, method="GET")
    assert (
        status == 405 and headers["allow"] == "POST" and body["message"].startswith("method GET not allowed")
    )
    status, _, body = call(f"{host.url}/api/anything/predict", headers={"x-functions-key": host.function_key})
    assert status == 404 and body["message"].startswith("no route GET /anything/predict")


def test_error_bodies_are_valid_json(host: AzureFunctionsHost) -> None:
    raw = json.dumps({**LISTING, "age_years": "__x__"}).replace('"__x__"', "-Infinity").encode()
    status, _, body = predict(host, None, raw=raw)
    assert status == 400
    assert {"field": "age_years", "value": "-Infinity", "code": "wrong_type"}.items() <= body["errors"][
        0
    ].items()


def test_the_audit_line_reaches_the_host_log_and_the_fallback_answers(
    host: AzureFunctionsHost, endpoint: AzureMlEndpoint
) -> None:
    endpoint.calls.clear()
    status, _, first = predict(host, {"instances": [LISTING]})
    endpoint.outage = True
    try:
        status, _, second = predict(host, {"instances": [LISTING]})
    finally:
        endpoint.outage = False
    assert status == 200 and second["fallback"] is True and second["model_version"] == "rules-v1"
    assert endpoint.calls == [200, 503, 503]
    ids = {first["request_id"], second["request_id"]}
    lines = audit_lines_wait(host.proc, 2, request_ids=ids)
    assert [(a["request_id"], a["fallback"]) for a in lines] == [
        (first["request_id"], False),
        (second["request_id"], True),
    ]
    assert lines[1]["error_kind"] == "http_503"

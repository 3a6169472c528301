"""The image (app/Dockerfile) in a clean venv of its own dependency set, started as each cloud starts it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hosts_support import LISTING, expected_prices, metadata_of

from app.serve.contracts import AZUREML, SAGEMAKER
from tricloud.emulate.hosts.gcp_apis import GcsEmulator, MetadataServer
from tricloud.emulate.hosts.processes import ProcessError
from tricloud.emulate.hosts.runtimes import ImageContainer, dockerfile_env, dockerfile_python
from tricloud.emulate.hosts.venvs import image_requirements, installed
from tricloud.emulate.hosts.web import call


def test_image_venv_holds_only_the_dockerfile_dependency_set(image: ImageContainer) -> None:
    assert image.interpreter.version == dockerfile_python() == "3.11"
    names = installed(image.venv)
    declared = {r.split(">")[0].split("=")[0].split("<")[0].strip().lower() for r in image_requirements()}
    assert declared <= names
    # Nothing of the other artifacts or the toolkit: no Google or Azure library, no web framework, no Pulumi.
    for absent in (
        "google-auth",
        "azure-functions",
        "functions-framework",
        "flask",
        "pulumi",
        "pyspark",
        "requests",
    ):
        assert absent not in names, absent
    assert dockerfile_env()["OMP_NUM_THREADS"] == "1"


def serve_and_predict(image: ImageContainer, env: dict[str, str], route: str) -> tuple[str, dict]:
    proc, url, ready = image.serve(env)
    try:
        status, headers, body = call(url + route, {"instances": [LISTING]})
        assert status == 200, body
        assert headers["x-model-version"] == body["model_version"]
        return ready, body
    finally:
        proc.stop()


def test_sagemaker_starts_the_image_with_serve_and_the_model_in_opt_ml(
    image: ImageContainer, model: Path
) -> None:
    ready, body = serve_and_predict(image, {"MODEL_DIR": str(model)}, SAGEMAKER.predict_route)
    assert ready.startswith("serving sagemaker model ")
    assert body["model_version"] == metadata_of(model)["version"]
    assert body["predictions"] == expected_prices(model, [LISTING])


def test_azureml_starts_the_image_with_its_model_mount(
    image: ImageContainer, model: Path, tmp_path: Path
) -> None:
    """Finding: the image served the SageMaker contract and exited 2 "cannot load model" under Azure ML."""
    mount = tmp_path / "var" / "azureml-app" / "azureml-models" / "tricloud-azure-dev-model" / "1"
    shutil.copytree(model, mount / "latest")
    ready, body = serve_and_predict(image, {"AZUREML_MODEL_DIR": str(mount)}, AZUREML.predict_route)
    assert ready.startswith("serving azureml model ")
    assert body["model_version"] == metadata_of(model)["version"]


def test_vertex_starts_the_image_with_aip_variables_and_a_gs_model(
    image: ImageContainer, model: Path, gcs: GcsEmulator, metadata: MetadataServer
) -> None:
    """Finding: the default server was the SageMaker contract, which exits under Vertex's environment."""
    gcs.create_bucket("vertex-models")
    for f in model.iterdir():
        gcs.upload("vertex-models", f"models/7/{f.name}", f.read_bytes())
    env = {
        "AIP_MODE": "PREDICTION",
        "AIP_HTTP_PORT": "8080",
        "AIP_HEALTH_ROUTE": "/v1/endpoints/1/deployedModels/7",
        "AIP_PREDICT_ROUTE": "/v1/endpoints/1/deployedModels/7:predict",
        "AIP_STORAGE_URI": "gs://vertex-models/models/7",
        "STORAGE_EMULATOR_HOST": gcs.url,
        **metadata.env(),
    }
    ready, body = serve_and_predict(image, env, env["AIP_PREDICT_ROUTE"])
    assert ready.startswith("serving vertex model ")
    assert body["model_version"] == metadata_of(model)["version"]


def test_vertex_without_credentials_is_one_line_exit_2(image: ImageContainer) -> None:
    """Finding: with no google-auth in the image, the download died with an ImportError traceback."""
    env = {
        "AIP_MODE": "PREDICTION",
        "AIP_STORAGE_URI": "gs://vertex-models/models/7",
        "GCE_METADATA_HOST": "127.0.0.1:9",  # nothing listens: no metadata server, no token
    }
    with pytest.raises(ProcessError) as failed:
        image.serve(env)
    text = str(failed.value)
    assert "exited with status 2" in text
    assert "cannot load model (vertex contract): no access token from the metadata server 127.0.0.1:9" in text
    assert "Traceback" not in text


def test_train_runs_with_the_azure_ml_job_arguments(image: ImageContainer, tmp_path: Path) -> None:
    from app.data import generate, write_listings

    data = write_listings(generate(600, seed=5), tmp_path / "inputs" / "training_data" / "listings.csv")
    out = tmp_path / "outputs" / "model"
    summary = json.loads(
        image.train(["--train-data", str(data), "--model-output", str(out), "--hp", "max_iter=20"], {})
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "metadata.json",
        "metrics.json",
        "model.joblib",
        "reference.json",
        "schema.json",
    ]
    assert summary["version"] == metadata_of(out)["version"]

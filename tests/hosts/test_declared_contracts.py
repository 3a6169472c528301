"""What the components and the docs tell each cloud to start matches what the image serves (app/serve/contracts.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.serve.contracts import AZUREML, VERTEX
from tricloud.inventory import build_inventory

REPO = Path(__file__).resolve().parents[2]


def test_the_azure_ml_environment_routes_are_the_images() -> None:
    inv = build_inventory("azure")
    environments = [
        r for r in inv["resources"] if r["type"].endswith("machinelearningservices:EnvironmentVersion")
    ]
    # the serving image's environment is the one with an inference config (the drift job's environment has none)
    (env,) = [r for r in environments if "inferenceConfig" in r["inputs"]["properties"]]
    config = env["inputs"]["properties"]["inferenceConfig"]
    assert config["scoringRoute"] == {"path": AZUREML.predict_route, "port": AZUREML.port}
    assert (
        config["readinessRoute"]
        == config["livenessRoute"]
        == {"path": AZUREML.health_route, "port": AZUREML.port}
    )


def test_the_registered_vertex_model_starts_the_images_server_on_its_routes() -> None:
    """`tricloud model register gcp` uploads this container spec: the routes and port of the Vertex contract, and
    arguments the image's entry point accepts (an unknown command exits 2: the model would crash-loop)."""
    from google.cloud import aiplatform_v1 as v1

    from app.container import main as entry_point
    from tricloud.model.gcp import serving_container

    spec = serving_container(v1, "asia-south1-docker.pkg.dev/p/r/tricloud:abc")
    assert (spec.predict_route, spec.health_route) == (VERTEX.predict_route, VERTEX.health_route)
    assert [p.container_port for p in spec.ports] == [VERTEX.port]
    with pytest.raises(
        SystemExit
    ) as help_exit:  # parsed up to the server's own --help: the arguments are valid
        entry_point([*spec.args, "--help"])
    assert help_exit.value.code == 0

"""What the components and the docs tell each cloud to start matches what the image serves (app/serve/contracts.py)."""

from __future__ import annotations

import re
from pathlib import Path

from app.serve.contracts import AZUREML, VERTEX
from tricloud.inventory import build_inventory

REPO = Path(__file__).resolve().parents[2]


def test_the_azure_ml_environment_routes_are_the_images() -> None:
    inv = build_inventory("azure")
    (env,) = [r for r in inv["resources"] if r["type"].endswith("machinelearningservices:EnvironmentVersion")]
    config = env["inputs"]["properties"]["inferenceConfig"]
    assert config["scoringRoute"] == {"path": AZUREML.predict_route, "port": AZUREML.port}
    assert (
        config["readinessRoute"]
        == config["livenessRoute"]
        == {"path": AZUREML.health_route, "port": AZUREML.port}
    )


def test_the_documented_vertex_upload_uses_the_images_routes() -> None:
    text = REPO.joinpath("docs", "gcp.md").read_text()
    upload = text[text.index("gcloud ai models upload") :].split("\n\n")[0]
    flags = dict(re.findall(r"--(container-[a-z-]+) (\S+)", upload))
    flags.pop("container-image-uri")
    assert flags == {
        "container-args": "serve",
        "container-ports": str(VERTEX.port),
        "container-predict-route": VERTEX.predict_route,
        "container-health-route": VERTEX.health_route,
    }

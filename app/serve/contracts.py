"""The three serving contracts of the one image: what each cloud starts, where it mounts the model, which routes.

One table, read by the image's entry point (``app.container serve`` picks the contract from the environment the
cloud sets), by the server (``python -m app.serve``), by the components (Azure ML's inference routes, the Vertex
container spec) and by the offline hosts, so the four cannot drift apart. Stdlib only: components import it.

- SageMaker runs ``<image> serve``; the model is extracted to ``/opt/ml/model``; ``GET /ping``,
  ``POST /invocations`` on 8080 (``SAGEMAKER_BIND_TO_PORT`` may move it).
- Azure ML (custom container): the image's own entry point; Azure ML sets ``AZUREML_MODEL_DIR`` to
  ``/var/azureml-app/azureml-models/<model>/<version>`` with the registered folder one level down, and sends
  traffic to the routes the environment's ``inference_config`` declares (these, on 8080).
- Vertex AI (custom container): the image's own entry point; Vertex sets ``AIP_MODE=PREDICTION``,
  ``AIP_HTTP_PORT``, ``AIP_HEALTH_ROUTE``, ``AIP_PREDICT_ROUTE`` and ``AIP_STORAGE_URI`` (a gs:// copy of the
  model's artifact folder, which the container downloads itself).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Contract:
    name: str
    port: int  # where the platform sends traffic unless its port variable says otherwise
    port_env: str | None  # the platform's variable for the port
    health_route: str
    predict_route: str
    model_dir_env: str | None  # the platform's variable naming the mounted model folder
    default_model_dir: str | None  # the fixed mount path when the platform sets no variable
    max_body_bytes: int  # the platform's own request limit, mirrored so local runs refuse the same bodies
    detect_env: tuple[str, ...]  # any of these set in the environment means this platform started the image

    def routes(self, env: Mapping[str, str] | None = None) -> tuple[str, str, int]:
        """(health route, predict route, port) as this platform's environment sets them."""
        env = os.environ if env is None else env
        if self.name == VERTEX.name:
            health = env.get("AIP_HEALTH_ROUTE") or self.health_route
            predict = env.get("AIP_PREDICT_ROUTE") or self.predict_route
        else:
            health, predict = self.health_route, self.predict_route
        raw_port = env.get(self.port_env) if self.port_env else None
        return health, predict, int(raw_port) if raw_port else self.port


SAGEMAKER = Contract(
    name="sagemaker",
    port=8080,
    port_env="SAGEMAKER_BIND_TO_PORT",
    health_route="/ping",
    predict_route="/invocations",
    model_dir_env=None,
    default_model_dir="/opt/ml/model",
    max_body_bytes=6 * 1024 * 1024,  # InvokeEndpoint's payload limit
    detect_env=(),
)
AZUREML = Contract(
    name="azureml",
    port=8080,
    port_env=None,
    health_route="/ping",
    predict_route="/invocations",
    model_dir_env="AZUREML_MODEL_DIR",
    default_model_dir=None,
    max_body_bytes=6 * 1024 * 1024,  # well under the endpoint's own limit; a listing batch is far smaller
    detect_env=("AZUREML_MODEL_DIR",),
)
VERTEX = Contract(
    name="vertex",
    port=8080,
    port_env="AIP_HTTP_PORT",
    health_route="/health",
    predict_route="/predict",
    model_dir_env=None,  # the model comes from AIP_STORAGE_URI (downloaded), not a mount
    default_model_dir=None,
    max_body_bytes=1_500_000,  # Vertex online prediction refuses larger requests
    detect_env=("AIP_MODE", "AIP_HTTP_PORT", "AIP_PREDICT_ROUTE", "AIP_STORAGE_URI"),
)
CONTRACTS: dict[str, Contract] = {c.name: c for c in (SAGEMAKER, AZUREML, VERTEX)}


def detect(env: Mapping[str, str] | None = None) -> Contract:
    """The contract of the platform that started the image: Vertex, then Azure ML, else SageMaker."""
    env = os.environ if env is None else env
    for contract in (VERTEX, AZUREML):
        if any(env.get(name) for name in contract.detect_env):
            return contract
    return SAGEMAKER

"""``python -m app.serve sagemaker|azureml|vertex [--host H] [--port P] [--model-dir D]``.

The contract decides the routes, the body limit and where the model is (``app.serve.contracts``): SageMaker's
``/opt/ml/model``, Azure ML's ``AZUREML_MODEL_DIR`` mount, Vertex's ``AIP_STORAGE_URI`` (downloaded). Binds
127.0.0.1 by default so a local run is not reachable from the network; the image's entry point passes
``--host 0.0.0.0`` because the clouds reach the container through its network interface, not its loopback.
A model that cannot be loaded is one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
from pathlib import Path

from app.serve import sagemaker, vertex
from app.serve.contracts import CONTRACTS, VERTEX, Contract
from app.serve.http import serve_forever
from app.serve.predictor import ModelLoadError, Predictor
from app.serve.service import InferenceService, refuse, to_response
from app.serve.storage import StorageError


def model_location(contract: Contract, model_dir: str | None, env: dict[str, str]) -> str | None:
    """``--model-dir``, else MODEL_DIR, else the contract's mount (Azure ML's variable, SageMaker's path).

    None for Vertex without either: the model is downloaded from AIP_STORAGE_URI.
    """
    if model_dir or env.get("MODEL_DIR"):
        return model_dir or env["MODEL_DIR"]
    if contract.model_dir_env:
        value = env.get(contract.model_dir_env)
        if not value:
            raise ModelLoadError(
                f"{contract.model_dir_env} is not set: {contract.name} mounts the model there"
            )
        return value
    return contract.default_model_dir


def load(contract: Contract, model_dir: str | None, env: dict[str, str]) -> InferenceService:
    location = model_location(contract, model_dir, env)
    if location is None and contract is VERTEX:
        uri = env.get("AIP_STORAGE_URI")
        if not uri:
            raise ModelLoadError("AIP_STORAGE_URI is not set: upload the model with --artifact-uri")
        from app.serve.storage import download_folder

        location = str(download_folder(uri, Path(tempfile.mkdtemp(prefix="model-"))))
    return InferenceService(Predictor(location))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.serve", description=__doc__.split("\n")[0])
    parser.add_argument("contract", choices=sorted(CONTRACTS))
    parser.add_argument("--host", default="127.0.0.1", help="bind address (container: 0.0.0.0)")
    parser.add_argument(
        "--port", type=int, default=None, help="default: the contract's port variable, else 8080"
    )
    parser.add_argument(
        "--model-dir", default=None, help="default: MODEL_DIR, else the contract's model location"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(message)s"
    )
    contract = CONTRACTS[args.contract]
    env = dict(os.environ)
    try:
        service = load(contract, args.model_dir, env)
    except (ModelLoadError, StorageError, OSError, ValueError) as exc:
        print(f"cannot load model ({contract.name} contract): {exc}", file=sys.stderr)
        return 2
    health, predict, env_port = contract.routes(env)
    port = args.port if args.port is not None else env_port
    if contract is VERTEX:
        handler = vertex.make_handler(service, health, predict)
    else:
        handler = sagemaker.make_handler(service, health, predict)

    def ready(bound: int) -> None:
        # One parseable line: tests, the offline hosts and the benchmark wait for it to learn the port.
        print(f"serving {contract.name} model {service.version} on http://{args.host}:{bound}", flush=True)

    def refusal(status: int, message: str):
        # The server's own refusals (framing, limits, timeouts) name the model version like every other answer.
        return to_response(refuse(status, message), service.version)

    asyncio.run(
        serve_forever(
            handler,
            args.host,
            port,
            max_body_bytes=contract.max_body_bytes,
            on_ready=ready,
            refusal=refusal,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

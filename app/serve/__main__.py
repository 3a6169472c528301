"""``python -m app.serve sagemaker|vertex [--host H] [--port P] [--model-dir D]``.

Binds 127.0.0.1 by default so a local run is not reachable from the network; the container
passes ``--host 0.0.0.0`` because SageMaker and Vertex reach it through the container's
network interface, not its loopback.
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
from app.serve.http import serve_forever
from app.serve.predictor import ModelLoadError, Predictor
from app.serve.service import InferenceService


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.serve", description=__doc__.split("\n")[0])
    parser.add_argument("contract", choices=["sagemaker", "vertex"])
    parser.add_argument("--host", default="127.0.0.1", help="bind address (container: 0.0.0.0)")
    parser.add_argument(
        "--port", type=int, default=None, help="default: SAGEMAKER_BIND_TO_PORT / AIP_HTTP_PORT / 8080"
    )
    parser.add_argument(
        "--model-dir",
        default=None,
        help="default: MODEL_DIR, Vertex AIP_STORAGE_URI (downloaded), /opt/ml/model",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(message)s"
    )
    model_dir = args.model_dir
    storage_uri = os.environ.get("AIP_STORAGE_URI")
    try:
        if args.contract == "vertex" and not model_dir and not os.environ.get("MODEL_DIR") and storage_uri:
            from app.serve.storage import download_folder

            model_dir = str(download_folder(storage_uri, Path(tempfile.mkdtemp(prefix="model-"))))
        service = InferenceService(Predictor(model_dir))
    except (ModelLoadError, OSError, ValueError) as exc:
        print(f"cannot load model: {exc}", file=sys.stderr)
        return 2
    if args.contract == "sagemaker":
        port = (
            args.port
            if args.port is not None
            else int(os.environ.get("SAGEMAKER_BIND_TO_PORT") or sagemaker.DEFAULT_PORT)
        )
        handler, limit = sagemaker.make_handler(service), sagemaker.MAX_BODY_BYTES
    else:
        health, predict, env_port = vertex.routes()
        port = args.port if args.port is not None else env_port
        handler, limit = vertex.make_handler(service, health, predict), vertex.MAX_BODY_BYTES

    def ready(bound: int) -> None:
        # One parseable line: tests and the benchmark wait for it to learn the port.
        print(f"serving {args.contract} model {service.version} on http://{args.host}:{bound}", flush=True)

    asyncio.run(serve_forever(handler, args.host, port, max_body_bytes=limit, on_ready=ready))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

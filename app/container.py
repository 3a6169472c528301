"""The image's entry point: ``train`` or ``serve`` (the default), one image for three clouds.

``serve`` picks the serving contract from the environment the platform sets (``app.serve.contracts.detect``):
Vertex AI sets ``AIP_*`` variables, Azure ML sets ``AZUREML_MODEL_DIR``, SageMaker runs ``<image> serve`` with
neither. ``--contract`` forces one. Extra arguments go to ``python -m app.serve`` (``--port``, ``--model-dir``,
``--host``); ``train`` passes its arguments to ``python -m app.train``.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command, rest = (args[0], args[1:]) if args else ("serve", [])
    if command == "train":
        from app.train.__main__ import main as train_main

        return train_main(rest)
    if command == "serve":
        from app.serve.__main__ import main as serve_main
        from app.serve.contracts import CONTRACTS, detect

        contract = detect(os.environ).name
        if rest[:1] == ["--contract"] or (rest and rest[0].startswith("--contract=")):
            value = rest[1] if rest[0] == "--contract" and len(rest) > 1 else rest[0].partition("=")[2]
            rest = rest[2:] if rest[0] == "--contract" else rest[1:]
            if value not in CONTRACTS:
                print(
                    f"unknown contract {value!r}; use one of {', '.join(sorted(CONTRACTS))}", file=sys.stderr
                )
                return 2
            contract = value
        # 0.0.0.0 inside the container: the platform reaches it through the container's interface.
        return serve_main([contract, "--host", "0.0.0.0", *rest])
    print(f"unknown command {command!r}; use train or serve", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())

"""Container entry point for the SageMaker bring-your-own-container contract.

SageMaker runs the image as ``<image> train`` for training jobs and ``<image> serve`` for
endpoints. Vertex AI (custom container) can run the same image with ``serve-vertex``.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command, rest = (args[0], args[1:]) if args else ("serve", [])
    if command == "train":
        from app.train.__main__ import main as train_main

        return train_main(rest)
    if command in ("serve", "serve-vertex"):
        from app.serve.__main__ import main as serve_main

        contract = "sagemaker" if command == "serve" else "vertex"
        # 0.0.0.0 inside the container: the platform reaches it through the container's interface.
        return serve_main([contract, "--host", "0.0.0.0", *rest])
    print(f"unknown command {command!r}; use train, serve or serve-vertex", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m app.train``: one entry point for three training contracts.

Resolution order (first found wins) for the training data and the model folder:
1. arguments ``--train-data PATH --model-output PATH`` (Azure ML command job; also for local runs)
2. Vertex AI custom job: ``AIP_TRAINING_DATA_URI``, ``AIP_MODEL_DIR`` (gs:// is read through the
   Cloud Storage FUSE mount at /gcs/, as Vertex provides it)
3. SageMaker: ``SM_CHANNEL_TRAIN``, ``SM_MODEL_DIR``, ``SM_OUTPUT_DATA_DIR``, else the folders under
   the SageMaker root (``/opt/ml``, overridable with ``--sm-root`` or ``TRICLOUD_SM_ROOT``)
Hyperparameters: ``SM_HPS`` (JSON) and/or ``<root>/input/config/hyperparameters.json``, then
``--hp name=value`` arguments; values may be strings, as SageMaker sends them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from app.train.core import Hyperparameters, train

DEFAULT_SM_ROOT = "/opt/ml"


def _local_path(uri: str) -> Path:
    if uri.startswith("gs://"):
        return Path("/gcs") / uri.removeprefix("gs://")
    if uri.startswith("file://"):
        return Path(uri.removeprefix("file://"))
    if "://" in uri:
        raise ValueError(f"training data URI must be a local path or gs:// (mounted), got {uri!r}")
    return Path(uri)


def resolve(
    args: argparse.Namespace, env: dict[str, str]
) -> tuple[Path, Path, Path | None, dict[str, Any], Path]:
    root = Path(args.sm_root or env.get("TRICLOUD_SM_ROOT") or DEFAULT_SM_ROOT)
    hps: dict[str, Any] = {}
    hp_file = root / "input" / "config" / "hyperparameters.json"
    if hp_file.is_file():
        hps.update(json.loads(hp_file.read_text()))
    if env.get("SM_HPS"):
        hps.update(json.loads(env["SM_HPS"]))
    for item in args.hp or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--hp must be name=value, got {item!r}")
        hps[name] = value

    if args.train_data:
        data = _local_path(args.train_data)
    elif env.get("AIP_TRAINING_DATA_URI"):
        data = _local_path(env["AIP_TRAINING_DATA_URI"])
    else:
        data = Path(env.get("SM_CHANNEL_TRAIN") or root / "input" / "data" / "train")

    if args.model_output:
        model_dir = _local_path(args.model_output)
    elif env.get("AIP_MODEL_DIR"):
        model_dir = _local_path(env["AIP_MODEL_DIR"])
    else:
        model_dir = Path(env.get("SM_MODEL_DIR") or root / "model")

    output: Path | None = None
    if args.metrics_output:
        output = _local_path(args.metrics_output)
    elif env.get("SM_OUTPUT_DATA_DIR") or not (args.model_output or env.get("AIP_MODEL_DIR")):
        output = Path(env.get("SM_OUTPUT_DATA_DIR") or root / "output" / "data")
    return data, model_dir, output, hps, root


def main(argv: list[str] | None = None, env: dict[str, str] | None = None) -> int:
    env = dict(os.environ) if env is None else env
    parser = argparse.ArgumentParser(prog="python -m app.train", description=__doc__.split("\n")[0])
    parser.add_argument("--train-data", help="curated Parquet folder or raw CSV/Parquet file")
    parser.add_argument("--model-output", help="folder for the model artifact")
    parser.add_argument("--metrics-output", help="extra folder for metrics.json (optional)")
    parser.add_argument("--sm-root", help=f"SageMaker root folder (default {DEFAULT_SM_ROOT})")
    parser.add_argument("--hp", action="append", metavar="NAME=VALUE", help="hyperparameter override")
    args = parser.parse_args(argv)
    root = Path(args.sm_root or env.get("TRICLOUD_SM_ROOT") or DEFAULT_SM_ROOT)
    try:
        data, model_dir, output, hps, root = resolve(args, env)
        result = train(data, model_dir, Hyperparameters.from_strings(hps), output)
    except (ValueError, FileNotFoundError, OSError) as exc:
        _report_failure(root, f"{type(exc).__name__}: {exc}")
        print(f"training failed: {exc}", file=sys.stderr)
        return 2
    except Exception:
        _report_failure(root, traceback.format_exc())
        raise
    print(json.dumps({"version": result.version, "model_dir": str(result.model_dir), **result.metrics}))
    return 0


def _report_failure(root: Path, message: str) -> None:
    """SageMaker shows <root>/output/failure as the job's FailureReason; harmless elsewhere."""
    failure_dir = root / "output"
    if failure_dir.is_dir() and os.access(failure_dir, os.W_OK):
        (failure_dir / "failure").write_text(message[:1000])


if __name__ == "__main__":
    raise SystemExit(main())

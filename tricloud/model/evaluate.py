"""Champion/challenger on the same held-out rows, and the absolute floors: the approval decision, cloud-neutral.

Both models are loaded with the serving code (`app.serve.predictor.Predictor`, which refuses an artifact whose
model file does not match its recorded sha256) and scored on one held-out set the training never saw. The decision
carries every number it was made on, so it can be printed and stored with the version.
"""

from __future__ import annotations

import hashlib
import json
import math
import tarfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.artifact import METADATA_FILE, METRICS_FILE
from tricloud.model.settings import DeliveryArgs

METRIC_KEYS = ("rmse", "mae", "mape", "r2")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def folder_sha256(folder: Path) -> str:
    """The digest of a model folder (Azure ML, Vertex): sorted relative paths with each file's sha256."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(f"{path.relative_to(folder).as_posix()}\0{sha256_file(path)}\n".encode())
    return h.hexdigest()


def pack(model_dir: Path) -> bytes:
    """A model folder as SageMaker's `model.tar.gz` (files at the archive root, sorted)."""
    import io

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for p in sorted(model_dir.iterdir()):
            tar.add(p, arcname=p.name)
    return buf.getvalue()


def unpack(artifact: Path, dest: Path) -> Path:
    """The model folder of an artifact: a SageMaker `model.tar.gz` is extracted (no path escapes), a folder kept."""
    if artifact.is_dir():
        return artifact
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(artifact, mode="r:gz") as tar:
        tar.extractall(dest, filter="data")
    if not (dest / METADATA_FILE).is_file():
        nested = sorted(p.parent for p in dest.glob(f"*/{METADATA_FILE}"))
        if len(nested) != 1:
            raise ValueError(f"{artifact.name} holds no model artifact ({METADATA_FILE} missing)")
        return nested[0]
    return dest


def read_artifact(model_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metadata.json, metrics.json) of a model folder written by app.train."""
    metadata = json.loads((model_dir / METADATA_FILE).read_text())
    metrics_path = model_dir / METRICS_FILE
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    return metadata, metrics


@dataclass(frozen=True)
class Holdout:
    uri: str
    sha256: str
    rows: int
    X: np.ndarray = field(repr=False, compare=False)
    price: np.ndarray = field(repr=False, compare=False)


def load_holdout(folder: Path, uri: str) -> Holdout:
    """Held-out listings (raw CSV validated like training, or curated Parquet) and the hash of their files."""
    from app.train.core import data_files, load_training_data, sha256_of

    X, price, _rejected = load_training_data(folder)
    if len(price) < 20:
        raise ValueError(
            f"held-out set {uri} has {len(price)} valid rows; at least 20 are needed to judge a model"
        )
    return Holdout(uri=uri, sha256=sha256_of(data_files(folder), folder), rows=len(price), X=X, price=price)


def score(model_dir: Path, holdout: Holdout) -> dict[str, float]:
    """Held-out metrics of one model, computed by the serving predictor (what the endpoint would answer)."""
    from threadpoolctl import threadpool_limits

    from app.serve.predictor import Predictor
    from app.train.core import regression_metrics

    with threadpool_limits(
        limits=1
    ):  # a few hundred rows: threads cost more than they save on a shared machine
        predicted = Predictor(model_dir).predict_features(holdout.X)
    if not np.all(np.isfinite(predicted)):
        raise ValueError("the model predicts non-finite prices")
    m = regression_metrics(holdout.price, predicted)
    return {k: float(m[k]) for k in METRIC_KEYS}


@dataclass(frozen=True)
class Decision:
    approved: bool
    reasons: list[str]
    challenger: dict[str, float]
    champion: dict[str, float] | None
    champion_version: str | None
    floors: dict[str, float]
    holdout: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        verdict = "approved" if self.approved else "refused"
        return f"{verdict}: " + "; ".join(self.reasons)


def decide(
    challenger: dict[str, float] | None,
    champion: dict[str, float] | None,
    settings: DeliveryArgs,
    *,
    holdout: Holdout,
    champion_version: str | None = None,
    challenger_error: str | None = None,
) -> Decision:
    """Approve only a challenger that loads, passes both floors and is not worse than the champion by more than
    `max_rmse_increase_percent` in RMSE on the same rows."""
    floors = {
        "min_r2": settings.min_r2,
        "max_mape": settings.max_mape,
        "max_rmse_increase_percent": settings.max_rmse_increase_percent,
    }
    where = {"uri": holdout.uri, "sha256": holdout.sha256, "rows": holdout.rows}
    if challenger is None:
        reason = f"the challenger cannot be scored: {challenger_error}"
        return Decision(False, [reason], {}, champion, champion_version, floors, where)
    reasons: list[str] = []
    ok = True
    if not challenger["r2"] >= settings.min_r2:  # `not >=` also refuses NaN
        ok = False
        reasons.append(f"R2 {challenger['r2']:.4f} is below the floor {settings.min_r2}")
    else:
        reasons.append(f"R2 {challenger['r2']:.4f} >= {settings.min_r2}")
    if not challenger["mape"] <= settings.max_mape:
        ok = False
        reasons.append(f"MAPE {challenger['mape']:.4f} is above the ceiling {settings.max_mape}")
    else:
        reasons.append(f"MAPE {challenger['mape']:.4f} <= {settings.max_mape}")
    if champion is None:
        reasons.append("no champion: the floors decide")
    else:
        limit = champion["rmse"] * (1 + settings.max_rmse_increase_percent / 100)
        change = (challenger["rmse"] / champion["rmse"] - 1) * 100 if champion["rmse"] else math.inf
        if not challenger["rmse"] <= limit:
            ok = False
            reasons.append(
                f"RMSE {challenger['rmse']:,.0f} is {change:+.2f}% against the champion's {champion['rmse']:,.0f} "
                f"(allowed +{settings.max_rmse_increase_percent}%)"
            )
        else:
            reasons.append(
                f"RMSE {challenger['rmse']:,.0f} vs champion {champion['rmse']:,.0f} ({change:+.2f}%)"
            )
    return Decision(ok, reasons, challenger, champion, champion_version, floors, where)

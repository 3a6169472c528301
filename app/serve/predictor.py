"""The one predictor behind every serving adapter.

Loading checks the artifact (sha256 of the model file, feature order) so a wrong or tampered
model fails at start-up, not on the first request. Prediction avoids per-request scikit-learn
input validation: the fitted trees are flattened once into numpy arrays and walked for all
trees at once (exactly the model's decision rule; a test compares it with ``model.predict``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from app.features import FEATURE_NAMES, featurize_record
from app.train.core import METADATA_FILE, MODEL_FILE

DEFAULT_MODEL_DIR = "/opt/ml/model"


class ModelLoadError(RuntimeError):
    pass


def resolve_model_dir(model_dir: str | os.PathLike[str] | None = None) -> Path:
    """Argument, else env MODEL_DIR, else /opt/ml/model; accepts the artifact one folder down."""
    base = Path(model_dir or os.environ.get("MODEL_DIR") or DEFAULT_MODEL_DIR)
    if (base / METADATA_FILE).is_file():
        return base
    # Azure ML and Vertex mount the registered folder inside the model dir.
    nested = sorted(p.parent for p in base.glob(f"*/{METADATA_FILE}"))
    if len(nested) == 1:
        return nested[0]
    raise ModelLoadError(f"no model artifact ({METADATA_FILE}) in model dir {str(base)!r}")


class _FlatForest:
    """All trees of a HistGradientBoostingRegressor as flat arrays (leaves point to themselves)."""

    def __init__(self, model: Any) -> None:
        trees = [p[0].nodes for p in model._predictors]
        if any(t["is_categorical"].any() for t in trees):
            raise ModelLoadError("categorical splits are not supported by the flat forest")
        sizes = [len(t) for t in trees]
        offsets = np.cumsum([0, *sizes[:-1]]).astype(np.intp)
        local = [np.arange(n) for n in sizes]
        self.roots = offsets
        self.feature = np.concatenate([t["feature_idx"] for t in trees]).astype(np.intp)
        self.threshold = np.concatenate([np.where(t["is_leaf"], np.inf, t["num_threshold"]) for t in trees])
        self.left = np.concatenate(
            [np.where(t["is_leaf"], i, t["left"]) + o for t, i, o in zip(trees, local, offsets, strict=True)]
        ).astype(np.intp)
        self.right = np.concatenate(
            [np.where(t["is_leaf"], i, t["right"]) + o for t, i, o in zip(trees, local, offsets, strict=True)]
        ).astype(np.intp)
        self.value = np.concatenate([t["value"] for t in trees]).astype(np.float64)
        self.depth = int(max(int(t["depth"].max()) for t in trees))
        self.baseline = float(np.ravel(model._baseline_prediction)[0])

    def raw_predict(self, X: np.ndarray) -> np.ndarray:
        idx = np.repeat(self.roots[None, :], X.shape[0], axis=0)
        rows = np.arange(X.shape[0])[:, None]
        for _ in range(self.depth):
            go_left = X[rows, self.feature[idx]] <= self.threshold[idx]
            idx = np.where(go_left, self.left[idx], self.right[idx])
        return self.baseline + self.value[idx].sum(axis=1)


class Predictor:
    def __init__(self, model_dir: str | os.PathLike[str] | None = None) -> None:
        self.model_dir = resolve_model_dir(model_dir)
        self.metadata: dict[str, Any] = json.loads((self.model_dir / METADATA_FILE).read_text())
        model_path = self.model_dir / MODEL_FILE
        digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
        # The artifact is unpickled below: refuse a file that is not the one training wrote.
        if digest != self.metadata.get("model_sha256"):
            raise ModelLoadError(f"{MODEL_FILE} sha256 {digest} does not match metadata in {self.model_dir}")
        if self.metadata.get("feature_names") != list(FEATURE_NAMES):
            raise ModelLoadError("model was trained on another feature list than this code computes")
        self.model = joblib.load(model_path)
        self.version: str = str(self.metadata["version"])
        try:
            self._forest: _FlatForest | None = _FlatForest(self.model)
        except (AttributeError, KeyError, ModelLoadError):
            self._forest = None

    def predict_features(self, X: np.ndarray) -> np.ndarray:
        raw = self._forest.raw_predict(X) if self._forest is not None else self.model.predict(X)
        return np.exp(raw)

    def predict(self, records: Sequence[Mapping[str, Any]]) -> list[float]:
        """Prices in INR (rounded to the rupee) for VALID records (app.schema.validate_batch)."""
        X = np.array([featurize_record(r) for r in records], dtype=np.float64)
        return [round(float(p)) for p in self.predict_features(X.reshape(len(records), len(FEATURE_NAMES)))]

"""Training: curated features (or raw CSV) -> scikit-learn regressor -> versioned model artifact.

Artifact layout (one folder, what every cloud's model registry stores as-is):
    model.joblib      the fitted HistGradientBoostingRegressor (predicts log price)
    metadata.json     version, sha256 of the training data and of model.joblib, features, hyperparameters
    schema.json       the request JSON Schema (app.schema.request_json_schema)
    metrics.json      held-out RMSE, MAE, MAPE, R2 (price in INR)
    reference.json    the drift reference: request fields of the training rows, predictions on the held-out set
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import mean_absolute_error, mean_absolute_percentage_error, mean_squared_error, r2_score

from app.artifact import METADATA_FILE, METRICS_FILE, MODEL_FILE, REFERENCE_FILE, SCHEMA_FILE
from app.features import FEATURE_NAMES, featurize_frame
from app.monitor.profile import build_profile
from app.schema import (
    CITIES,
    FURNISHING,
    LABEL,
    REQUEST_FIELDS,
    SCHEMA_VERSION,
    TRAINING_FIELDS,
    request_json_schema,
    validate_record,
)

FEATURE_PREFIX = "f_"  # the Spark job's feature column prefix (app.features.job)
DATA_SUFFIXES = (".parquet", ".csv")


@dataclass(frozen=True)
class Hyperparameters:
    max_iter: int = 300
    learning_rate: float = 0.08
    max_leaf_nodes: int = 31
    max_depth: int = 8
    l2_regularization: float = 0.0
    test_fraction: float = 0.2
    seed: int = 42
    min_r2: float = 0.0  # > 0 turns training into a quality gate: below it the job fails
    model_version: str = ""  # empty: derived from date, data hash and hyperparameters

    @classmethod
    def from_strings(cls, values: dict[str, Any]) -> Hyperparameters:
        """SageMaker passes every hyperparameter as a string; unknown names are an error."""
        known = {f.name: f for f in fields(cls)}
        parsed: dict[str, Any] = {}
        for key, raw in values.items():
            name = key.replace("-", "_")
            if name not in known:
                raise ValueError(f"unknown hyperparameter {key!r} (value {raw!r}); known: {sorted(known)}")
            kind = known[name].type
            try:
                if kind == "int":
                    parsed[name] = int(float(str(raw)))
                elif kind == "float":
                    parsed[name] = float(str(raw))
                else:
                    parsed[name] = str(raw)
            except ValueError:
                raise ValueError(f"hyperparameter {key!r} must be {kind}, got {raw!r}") from None
        hp = cls(**parsed)
        hp.check()
        return hp

    def check(self) -> None:
        if not 0.05 <= self.test_fraction <= 0.5:
            raise ValueError(f"hyperparameter test_fraction must be in [0.05, 0.5], got {self.test_fraction}")
        if self.max_iter < 1 or self.max_leaf_nodes < 2 or self.max_depth < 1:
            raise ValueError(f"hyperparameters max_iter/max_leaf_nodes/max_depth out of range: {self}")
        if not 0 < self.learning_rate <= 1:
            raise ValueError(f"hyperparameter learning_rate must be in (0, 1], got {self.learning_rate}")


@dataclass(frozen=True)
class TrainingResult:
    model_dir: Path
    version: str
    metrics: dict[str, float]
    data_sha256: str
    rows_used: int
    rows_rejected: int


def data_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"training data not found: {str(path)!r}")
    found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in DATA_SUFFIXES)
    if not found:
        raise FileNotFoundError(f"no .parquet or .csv files under training data {str(path)!r}")
    return found


def sha256_of(files: list[Path], root: Path) -> str:
    """Hash of names and bytes, so a renamed partition or changed row changes the version."""
    h = hashlib.sha256()
    for p in files:
        rel = p.name if root.is_file() else p.relative_to(root).as_posix()
        h.update(rel.encode() + b"\0")
        with p.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def load_training_data(path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """(X, price, rejected rows) from curated Parquet (Spark output) or raw CSV/Parquet."""
    X, price, rejected, _ = load_training_frame(path)
    return X, price, rejected


def request_columns(frame: pd.DataFrame) -> dict[str, list[Any]]:
    """The request fields of the training rows, for the reference profile: the columns themselves when the data
    has them (raw listings, the Spark job's curated output), else recovered from the model features (one-hot city,
    furnishing level, log distance; `floor` only up to the cap the feature applies)."""
    if all(f.name in frame.columns for f in REQUEST_FIELDS):
        return {f.name: frame[f.name].tolist() for f in REQUEST_FIELDS}
    f = {n: frame[FEATURE_PREFIX + n].to_numpy(dtype=np.float64) for n in FEATURE_NAMES}
    city_cols = np.column_stack([f[f"city_{c.lower()}"] for c in CITIES])
    return {
        "city": [CITIES[i] for i in city_cols.argmax(axis=1)],
        "locality_tier": f["locality_tier"].tolist(),
        "area_sqft": f["area_sqft"].tolist(),
        "bedrooms": f["bedrooms"].tolist(),
        "bathrooms": f["bathrooms"].tolist(),
        "age_years": f["age_years"].tolist(),
        "floor": f["floor_capped"].tolist(),
        "parking": f["parking"].tolist(),
        "furnishing": [FURNISHING[round(v)] for v in f["furnishing_level"]],
        "distance_to_metro_km": np.expm1(f["log_metro_km"]).tolist(),
    }


def load_training_frame(path: Path) -> tuple[np.ndarray, np.ndarray, int, dict[str, list[Any]]]:
    """(X, price, rejected rows, request fields per row) from curated Parquet or raw CSV/Parquet."""
    files = data_files(path)
    if all(p.suffix.lower() == ".parquet" for p in files):
        frame = pd.read_parquet(path if path.is_dir() else files[0])
    else:
        # Raw text: every cell is validated by the same rules as the Spark job and serving.
        frame = pd.concat(
            [pd.read_csv(p, dtype=str, keep_default_na=False) for p in files if p.suffix.lower() == ".csv"],
            ignore_index=True,
        )
    curated = [FEATURE_PREFIX + n for n in FEATURE_NAMES]
    if set(curated) <= set(frame.columns) and LABEL.name in frame.columns:
        X = frame[curated].to_numpy(dtype=np.float64)
        return X, frame[LABEL.name].to_numpy(dtype=np.float64), 0, request_columns(frame)
    valid, rejected = [], 0
    from_text = any(p.suffix.lower() == ".csv" for p in files)
    for rec in frame.to_dict("records"):
        clean, _ = validate_record(rec, from_text=from_text, fields=TRAINING_FIELDS, allow_extra=True)
        if clean is None:
            rejected += 1
        else:
            valid.append(clean)
    if not valid:
        raise ValueError(f"no valid rows in training data {str(path)!r} ({rejected} rejected)")
    good = pd.DataFrame(valid)
    return featurize_frame(good), good[LABEL.name].to_numpy(dtype=np.float64), rejected, request_columns(good)


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    return {
        "rmse": float(math.sqrt(mean_squared_error(y_true, y_pred))),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "mape": float(mean_absolute_percentage_error(y_true, y_pred)),
        "r2": float(r2_score(y_true, y_pred)),
        "n_test": len(y_true),
    }


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def train(
    data_path: Path, model_dir: Path, hp: Hyperparameters, output_dir: Path | None = None
) -> TrainingResult:
    hp.check()
    started = time.time()
    X, price, rejected, columns = load_training_frame(data_path)
    if len(price) < 50:
        raise ValueError(f"need at least 50 valid rows to train, got {len(price)} from {str(data_path)!r}")
    data_sha = sha256_of(data_files(data_path), data_path)
    rng = np.random.default_rng(hp.seed)
    order = rng.permutation(len(price))
    n_test = max(1, round(len(price) * hp.test_fraction))
    test, train_idx = order[:n_test], order[n_test:]
    model = HistGradientBoostingRegressor(
        max_iter=hp.max_iter,
        learning_rate=hp.learning_rate,
        max_leaf_nodes=hp.max_leaf_nodes,
        max_depth=hp.max_depth,
        l2_regularization=hp.l2_regularization,
        random_state=hp.seed,
    )
    # Log price: errors are relative (a 10% miss matters alike in Kolkata and Mumbai).
    model.fit(X[train_idx], np.log(price[train_idx]))
    held_out_predictions = np.exp(model.predict(X[test]))
    metrics = regression_metrics(price[test], held_out_predictions)
    metrics["n_train"] = len(train_idx)
    if metrics["r2"] < hp.min_r2:
        raise ValueError(f"held-out R2 {metrics['r2']:.4f} is below hyperparameter min_r2 {hp.min_r2}")

    hp_hash = hashlib.sha256(json.dumps(asdict(hp), sort_keys=True).encode()).hexdigest()
    version = hp.model_version or f"{time.strftime('%Y.%m.%d', time.gmtime())}-{data_sha[:8]}-{hp_hash[:6]}"
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / MODEL_FILE)
    metadata = {
        "version": version,
        "schema_version": SCHEMA_VERSION,
        "algorithm": "HistGradientBoostingRegressor(log price)",
        "target": LABEL.name,
        "feature_names": list(FEATURE_NAMES),
        "hyperparameters": asdict(hp),
        "training_data_sha256": data_sha,
        "model_sha256": file_sha256(model_dir / MODEL_FILE),
        "rows_used": len(price),
        "rows_rejected": rejected,
        "sklearn_version": sklearn.__version__,
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "training_seconds": round(time.time() - started, 3),
    }
    _write_json(model_dir / METADATA_FILE, metadata)
    _write_json(model_dir / SCHEMA_FILE, request_json_schema())
    _write_json(model_dir / METRICS_FILE, {**metrics, "version": version})
    # What the model was trained on (every valid row's request fields) and what it answers on held-out rows:
    # the drift job's reference for this version (app.monitor).
    build_profile(
        columns,
        held_out_predictions,
        model_version=version,
        metrics=metrics,
        source=str(data_path),
        seed=hp.seed,
    ).write(model_dir / REFERENCE_FILE)
    if output_dir is not None:
        output_dir.mkdir(parents=True, exist_ok=True)
        _write_json(output_dir / METRICS_FILE, {**metrics, "version": version})
    return TrainingResult(model_dir, version, metrics, data_sha, len(price), rejected)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")

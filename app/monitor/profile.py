"""The training-time reference profile (``reference.json`` next to the model) and the window it is compared with.

The profile holds, per request field of ``app.schema``, what the model was trained on: numeric fields a sorted
sample of values (at most ``MAX_VALUES``) with mean and standard deviation, categorical fields their counts; the
model's predictions on the held-out set (the prediction reference) and the held-out metrics (the performance
reference). Request fields, not model features: drift is reported in the words of the API ("area_sqft moved"),
and the capture records carry exactly those fields.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.schema import REQUEST_FIELDS

PROFILE_FORMAT = "tricloud.reference/1"
MAX_VALUES = 5000  # a sample this size pins a distribution far tighter than the 0.1-SD effect floor needs
PREDICTION = "prediction"
NUMERIC, CATEGORICAL = "numeric", "categorical"


class SchemaMismatch(ValueError):
    """The current data does not have the reference's columns or types: names every column that differs."""


def request_kinds() -> dict[str, str]:
    """Monitored fields and their kind: strings are categorical, integers and numbers numeric."""
    return {f.name: CATEGORICAL if f.kind == "string" else NUMERIC for f in REQUEST_FIELDS}


@dataclass
class FeatureRef:
    name: str
    kind: str
    n: int
    values: np.ndarray = field(default_factory=lambda: np.empty(0))  # numeric: sorted sample
    counts: dict[str, int] = field(default_factory=dict)  # categorical
    mean: float = 0.0
    std: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        if self.kind == CATEGORICAL:
            return {"kind": self.kind, "n": self.n, "counts": dict(sorted(self.counts.items()))}
        return {
            "kind": self.kind,
            "n": self.n,
            "mean": self.mean,
            "std": self.std,
            "values": [_round(v) for v in self.values.tolist()],
        }


@dataclass
class Profile:
    features: dict[str, FeatureRef]
    prediction: FeatureRef | None = None
    model_version: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    created_at: str = ""
    source: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": PROFILE_FORMAT,
            "model_version": self.model_version,
            "created_at": self.created_at,
            "source": self.source,
            "features": {k: v.as_dict() for k, v in self.features.items()},
            "prediction": self.prediction.as_dict() if self.prediction else None,
            "metrics": self.metrics,
        }

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":")) + "\n")
        return path


def _round(v: float) -> float:
    return float(f"{v:.7g}")


def feature_ref(
    name: str, kind: str, values: Iterable[Any], rng: np.random.Generator | None = None
) -> FeatureRef:
    """One column's reference: a sorted sample (numeric) or the counts (categorical); missing values dropped."""
    if kind == CATEGORICAL:
        counts: dict[str, int] = {}
        for v in values:
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            counts[str(v)] = counts.get(str(v), 0) + 1
        return FeatureRef(name, kind, sum(counts.values()), counts=counts)
    arr = numeric_array(values, name)
    arr = arr[~np.isnan(arr)]
    n = len(arr)
    mean, std = (float(arr.mean()), float(arr.std())) if n else (0.0, 0.0)
    if n > MAX_VALUES:
        arr = (rng or np.random.default_rng(0)).choice(arr, MAX_VALUES, replace=False)
    return FeatureRef(name, kind, n, values=np.sort(arr), mean=mean, std=std)


def numeric_array(values: Iterable[Any], name: str) -> np.ndarray:
    """Floats (None -> NaN); a value that is not a number is a schema error naming the column and the value."""
    out = []
    for v in values:
        if v is None or isinstance(v, bool):
            if isinstance(v, bool):
                raise SchemaMismatch(f"column {name!r}: expected numbers, got {v!r}")
            out.append(math.nan)
            continue
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            raise SchemaMismatch(f"column {name!r}: expected numbers, got {v!r}") from None
    return np.asarray(out, dtype=float)


def build_profile(
    columns: Mapping[str, Sequence[Any]],
    predictions: Sequence[float] | None,
    *,
    kinds: Mapping[str, str] | None = None,
    model_version: str = "",
    metrics: Mapping[str, float] | None = None,
    source: str = "",
    seed: int = 0,
) -> Profile:
    kinds = dict(kinds or request_kinds())
    missing = [k for k in kinds if k not in columns]
    if missing:
        raise SchemaMismatch(f"reference data has no column(s) {', '.join(missing)}")
    rng = np.random.default_rng(seed)
    feats = {k: feature_ref(k, kind, columns[k], rng) for k, kind in kinds.items()}
    pred = feature_ref(PREDICTION, NUMERIC, predictions, rng) if predictions is not None else None
    return Profile(
        features=feats,
        prediction=pred,
        model_version=model_version,
        metrics={k: float(v) for k, v in (metrics or {}).items() if isinstance(v, int | float)},
        created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        source=source,
    )


def profile_from_dict(doc: Mapping[str, Any], where: str = "reference") -> Profile:
    """Parse a reference.json document; an unknown format or a malformed feature names what is wrong."""
    if doc.get("format") != PROFILE_FORMAT:
        raise SchemaMismatch(f"{where}: format is {doc.get('format')!r}, expected {PROFILE_FORMAT!r}")
    feats: dict[str, FeatureRef] = {}
    for name, f in (doc.get("features") or {}).items():
        feats[name] = _ref_from_dict(name, f, where)
    if not feats:
        raise SchemaMismatch(f"{where}: the profile has no features")
    pred = _ref_from_dict(PREDICTION, doc["prediction"], where) if doc.get("prediction") else None
    return Profile(
        features=feats,
        prediction=pred,
        model_version=str(doc.get("model_version") or ""),
        metrics={k: float(v) for k, v in (doc.get("metrics") or {}).items() if isinstance(v, int | float)},
        created_at=str(doc.get("created_at") or ""),
        source=str(doc.get("source") or ""),
    )


def _ref_from_dict(name: str, f: Mapping[str, Any], where: str) -> FeatureRef:
    kind = f.get("kind")
    if kind == CATEGORICAL:
        counts = {str(k): int(v) for k, v in (f.get("counts") or {}).items()}
        return FeatureRef(name, kind, sum(counts.values()), counts=counts)
    if kind == NUMERIC:
        values = np.sort(np.asarray(f.get("values") or [], dtype=float))
        if not len(values):
            raise SchemaMismatch(f"{where}: numeric feature {name!r} has no reference values")
        return FeatureRef(
            name, kind, int(f.get("n") or len(values)), values=values, mean=float(f.get("mean", values.mean())),
            std=float(f.get("std", values.std())),
        )  # fmt: skip
    raise SchemaMismatch(f"{where}: feature {name!r} has kind {kind!r}, expected numeric or categorical")


def load_profile(path: Path) -> Profile:
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SchemaMismatch(f"reference {str(path)!r} is not a readable JSON profile: {exc}") from None
    return profile_from_dict(doc, str(path))


@dataclass
class Window:
    """The current data: one array per column (numeric float with NaN for missing, categorical object), plus what
    the capture records say about each row (model version, fallback, latency, request id, time)."""

    columns: dict[str, np.ndarray]
    rows: int
    model_versions: list[str] = field(default_factory=list)
    fallback: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    latency_ms: np.ndarray = field(default_factory=lambda: np.empty(0))
    request_ids: list[str] = field(default_factory=list)
    row_index: list[int] = field(default_factory=list)
    times: list[str] = field(default_factory=list)

    def subset(self, mask: np.ndarray) -> Window:
        idx = np.flatnonzero(mask)

        def pick(seq: list[Any]) -> list[Any]:
            return [seq[i] for i in idx] if seq else []

        return Window(
            columns={k: v[idx] for k, v in self.columns.items()},
            rows=len(idx),
            model_versions=pick(self.model_versions),
            fallback=self.fallback[idx] if len(self.fallback) else self.fallback,
            latency_ms=self.latency_ms[idx] if len(self.latency_ms) else self.latency_ms,
            request_ids=pick(self.request_ids),
            row_index=pick(self.row_index),
            times=pick(self.times),
        )


def window_from_columns(
    columns: Mapping[str, Sequence[Any]], kinds: Mapping[str, str], where: str = "current"
) -> Window:
    """A window of the reference's columns (plus the prediction when present); missing columns are an error."""
    missing = [k for k in kinds if k not in columns]
    if missing:
        have = ", ".join(sorted(columns)) or "none"
        raise SchemaMismatch(
            f"{where} has no column(s) {', '.join(missing)} that the reference has (its columns: {have})"
        )
    rows = len(next(iter(columns.values()))) if columns else 0
    out: dict[str, np.ndarray] = {}
    for name, kind in kinds.items():
        values = columns[name]
        if kind == NUMERIC:
            out[name] = numeric_array(values, name)
        else:
            out[name] = np.asarray([None if _missing(v) else str(v) for v in values], dtype=object)
            _check_categorical(name, out[name])
    if PREDICTION in columns and PREDICTION not in out:
        out[PREDICTION] = numeric_array(columns[PREDICTION], PREDICTION)
    return Window(columns=out, rows=rows)


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _check_categorical(name: str, arr: np.ndarray) -> None:
    """A categorical column of numbers is a schema mismatch (the reference holds category names)."""
    sample = next((v for v in arr if v is not None), None)
    if sample is not None:
        try:
            float(sample)
        except ValueError:
            return
        if all(_looks_numeric(v) for v in arr[:200] if v is not None):
            raise SchemaMismatch(
                f"column {name!r}: the reference holds categories but the current data holds numbers "
                f"(e.g. {sample!r})"
            )


def _looks_numeric(v: Any) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False

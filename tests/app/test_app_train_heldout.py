"""Training metrics are the held-out rows' metrics: recomputed here from the saved model, the seed and the data,
with the formulas written out (numpy only), and compared with metrics.json. Metrics computed on the training rows
(or on all rows) differ and fail this test."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from app.features import featurize_frame
from app.schema import TRAINING_FIELDS, validate_record


def test_metrics_json_is_the_held_out_split(trained) -> None:
    model_dir: Path = trained.model_dir
    meta = json.loads((model_dir / "metadata.json").read_text())
    metrics = json.loads((model_dir / "metrics.json").read_text())
    hp = meta["hyperparameters"]
    raw = pd.read_csv(model_dir.parent / "raw.csv", dtype=str, keep_default_na=False)
    rows = [
        validate_record(r, from_text=True, fields=TRAINING_FIELDS, allow_extra=True)[0]
        for r in raw.to_dict("records")
    ]
    frame = pd.DataFrame([r for r in rows if r is not None])
    X, price = featurize_frame(frame), frame["price_inr"].to_numpy(dtype=float)
    order = np.random.default_rng(hp["seed"]).permutation(len(price))
    n_test = round(len(price) * hp["test_fraction"])
    test, train = order[:n_test], order[n_test:]
    model = joblib.load(model_dir / "model.joblib")

    def r2(idx: np.ndarray) -> float:
        y, pred = price[idx], np.exp(model.predict(X[idx]))
        return float(1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2))

    y, pred = price[test], np.exp(model.predict(X[test]))
    assert metrics["n_test"] == n_test and metrics["n_train"] == len(train)
    assert abs(metrics["r2"] - r2(test)) < 1e-9
    assert abs(metrics["rmse"] - float(np.sqrt(np.mean((y - pred) ** 2)))) < 1e-6 * metrics["rmse"]
    assert abs(metrics["mae"] - float(np.mean(np.abs(y - pred)))) < 1e-6 * metrics["mae"]
    # The same model scores better on the rows it was fitted on: a split mix-up cannot pass the checks above.
    assert r2(train) > r2(test)

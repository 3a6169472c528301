"""The reference profile app.train writes, and the drift job on lake folders: window, reference pick, outputs,
metric points, ground truth."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from app.data.generator import generate, write_listings
from app.features import featurize_records
from app.frontend.capture import capture_lines
from app.monitor.drift import Thresholds
from app.monitor.job import JobArgs, JobError, run
from app.monitor.profile import load_profile
from app.monitor.report import metric_points
from app.schema import FIELD_NAMES
from app.train.core import Hyperparameters, train

END = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("model")
    data = write_listings(generate(2000, seed=4), root / "listings.csv")
    train(data, root / "model", Hyperparameters(max_iter=60))
    return root / "model"


def test_training_writes_the_reference_next_to_the_model(model: Path) -> None:
    frame = generate(2000, seed=4)
    profile = load_profile(model / "reference.json")
    meta = json.loads((model / "metadata.json").read_text())
    metrics = json.loads((model / "metrics.json").read_text())
    assert profile.model_version == meta["version"]
    # Every valid training row is in the feature reference: city counts are the data's own.
    assert profile.features["city"].counts == frame["city"].value_counts().to_dict()
    assert profile.features["area_sqft"].mean == pytest.approx(frame["area_sqft"].mean())
    # The prediction reference is the held-out set (20%): as many values as metrics.n_test.
    assert profile.prediction is not None and profile.prediction.n == metrics["n_test"] == 400
    assert profile.metrics["mape"] == pytest.approx(metrics["mape"])


def capture_folder(root: Path, model: Path, frame: pd.DataFrame, stamp: dt.datetime, name: str) -> None:
    est = joblib.load(model / "model.joblib")
    records = frame[list(FIELD_NAMES)].to_dict("records")
    preds = np.exp(est.predict(featurize_records(records))).tolist()
    label = json.loads((model / "metadata.json").read_text())["version"]
    lines = []
    for i in range(0, len(records), 4):
        lines += capture_lines(f"{name}-{i}", "aws", records[i : i + 4], preds[i : i + 4], label, False, 3.0,
                               now=stamp.timestamp())  # fmt: skip
    folder = root / "capture" / f"dt={stamp:%Y-%m-%d}" / f"hour={stamp:%H}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text("\n".join(lines) + "\n")


@pytest.fixture
def lake(tmp_path: Path, model: Path) -> Path:
    label = json.loads((model / "metadata.json").read_text())["version"]
    (tmp_path / "references").mkdir()
    (tmp_path / "references" / f"{label}.json").write_bytes((model / "reference.json").read_bytes())
    return tmp_path


def args(lake: Path, **kw) -> JobArgs:
    return JobArgs(capture=str(lake / "capture"), reference=str(lake / "references"), output=str(lake / "reports"),
                   window_hours=24, end=END, **kw)  # fmt: skip


def test_the_job_judges_only_its_window_and_writes_its_outputs(lake: Path, model: Path) -> None:
    capture_folder(lake, model, generate(1000, seed=31), END - dt.timedelta(hours=3), "today")
    shifted = generate(1000, seed=32)
    shifted["area_sqft"] *= 2
    capture_folder(lake, model, shifted, END - dt.timedelta(days=3), "old")  # outside the 24 h window
    published: list = []
    summary = run(args(lake, publish=published.extend, dimensions={"Stack": "s"}))
    assert summary["window"]["rows"] == 1000 and summary["status"] == "ok" and not summary["alarm"]
    assert (
        Path(summary["outputs"]["summary"]).is_file()
        and "<svg" in Path(summary["outputs"]["report"]).read_text()
    )
    assert json.loads((lake / "reports" / "latest.json").read_text())["window"]["rows"] == 1000
    names = {p.name for p in published}
    assert {"DriftDetected", "CapturedRows", "FallbackRate", "FeatureDrift", "PredictionDrift"} <= names
    assert next(p for p in published if p.name == "DriftDetected").value == 0.0


def test_a_drifted_window_raises_the_alarm_in_summary_and_metrics(lake: Path, model: Path) -> None:
    frame = generate(1000, seed=33)
    frame["area_sqft"] = frame["area_sqft"] * 1.6
    capture_folder(lake, model, frame, END - dt.timedelta(hours=1), "shifted")
    summary = run(args(lake))
    assert summary["alarm"] and "area_sqft" in summary["drifted_features"]
    points = metric_points(summary, {"Stack": "s"})
    assert next(p for p in points if p.name == "DriftDetected").value == 1.0
    area = next(p for p in points if p.name == "FeatureDrift" and p.dimensions.get("Feature") == "area_sqft")
    assert area.value > 0.5


def test_ground_truth_joins_the_report(lake: Path, model: Path) -> None:
    frame = generate(400, seed=34)
    capture_folder(lake, model, frame, END - dt.timedelta(hours=2), "sold")
    truth = lake / "truth"
    truth.mkdir()
    # The market moved: every sale closed 40% above the generator's price.
    rows = [{"request_id": f"sold-{i - i % 4}", "row": i % 4, "price_inr": p * 1.4}
            for i, p in enumerate(frame["price_inr"])]  # fmt: skip
    pd.DataFrame(rows).to_csv(truth / "sales.csv", index=False)
    summary = run(args(lake, ground_truth=str(truth), thresholds=Thresholds(min_rows=100)))
    perf = summary["performance"]
    assert perf["matched_rows"] == 400 and perf["degraded"] and summary["alarm"]
    assert perf["metrics"]["mape"] > 0.25  # predictions at the old price level are ~29% low


def test_no_reference_for_the_served_model_is_a_clear_error(lake: Path, model: Path) -> None:
    capture_folder(lake, model, generate(300, seed=35), END - dt.timedelta(hours=1), "x")
    for f in (lake / "references").iterdir():
        f.unlink()
    with pytest.raises(JobError, match="tricloud monitor reference"):
        run(args(lake))


def test_an_empty_window_reports_zero_volume(lake: Path) -> None:
    published: list = []
    summary = run(args(lake, publish=published.extend))
    assert summary["status"] == "insufficient_data" and summary["window"]["rows"] == 0
    assert [(p.name, p.value) for p in published if p.name == "CapturedRows"] == [("CapturedRows", 0.0)]

"""Training: model quality, the artifact, and the three cloud training contracts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import joblib
import pytest

from app.data import generate, write_listings
from app.train import Hyperparameters
from app.train.__main__ import main
from app.train.core import file_sha256, sha256_of

REPO = Path(__file__).resolve().parents[2]
SMALL = ["--hp", "max_iter=30"]


def test_held_out_r2_on_default_generator(trained) -> None:
    m = trained.metrics
    assert m["r2"] >= 0.85, m
    assert 0 < m["mape"] < 0.25
    assert m["n_test"] == 1000 and m["n_train"] == 4000


def test_artifact_is_versioned_and_self_describing(trained) -> None:
    d = trained.model_dir
    meta = json.loads((d / "metadata.json").read_text())
    assert meta["version"] == trained.version and trained.data_sha256[:8] in trained.version
    assert meta["model_sha256"] == file_sha256(d / "model.joblib")
    assert meta["training_data_sha256"] == sha256_of([d.parent / "raw.csv"], d.parent / "raw.csv")
    assert json.loads((d / "schema.json").read_text())["required"][0] == "city"
    metrics = json.loads((d / "metrics.json").read_text())
    assert set(metrics) >= {"rmse", "mae", "mape", "r2", "version"}
    assert json.loads((d.parent / "output" / "metrics.json").read_text())["r2"] == metrics["r2"]
    assert hasattr(joblib.load(d / "model.joblib"), "predict")


def test_raw_csv_with_malformed_rows_rejects_them(tmp_path: Path) -> None:
    data = write_listings(generate(600, seed=2, malformed_fraction=0.1), tmp_path / "raw.csv")
    rc = main(["--train-data", str(data), "--model-output", str(tmp_path / "m"), *SMALL], env={})
    assert rc == 0
    meta = json.loads((tmp_path / "m" / "metadata.json").read_text())
    assert (meta["rows_used"], meta["rows_rejected"]) == (540, 60)


def test_sagemaker_contract_env_and_string_hyperparameters(tmp_path: Path) -> None:
    root = tmp_path / "opt_ml"
    write_listings(generate(400, seed=1), root / "input" / "data" / "train" / "part.csv")
    (root / "input" / "config").mkdir(parents=True)
    (root / "input" / "config" / "hyperparameters.json").write_text(
        json.dumps({"max_iter": "25", "seed": "3"})
    )
    env = {
        "TRICLOUD_SM_ROOT": str(root),
        "SM_MODEL_DIR": str(root / "model"),
        "SM_OUTPUT_DATA_DIR": str(root / "output" / "data"),
        "SM_HPS": json.dumps({"learning_rate": "0.2"}),
    }
    assert main([], env=env) == 0
    hp = json.loads((root / "model" / "metadata.json").read_text())["hyperparameters"]
    assert (hp["max_iter"], hp["seed"], hp["learning_rate"]) == (25, 3, 0.2)
    assert (root / "output" / "data" / "metrics.json").is_file()


def test_sagemaker_failure_file_names_the_bad_hyperparameter(tmp_path: Path) -> None:
    root = tmp_path / "opt_ml"
    write_listings(generate(100, seed=1), root / "input" / "data" / "train" / "part.csv")
    (root / "output").mkdir(parents=True)
    assert main([], env={"TRICLOUD_SM_ROOT": str(root), "SM_HPS": json.dumps({"max_iter": "many"})}) == 2
    assert "max_iter" in (root / "output" / "failure").read_text()
    assert main([], env={"TRICLOUD_SM_ROOT": str(root), "SM_HPS": json.dumps({"depth": "3"})}) == 2
    assert "'depth'" in (root / "output" / "failure").read_text()


def test_vertex_contract_env(tmp_path: Path) -> None:
    data = write_listings(generate(300, seed=6), tmp_path / "data" / "train.parquet")
    env = {"AIP_TRAINING_DATA_URI": str(data), "AIP_MODEL_DIR": str(tmp_path / "vertex-model")}
    assert main(SMALL, env=env) == 0
    assert (tmp_path / "vertex-model" / "model.joblib").is_file()


def test_azureml_command_job_arguments_as_a_process(tmp_path: Path) -> None:
    data = write_listings(generate(300, seed=8), tmp_path / "in" / "listings.csv")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.train",
            "--train-data",
            str(data.parent),
            "--model-output",
            str(tmp_path / "outputs"),
            *SMALL,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1])["r2"] > 0
    assert (tmp_path / "outputs" / "metadata.json").is_file()


def test_hyperparameters_reject_bad_values() -> None:
    with pytest.raises(ValueError, match="test_fraction"):
        Hyperparameters.from_strings({"test_fraction": "0.9"})
    with pytest.raises(ValueError, match=r"learning-rate.*float"):
        Hyperparameters.from_strings({"learning-rate": "x"})


def test_quality_gate_fails_the_job(tmp_path: Path) -> None:
    data = write_listings(generate(200, seed=1), tmp_path / "raw.csv")
    rc = main(
        ["--train-data", str(data), "--model-output", str(tmp_path / "m"), "--hp", "min_r2=0.999", *SMALL],
        env={},
    )
    assert rc == 2
    assert not (tmp_path / "m" / "model.joblib").exists()


def test_container_entry_point_dispatches_train_and_rejects_unknown(tmp_path: Path) -> None:
    from app.container import main as container_main

    root = tmp_path / "opt_ml"
    write_listings(generate(200, seed=4), root / "input" / "data" / "train" / "part.csv")
    (root / "input" / "config").mkdir(parents=True)
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps({"max_iter": "20"}))
    assert container_main(["train", "--sm-root", str(root)]) == 0
    assert (root / "model" / "metadata.json").is_file()
    assert container_main(["bogus"]) == 2

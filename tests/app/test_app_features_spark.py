"""The Spark feature job in local mode: counts, quarantine reasons, partitioning, feature parity."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.data import generate, write_listings
from app.features import FEATURE_NAMES, featurize_frame, featurize_record
from app.schema import CITIES, TRAINING_FIELDS, validate_record

# pyspark 3.5 calls astype(copy=False), which pandas 3 deprecates; not our code.
pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
    pytest.mark.filterwarnings("ignore:is_datetime64tz_dtype is deprecated"),
]
REPO = Path(__file__).resolve().parents[2]


def python_reasons(path: Path) -> Counter[str]:
    """What the Python validator says about the same file, as ``field:code`` counts."""
    text = (
        pd.read_csv(path, dtype=str, keep_default_na=False)
        if path.suffix == ".csv"
        else pd.read_parquet(path)
    )
    counts: Counter[str] = Counter()
    for rec in text.to_dict("records"):
        for err in validate_record(rec, from_text=True, fields=TRAINING_FIELDS, allow_extra=True)[1]:
            counts[f"{err['field']}:{err['code']}"] += 1
    return counts


@pytest.fixture(scope="module")
def job_on_csv(spark, tmp_path_factory: pytest.TempPathFactory):
    from app.features.job import run

    root = tmp_path_factory.mktemp("spark-csv")
    raw = write_listings(generate(2000, seed=3, malformed_fraction=0.05), root / "raw.csv")
    counts = run(spark, str(raw), str(root / "curated"), str(root / "quarantine"))
    return raw, root, counts


def test_counts_add_up_and_reasons_match_python_validator(job_on_csv) -> None:
    raw, _, counts = job_on_csv
    assert counts["input_rows"] == 2000
    assert counts["quarantined_rows"] == 100
    assert counts["valid_rows"] == 1900
    assert counts["reasons"] == dict(python_reasons(raw))
    assert {r.split(":")[1] for r in counts["reasons"]} >= {
        "missing",
        "wrong_type",
        "out_of_range",
        "not_allowed",
    }


def test_output_is_partitioned_by_city_and_quarantine_keeps_raw_text(spark, job_on_csv) -> None:
    _, root, counts = job_on_csv
    parts = sorted(p.name for p in (root / "curated").iterdir() if p.is_dir())
    assert parts == sorted(f"city={c}" for c in CITIES)
    curated = spark.read.parquet(str(root / "curated"))
    assert curated.count() == counts["valid_rows"]
    assert {f"f_{n}" for n in FEATURE_NAMES} <= set(curated.columns)
    q = spark.read.parquet(str(root / "quarantine")).toPandas()
    assert len(q) == counts["quarantined_rows"]
    assert all(len(r) >= 1 for r in q["reasons"])
    atlantis = q[q["raw_city"] == "Atlantis"]
    assert all("city:not_allowed" in list(r) for r in atlantis["reasons"])


def test_spark_features_equal_python_features(spark, job_on_csv) -> None:
    _, root, _ = job_on_csv
    cur = spark.read.parquet(str(root / "curated")).toPandas()
    cur["city"] = cur["city"].astype(str)
    spark_x = cur[[f"f_{n}" for n in FEATURE_NAMES]].to_numpy(float)
    numpy_x = featurize_frame(cur)
    record_x = np.array([featurize_record(r) for r in cur.to_dict("records")])
    np.testing.assert_allclose(spark_x, numpy_x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(spark_x, record_x, rtol=1e-12, atol=1e-12)
    assert spark_x[:, FEATURE_NAMES.index("city_mumbai")].sum() == (cur["city"] == "Mumbai").sum()


def test_parquet_input_with_malformed_text_columns(spark, tmp_path: Path) -> None:
    from app.features.job import run

    raw = write_listings(generate(800, seed=12, malformed_fraction=0.1), tmp_path / "raw.parquet")
    counts = run(spark, str(raw), str(tmp_path / "cur"), str(tmp_path / "q"))
    assert (counts["input_rows"], counts["quarantined_rows"]) == (800, 80)
    assert counts["reasons"] == dict(python_reasons(raw))


def test_typed_parquet_input_is_all_valid(spark, tmp_path: Path) -> None:
    from app.features.job import run

    raw = write_listings(generate(500, seed=13), tmp_path / "typed.parquet")
    counts = run(spark, str(raw), str(tmp_path / "cur"), str(tmp_path / "q"))
    assert (counts["valid_rows"], counts["quarantined_rows"], counts["reasons"]) == (500, 0, {})


def test_missing_column_is_a_clear_error(spark, tmp_path: Path) -> None:
    from app.features.job import run

    path = tmp_path / "short.csv"
    generate(20).drop(columns=["floor"]).to_csv(path, index=False)
    with pytest.raises(ValueError, match="floor"):
        run(spark, str(path), str(tmp_path / "cur"), str(tmp_path / "q"))


def test_module_entry_point_runs_as_spark_application(tmp_path: Path) -> None:
    raw = write_listings(generate(300, seed=21, malformed_fraction=0.1), tmp_path / "raw.csv")
    env = {
        **os.environ,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_SUBMIT_ARGS": "--master local[1] pyspark-shell",
    }
    args = ["--input", str(raw), "--output", str(tmp_path / "cur"), "--quarantine", str(tmp_path / "q")]
    out = subprocess.run(
        [sys.executable, "-m", "app.features", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    counts = json.loads(out.stdout[out.stdout.index("{") :])
    assert (counts["input_rows"], counts["quarantined_rows"]) == (300, 30)

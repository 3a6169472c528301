"""`tricloud monitor drift` on a user's own files: verdicts, exit codes, reports, and clear schema errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.data.generator import generate
from tricloud.cli import app


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, ["monitor", "drift", *args], catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    ref = generate(3000, seed=1).drop(columns=["price_inr"])
    same = generate(1000, seed=2).drop(columns=["price_inr"])
    moved = same.copy()
    moved["area_sqft"] = moved["area_sqft"] * 1.5
    out = {"ref": tmp_path / "ref.parquet", "same": tmp_path / "same.csv", "moved": tmp_path / "moved.csv"}
    ref.to_parquet(out["ref"], index=False)
    same.to_csv(out["same"], index=False)
    moved.to_csv(out["moved"], index=False)
    return out


def test_same_distribution_exits_0(files: dict[str, Path]) -> None:
    code, _, err = run("--reference", str(files["ref"]), "--current", str(files["same"]))
    assert code == 0 and "no drift" in err


def test_drift_exits_3_names_the_field_and_writes_the_reports(files: dict[str, Path], tmp_path: Path) -> None:
    html = tmp_path / "r.html"
    code, out, err = run("--reference", str(files["ref"]), "--current", str(files["moved"]), "--html", str(html),
                         "--json")  # fmt: skip
    doc = json.loads(out)
    assert code == 3 and doc["drifted_features"] == ["area_sqft"] and "area_sqft" in err
    assert html.read_text().startswith("<!doctype html>") and "area_sqft" in html.read_text()


def test_a_missing_column_is_one_clear_error(files: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    generate(500, seed=3).drop(columns=["furnishing", "floor"]).to_csv(bad, index=False)
    code, _, err = run("--reference", str(files["ref"]), "--current", str(bad))
    assert code == 2 and "--current" in err and "furnishing" in err and "floor" in err


def test_a_type_mismatch_names_the_column_and_value(files: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    frame = generate(500, seed=3)
    frame["area_sqft"] = "big"
    frame.to_csv(bad, index=False)
    code, _, err = run("--reference", str(files["ref"]), "--current", str(bad))
    assert code == 2 and "area_sqft" in err and "'big'" in err


def test_a_missing_file_is_a_usage_error(tmp_path: Path, files: dict[str, Path]) -> None:
    code, _, err = run("--reference", str(tmp_path / "nope.json"), "--current", str(files["same"]))
    assert code == 2 and "does not exist" in err

"""The listings generator and ``tricloud data generate``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from app.data import generate, write_listings
from app.schema import CITIES, TRAINING_FIELDS, validate_record
from tricloud.data_cli import app


def test_same_seed_same_frame_and_other_seed_differs() -> None:
    a, b, c = generate(500, seed=7), generate(500, seed=7), generate(500, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_clean_rows_all_pass_the_shared_schema() -> None:
    frame = generate(2000, seed=3)
    bad = [
        errs
        for rec in frame.to_dict("records")
        for _, errs in [validate_record(rec, fields=TRAINING_FIELDS)]
        if errs
    ]
    assert bad == []
    assert set(frame["city"]) == set(CITIES)


def test_relationships_are_realistic() -> None:
    f = generate(20000, seed=5)
    psf = f["price_inr"] / f["area_sqft"]
    by_city = psf.groupby(f["city"]).median()
    assert by_city["Mumbai"] > by_city["Delhi"] > by_city["Bengaluru"] > by_city["Ahmedabad"]
    by_tier = psf.groupby(f["locality_tier"]).median()
    assert by_tier[1] > by_tier[2] > by_tier[3]
    assert np.corrcoef(f["bedrooms"], f["area_sqft"])[0, 1] > 0.7
    assert f["price_inr"].between(5e5, 5e8).all()


def test_malformed_fraction_breaks_that_many_rows_and_keeps_the_rest() -> None:
    clean = generate(1000, seed=9)
    dirty = generate(1000, seed=9, malformed_fraction=0.1)
    results = [validate_record(r, fields=TRAINING_FIELDS)[1] for r in dirty.to_dict("records")]
    assert sum(1 for errs in results if errs) == 100
    untouched = [i for i, errs in enumerate(results) if not errs]
    pd.testing.assert_frame_equal(
        dirty.iloc[untouched].astype(str).reset_index(drop=True),
        clean.iloc[untouched].astype(str).reset_index(drop=True),
    )
    kinds = {e["code"] for errs in results for e in errs}
    assert {"missing", "wrong_type", "out_of_range", "not_allowed"} <= kinds


def test_cli_writes_csv_and_parquet(tmp_path: Path) -> None:
    runner = CliRunner()
    for name in ("l.csv", "l.parquet"):
        out = tmp_path / name
        res = runner.invoke(app, ["generate", "--rows", "300", "--out", str(out), "--seed", "4"])
        assert res.exit_code == 0, res.output
        assert "300 listings" in res.output
        back = pd.read_csv(out) if name.endswith(".csv") else pd.read_parquet(out)
        assert len(back) == 300
        np.testing.assert_allclose(back["price_inr"], generate(300, seed=4)["price_inr"])


def test_cli_malformed_parquet_is_readable_text(tmp_path: Path) -> None:
    out = tmp_path / "dirty.parquet"
    res = CliRunner().invoke(
        app, ["generate", "--rows", "200", "--out", str(out), "--malformed-fraction", "0.2"]
    )
    assert res.exit_code == 0, res.output
    assert len(pd.read_parquet(out)) == 200


def test_cli_errors_name_option_and_value(tmp_path: Path) -> None:
    runner = CliRunner()
    cases = [
        (["--rows", "0", "--out", str(tmp_path / "a.csv")], "--rows", "0"),
        (["--rows", "5", "--out", str(tmp_path / "a.txt")], "--out", "a.txt"),
        (
            ["--rows", "5", "--out", str(tmp_path / "a.csv"), "--malformed-fraction", "1.5"],
            "--malformed-fraction",
            "1.5",
        ),
    ]
    for args, option, value in cases:
        res = runner.invoke(app, ["generate", *args])
        assert res.exit_code == 2
        text = res.output + (res.stderr or "")
        assert option in text and value in text, text


def test_write_listings_rejects_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"x\.json"):
        write_listings(generate(5), tmp_path / "x.json")

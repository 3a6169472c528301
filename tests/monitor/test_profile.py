"""The reference profile's inputs: request fields recovered from the Spark job's curated features (the path the
platform trains on), and the profile's schema errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app.data.generator import generate
from app.features import FEATURE_NAMES, featurize_frame
from app.monitor.profile import SchemaMismatch, build_profile, profile_from_dict, window_from_columns
from app.train.core import FEATURE_PREFIX, request_columns


def test_request_fields_are_recovered_from_curated_features() -> None:
    raw = generate(300, seed=3)
    curated = pd.DataFrame(featurize_frame(raw), columns=[FEATURE_PREFIX + n for n in FEATURE_NAMES])
    cols = request_columns(curated)
    assert cols["city"] == raw["city"].tolist()
    assert cols["furnishing"] == raw["furnishing"].tolist()
    assert cols["bedrooms"] == raw["bedrooms"].astype(float).tolist()
    assert cols["floor"] == [float(min(f, 30)) for f in raw["floor"]] and max(raw["floor"]) > 30  # the cap
    assert np.allclose(cols["distance_to_metro_km"], raw["distance_to_metro_km"], rtol=1e-9)


def test_a_numeric_feature_is_summarised_by_hand() -> None:
    cols = {"city": ["Pune", "Pune", "Delhi", None], "area_sqft": [1.0, 2.0, 3.0, None]}
    p = build_profile(cols, [10.0, 20.0], kinds={"city": "categorical", "area_sqft": "numeric"})
    assert p.features["city"].counts == {"Pune": 2, "Delhi": 1} and p.features["city"].n == 3
    # mean 2, population SD sqrt(2/3); the missing value is dropped
    assert p.features["area_sqft"].mean == 2.0 and p.features["area_sqft"].std == pytest.approx(
        (2 / 3) ** 0.5
    )
    assert p.prediction is not None and p.prediction.values.tolist() == [10.0, 20.0]
    again = profile_from_dict(p.as_dict())
    assert again.features["area_sqft"].values.tolist() == [1.0, 2.0, 3.0]


def test_schema_errors_name_the_columns() -> None:
    kinds = {"city": "categorical", "area_sqft": "numeric"}
    with pytest.raises(SchemaMismatch, match="area_sqft"):
        window_from_columns({"city": ["Pune"]}, kinds)
    with pytest.raises(SchemaMismatch, match=r"'area_sqft'.*'big'"):
        window_from_columns({"city": ["Pune"], "area_sqft": ["big"]}, kinds)
    with pytest.raises(SchemaMismatch, match=r"'city'.*numbers"):
        window_from_columns({"city": [1, 2], "area_sqft": [1.0, 2.0]}, kinds)
    with pytest.raises(SchemaMismatch, match="format"):
        profile_from_dict({"format": "other/1", "features": {}})

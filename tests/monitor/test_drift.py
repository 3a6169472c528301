"""The drift rule on synthetic windows with known answers: fresh listings from the same generator are in
distribution (no alarm, across seeds), a planted shift is flagged on the field it was planted in."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app.data.generator import generate
from app.frontend.core import rule_estimate
from app.monitor.drift import Thresholds, compare
from app.monitor.profile import PREDICTION, build_profile, request_kinds, window_from_columns
from app.schema import FIELD_NAMES

KINDS = request_kinds()
WINDOW = 1000  # captured rows per window, as the benchmark states


def columns(frame: pd.DataFrame) -> dict[str, list]:
    cols = {n: frame[n].tolist() for n in FIELD_NAMES}
    cols[PREDICTION] = [rule_estimate(r) for r in frame[list(FIELD_NAMES)].to_dict("records")]
    return cols


@pytest.fixture(scope="module")
def reference():
    frame = generate(5000, seed=0)
    cols = columns(frame)
    return build_profile(cols, cols.pop(PREDICTION), model_version="m1"), frame


def window(frame: pd.DataFrame):
    return window_from_columns(columns(frame), {**KINDS, PREDICTION: "numeric"})


def test_in_distribution_windows_raise_no_alarm_across_seeds(reference) -> None:
    profile, _ = reference
    alarms = [compare(profile, window(generate(WINDOW, seed=s))).alarm for s in range(100, 140)]
    assert sum(alarms) / len(alarms) <= 0.05, alarms


def test_without_the_family_correction_false_alarms_would_be_common(reference) -> None:
    """What Holm-Bonferroni buys, with the effect floors off so significance alone decides: any unadjusted
    p < 0.05 among 11 tests happens on a large share of windows, the adjusted family stays near alpha."""
    profile, _ = reference
    raw_hits = alarms = 0
    no_floor = Thresholds(numeric_effect=0, categorical_effect=0)
    for s in range(200, 230):
        r = compare(profile, window(generate(WINDOW, seed=s)), no_floor)
        raw_hits += any(f.p_value < 0.05 for f in [*r.fields, r.prediction])
        alarms += r.alarm
    assert raw_hits >= 5  # expected ~ 1 - 0.95^11 = 43% (discrete fields are conservative), far above 5%
    assert alarms <= 3  # family-wise 5% of 30 windows is 1.5; 3 leaves room for chance


@pytest.mark.parametrize("feature", ["area_sqft", "age_years", "distance_to_metro_km", "bedrooms"])
def test_a_half_sd_shift_is_flagged_on_that_feature(reference, feature: str) -> None:
    profile, ref_frame = reference
    sd = float(ref_frame[feature].std())
    for s in range(300, 305):
        frame = generate(WINDOW, seed=s)
        frame[feature] = frame[feature] + 0.5 * sd
        result = compare(profile, window(frame))
        assert result.alarm and feature in result.drifted_features, (feature, s, result.drifted_features)
        field = next(f for f in result.fields if f.name == feature)
        assert field.effect == pytest.approx(0.5, abs=0.12)  # a pure shift moves the mass 0.5 SD


def test_a_new_furnishing_mix_is_flagged(reference) -> None:
    profile, _ = reference
    frame = generate(WINDOW, seed=7)
    rng = np.random.default_rng(7)
    frame.loc[rng.random(WINDOW) < 0.5, "furnishing"] = "furnished"
    result = compare(profile, window(frame))
    assert "furnishing" in result.drifted_features and "city" not in result.drifted_features


def test_a_tiny_shift_on_a_huge_window_is_significant_but_not_drift(reference) -> None:
    """At 50,000 rows a 0.03-SD shift has a tiny p-value; the effect floor (0.1 SD) keeps it from paging."""
    profile, ref_frame = reference
    frame = generate(50_000, seed=9)
    frame["area_sqft"] = frame["area_sqft"] + 0.03 * float(ref_frame["area_sqft"].std())
    field = next(f for f in compare(profile, window(frame)).fields if f.name == "area_sqft")
    assert field.effect < 0.1 and not field.drifted


def test_too_few_rows_are_not_judged(reference) -> None:
    profile, _ = reference
    frame = generate(150, seed=1)
    frame["area_sqft"] = frame["area_sqft"] * 3  # drifted, but too few rows to say
    result = compare(profile, window(frame), Thresholds(min_rows=200))
    assert result.status == "insufficient_data" and not result.alarm and result.fields == []


def test_prediction_drift_alone_raises_the_alarm(reference) -> None:
    profile, _ = reference
    frame = generate(WINDOW, seed=21)
    w = window(frame)
    w.columns[PREDICTION] = w.columns[PREDICTION] * 1.6  # a broken model: same inputs, prices up 60%
    result = compare(profile, w)
    assert result.drifted_features == [] and result.prediction is not None and result.prediction.drifted
    assert result.alarm


def test_thresholds_are_validated() -> None:
    with pytest.raises(ValueError, match="alpha"):
        Thresholds(alpha=0.9).check()

"""The drift statistics against SciPy (an independent implementation) and hand-worked answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as st
from scipy.spatial.distance import jensenshannon

from app.monitor import stats


@pytest.mark.parametrize(
    ("n", "m", "shift"), [(300, 500, 0.2), (1000, 1000, 0.0), (1000, 5000, 0.1), (60, 90, 0.6)]
)
def test_ks_matches_scipy(n: int, m: int, shift: float) -> None:
    rng = np.random.default_rng(n + m)
    a, b = rng.normal(size=n), rng.normal(shift, 1, size=m)
    d, p = stats.ks_2samp(a, b)
    ref = st.ks_2samp(a, b, method="asymp")
    assert d == pytest.approx(ref.statistic, abs=1e-12)
    # Stephens' correction of the asymptotic distribution differs from SciPy's plain asymptotic by a few %.
    assert p == pytest.approx(ref.pvalue, rel=0.08, abs=1e-6)


def test_ks_by_hand() -> None:
    # CDFs of {1,2,3} and {4,5,6} are 1 apart between 3 and 4: D = 1.
    assert stats.ks_2samp(np.array([1.0, 2, 3]), np.array([4.0, 5, 6]))[0] == 1.0
    assert stats.ks_2samp(np.array([1.0, 2, 3]), np.array([1.0, 2, 3])) == (0.0, 1.0)


@pytest.mark.parametrize(("x", "k"), [(0.5, 1), (3.2, 4), (20.0, 7), (100.0, 50), (1e-3, 3), (7.78, 3)])
def test_chi2_survival_matches_scipy(x: float, k: int) -> None:
    assert stats.chi2_sf(x, k) == pytest.approx(st.chi2.sf(x, k), rel=1e-9)


def test_chi2_homogeneity_matches_scipy_and_keeps_new_categories() -> None:
    ref, cur = {"x": 30, "y": 50, "z": 20}, {"x": 45, "y": 40, "z": 15, "w": 3}
    stat, p, dof = stats.chi2_homogeneity(ref, cur)
    expected = st.chi2_contingency([[30, 50, 20, 0], [45, 40, 15, 3]], correction=False)
    assert (stat, dof) == (pytest.approx(expected[0]), 3)
    assert p == pytest.approx(expected[1], rel=1e-9)


def test_wasserstein_matches_scipy_and_a_pure_shift() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=400), rng.exponential(size=700)
    assert stats.wasserstein(a, b) == pytest.approx(st.wasserstein_distance(a, b), rel=1e-9)
    assert stats.wasserstein(a, a + 0.5) == pytest.approx(0.5, rel=1e-9)  # moving every point 0.5 costs 0.5


def test_jensen_shannon_matches_scipy() -> None:
    ref, cur = {"x": 30, "y": 50, "z": 20}, {"x": 45, "y": 40, "z": 15, "w": 3}
    assert stats.jensen_shannon(ref, cur) == pytest.approx(
        jensenshannon([30, 50, 20, 0], [45, 40, 15, 3], base=2), rel=1e-9
    )
    assert stats.jensen_shannon({"a": 1}, {"b": 1}) == 1.0  # disjoint
    assert stats.jensen_shannon({"a": 2, "b": 2}, {"a": 5, "b": 5}) == 0.0


def test_holm_by_hand() -> None:
    # sorted p: 0.005 (x4 = 0.02), 0.01 (x3 = 0.03), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04 -> running max 0.06)
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.5]) == [0.5]
    assert all(not math.isnan(v) for v in stats.holm([1.0, 1.0, 0.9]))

"""The drift statistics, numpy only: the job must run on the Spark platforms' stock Python, where SciPy is not a given.

- ``ks_2samp``: two-sample Kolmogorov-Smirnov statistic and its asymptotic p-value (Stephens' small-sample
  correction of the Kolmogorov distribution, as in Numerical Recipes' ``probks``).
- ``chi2_homogeneity``: Pearson's chi-square test that two samples of categories share one distribution, with the
  p-value from the regularized upper incomplete gamma function.
- ``wasserstein``: the 1-Wasserstein (earth mover's) distance between two empirical distributions.
- ``jensen_shannon``: the Jensen-Shannon distance (base 2, in [0, 1]) between two category distributions.
- ``holm``: Holm-Bonferroni step-down adjustment of a family of p-values.

tests/monitor/test_stats.py checks every one against SciPy on known inputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

_EPS = 1e-12


def ks_2samp(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(D, p): the largest gap between the two empirical CDFs and the asymptotic two-sided p-value."""
    a, b = np.sort(np.asarray(a, dtype=float)), np.sort(np.asarray(b, dtype=float))
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        raise ValueError("ks_2samp needs two non-empty samples")
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / n
    cdf_b = np.searchsorted(b, grid, side="right") / m
    d = float(np.max(np.abs(cdf_a - cdf_b)))
    en = math.sqrt(n * m / (n + m))
    return d, _kolmogorov_q((en + 0.12 + 0.11 / en) * d)


def _kolmogorov_q(lam: float) -> float:
    """P(K > lam) of the Kolmogorov distribution: 2 sum_j (-1)^(j-1) exp(-2 j^2 lam^2)."""
    if lam < 0.2:
        return 1.0  # the series converges slowly there and the answer is 1 to many digits
    total, sign, last = 0.0, 1.0, 0.0
    for j in range(1, 101):
        term = sign * 2.0 * math.exp(-2.0 * j * j * lam * lam)
        total += term
        if abs(term) <= 1e-10 * abs(total) or abs(term) <= 1e-16 * last:
            return min(1.0, max(0.0, total))
        sign, last = -sign, abs(term)
    return min(1.0, max(0.0, total))


def chi2_homogeneity(ref: Mapping[str, float], cur: Mapping[str, float]) -> tuple[float, float, int]:
    """(statistic, p, degrees of freedom) of the 2 x K contingency table of two count mappings.

    Categories absent from both are dropped; a category only one side has is kept (a new value is drift).
    """
    cats = sorted(k for k in set(ref) | set(cur) if ref.get(k, 0) + cur.get(k, 0) > 0)
    table = np.array([[ref.get(k, 0) for k in cats], [cur.get(k, 0) for k in cats]], dtype=float)
    rows = table.sum(axis=1)
    if len(cats) < 2 or rows.min() <= 0:
        return 0.0, 1.0, 0
    expected = np.outer(rows, table.sum(axis=0)) / table.sum()
    stat = float(((table - expected) ** 2 / expected).sum())
    dof = len(cats) - 1
    return stat, chi2_sf(stat, dof), dof


def chi2_sf(x: float, dof: int) -> float:
    """P(X > x) for X ~ chi-square(dof): the regularized upper incomplete gamma Q(dof/2, x/2)."""
    if x <= 0:
        return 1.0
    return _gammq(dof / 2.0, x / 2.0)


def _gammq(a: float, x: float) -> float:
    if x < a + 1.0:  # the series for P converges fast here
        term = total = 1.0 / a
        ap = a
        for _ in range(1000):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(-x + a * math.log(x) - math.lgamma(a)))
    # Lentz's continued fraction for Q.
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return min(1.0, math.exp(-x + a * math.log(x) - math.lgamma(a)) * h)


def wasserstein(a: np.ndarray, b: np.ndarray) -> float:
    """Integral of |F_a - F_b| over the line: how far, in the feature's unit, the mass moved."""
    a, b = np.sort(np.asarray(a, dtype=float)), np.sort(np.asarray(b, dtype=float))
    grid = np.sort(np.concatenate([a, b]))
    widths = np.diff(grid)
    cdf_a = np.searchsorted(a, grid[:-1], side="right") / len(a)
    cdf_b = np.searchsorted(b, grid[:-1], side="right") / len(b)
    return float(np.sum(np.abs(cdf_a - cdf_b) * widths))


def jensen_shannon(ref: Mapping[str, float], cur: Mapping[str, float]) -> float:
    """Jensen-Shannon distance, base 2: 0 for equal distributions, 1 for disjoint ones."""
    cats = sorted(set(ref) | set(cur))
    p = np.array([ref.get(k, 0) for k in cats], dtype=float)
    q = np.array([cur.get(k, 0) for k in cats], dtype=float)
    if p.sum() <= 0 or q.sum() <= 0:
        return 0.0
    p, q = p / p.sum(), q / q.sum()
    mid = (p + q) / 2

    def kl(x: np.ndarray) -> float:
        mask = x > 0
        return float(np.sum(x[mask] * np.log2(x[mask] / mid[mask])))

    return math.sqrt(max(0.0, (kl(p) + kl(q)) / 2))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values: reject test i at family level alpha when adjusted[i] < alpha."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def quantiles(values: np.ndarray, qs: Sequence[float]) -> list[float]:
    return [float(x) for x in np.quantile(np.asarray(values, dtype=float), qs)] if len(values) else []


def safe_scale(std: float, values: np.ndarray) -> float:
    """The unit a distance is measured in: the reference's standard deviation, else its range, else 1."""
    if std > _EPS:
        return std
    span = float(np.ptp(values)) if len(values) else 0.0
    return span if span > _EPS else 1.0

"""How drift is judged: one family of tests over the features and the prediction, with a significance and a size.

Per numeric field: the two-sample Kolmogorov-Smirnov test, and the 1-Wasserstein distance in units of the
reference's standard deviation (how far the mass moved). Per categorical field: Pearson's chi-square test of
homogeneity, and the Jensen-Shannon distance (base 2). The prediction is one more numeric test, on log price (the
model predicts log price; a 10% shift weighs the same in Kolkata and in Mumbai).

A field drifts when BOTH hold:
- its p-value, Holm-Bonferroni adjusted over the whole family (every field and the prediction), is below
  ``alpha``: with ten fields tested at once, an unadjusted 5% test would raise a false alarm on ~40% of windows;
- its effect is at least ``numeric_effect`` / ``categorical_effect``: at a million rows a day every p-value is
  tiny, and only a change of a size that matters should page anyone or retrain a model.

The alarm (``DriftResult.alarm``) is on when at least ``alarm_min_features`` fields drift, or the prediction does.
A window with fewer than ``min_rows`` rows is not judged (``insufficient_data``): it never raises the alarm.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from app.monitor import stats
from app.monitor.profile import CATEGORICAL, PREDICTION, FeatureRef, Profile, Window


@dataclass(frozen=True)
class Thresholds:
    alpha: float = 0.05  # family-wise false-alarm rate of one window (Holm-Bonferroni over every field)
    numeric_effect: float = 0.1  # Wasserstein distance in reference SDs that counts as a change
    categorical_effect: float = 0.1  # Jensen-Shannon distance that counts as a change
    min_rows: int = 200  # fewer captured rows than this: not judged
    alarm_min_features: int = 1  # drifted fields that raise the alarm (the prediction alone raises it too)

    def check(self) -> None:
        for name, value, low, high in (
            ("alpha", self.alpha, 1e-6, 0.5),
            ("numeric_effect", self.numeric_effect, 0.0, 10.0),
            ("categorical_effect", self.categorical_effect, 0.0, 1.0),
            ("min_rows", self.min_rows, 1, 10**9),
            ("alarm_min_features", self.alarm_min_features, 1, 1000),
        ):
            if not low <= value <= high:
                raise ValueError(f"threshold {name} must be between {low} and {high}, got {value!r}")


@dataclass
class FieldDrift:
    name: str
    kind: str
    test: str  # ks | chi2
    statistic: float
    p_value: float
    p_adjusted: float
    effect_name: str  # wasserstein_sd | jensen_shannon
    effect: float
    drifted: bool
    reference_rows: int
    current_rows: int
    missing_share: float
    reference_summary: dict[str, Any] = field(default_factory=dict)
    current_summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class DriftResult:
    status: str  # ok | drift | insufficient_data
    alarm: bool
    rows: int
    fields: list[FieldDrift]
    prediction: FieldDrift | None
    drifted_features: list[str]
    drift_share: float
    thresholds: Thresholds

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "alarm": self.alarm,
            "rows": self.rows,
            "drifted_features": self.drifted_features,
            "drift_share": self.drift_share,
            "features": [asdict(f) for f in self.fields],
            "prediction": asdict(self.prediction) if self.prediction else None,
            "thresholds": asdict(self.thresholds),
        }


def _numeric(ref: FeatureRef, cur: np.ndarray, log: bool = False) -> tuple[float, float, float, dict, dict]:
    cur = cur[~np.isnan(cur)]
    r = ref.values
    if log:
        r, cur = np.log(np.clip(r, 1e-9, None)), np.log(np.clip(cur, 1e-9, None))
    d, p = stats.ks_2samp(r, cur)
    scale = stats.safe_scale(float(np.std(r)) if log else ref.std, r)
    effect = stats.wasserstein(r, cur) / scale
    qs = (0.05, 0.25, 0.5, 0.75, 0.95)

    def summary(x: np.ndarray) -> dict[str, Any]:
        return {"mean": float(np.mean(x)), "std": float(np.std(x)), "quantiles": stats.quantiles(x, qs)}

    return d, p, effect, summary(r), summary(cur)


def _categorical(ref: FeatureRef, cur: np.ndarray) -> tuple[float, float, float, dict, dict]:
    counts: dict[str, int] = {}
    for v in cur:
        if v is not None:
            counts[str(v)] = counts.get(str(v), 0) + 1
    stat, p, _ = stats.chi2_homogeneity(ref.counts, counts)
    effect = stats.jensen_shannon(ref.counts, counts)

    def shares(c: dict[str, int]) -> dict[str, float]:
        total = sum(c.values()) or 1
        return {k: v / total for k, v in sorted(c.items())}

    return stat, p, effect, {"shares": shares(ref.counts)}, {"shares": shares(counts)}


def compare(profile: Profile, window: Window, thresholds: Thresholds | None = None) -> DriftResult:
    """Judge one window against the reference (see the module docstring for the rule)."""
    th = thresholds or Thresholds()
    th.check()
    if window.rows < th.min_rows:
        return DriftResult("insufficient_data", False, window.rows, [], None, [], 0.0, th)
    raw: list[tuple[str, str, str, float, float, str, float, int, int, float, dict, dict]] = []
    for name, ref in profile.features.items():
        col = window.columns[name]
        if ref.kind == CATEGORICAL:
            present = np.asarray([v is not None for v in col], dtype=bool)
            stat, p, effect, rs, cs = _categorical(ref, col)
            raw.append((name, ref.kind, "chi2", stat, p, "jensen_shannon", effect, ref.n, int(present.sum()),
                        1 - present.mean() if len(col) else 0.0, rs, cs))  # fmt: skip
        else:
            present = ~np.isnan(col)
            if not present.any():
                raw.append(
                    (name, ref.kind, "ks", 1.0, 0.0, "wasserstein_sd", math.inf, ref.n, 0, 1.0, {}, {})
                )
                continue
            stat, p, effect, rs, cs = _numeric(ref, col)
            raw.append((name, ref.kind, "ks", stat, p, "wasserstein_sd", effect, ref.n, int(present.sum()),
                        1 - present.mean(), rs, cs))  # fmt: skip
    pred_col = window.columns.get(PREDICTION)
    judged_pred = (
        profile.prediction is not None and pred_col is not None and bool((~np.isnan(pred_col)).sum())
    )
    if judged_pred:
        assert profile.prediction is not None and pred_col is not None
        stat, p, effect, rs, cs = _numeric(profile.prediction, pred_col, log=True)
        n_cur = int((~np.isnan(pred_col)).sum())
        raw.append((PREDICTION, "numeric", "ks", stat, p, "wasserstein_sd_log", effect, profile.prediction.n,
                    n_cur, 1 - n_cur / max(1, len(pred_col)), rs, cs))  # fmt: skip
    adjusted = stats.holm([r[4] for r in raw])
    results: list[FieldDrift] = []
    for r, p_adj in zip(raw, adjusted, strict=True):
        name, kind, test, stat, p, effect_name, effect, n_ref, n_cur, missing, rs, cs = r
        floor = th.categorical_effect if kind == CATEGORICAL else th.numeric_effect
        results.append(
            FieldDrift(name, kind, test, float(stat), float(p), float(p_adj), effect_name, float(effect),
                       bool(p_adj < th.alpha and effect >= floor), n_ref, n_cur, float(missing), rs, cs)
        )  # fmt: skip
    prediction = results.pop() if judged_pred else None
    drifted = [f.name for f in results if f.drifted]
    share = len(drifted) / len(results) if results else 0.0
    alarm = len(drifted) >= th.alarm_min_features or bool(prediction and prediction.drifted)
    return DriftResult(
        "drift" if alarm else "ok", alarm, window.rows, results, prediction, drifted, share, th
    )

"""The drift job's outputs: the JSON summary (what alarms, dashboards and CI read), the metric points published to
the cloud's monitoring service, and a self-contained HTML report (inline SVG, no script, no external asset)."""

from __future__ import annotations

import html
import math
import time
from collections import Counter
from typing import Any, NamedTuple

import numpy as np

from app.monitor.drift import DriftResult
from app.monitor.profile import CATEGORICAL, PREDICTION, Profile, Window

SUMMARY_FORMAT = "tricloud.drift/1"
# Published under this namespace on every cloud (CloudWatch namespace, Azure custom metric namespace, the
# custom.googleapis.com/tricloud/ prefix on GCP); Observability's alarms and panels read these names.
METRIC_NAMESPACE = "tricloud/monitoring"
METRICS = (
    "DriftDetected",
    "DriftedFeatures",
    "DriftShare",
    "PredictionDrift",
    "FallbackRate",
    "CapturedRows",
    "FeatureDrift",
    "ModelMape",
)


class Point(NamedTuple):
    name: str
    value: float
    unit: str  # Count | None | Percent (CloudWatch's words; the other publishers map them)
    dimensions: dict[str, str]


def summarize(
    profile: Profile,
    window: Window,
    result: DriftResult,
    *,
    performance: dict[str, Any] | None = None,
    window_start: str = "",
    window_end: str = "",
    source: str = "",
) -> dict[str, Any]:
    """The JSON summary written to the lake and printed by `tricloud monitor drift --json`."""
    versions = Counter(window.model_versions)
    fallback_rate = float(window.fallback.mean()) if len(window.fallback) else 0.0
    lat = window.latency_ms[window.latency_ms > 0] if len(window.latency_ms) else np.empty(0)
    alarm = result.alarm or bool(performance and performance.get("degraded"))
    return {
        "format": SUMMARY_FORMAT,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "source": source,
        "window": {
            "start": window_start or min((t for t in window.times if t), default=""),
            "end": window_end or max((t for t in window.times if t), default=""),
            "rows": window.rows,
            "requests": len(set(window.request_ids)) if window.request_ids else window.rows,
            "model_versions": dict(versions.most_common()),
        },
        "reference": {"model_version": profile.model_version, "created_at": profile.created_at},
        **result.as_dict(),
        "alarm": alarm,
        "fallback_rate": fallback_rate,
        "latency_ms": {
            "p50": float(np.percentile(lat, 50)) if len(lat) else None,
            "p99": float(np.percentile(lat, 99)) if len(lat) else None,
        },
        "performance": performance,
    }


def metric_points(summary: dict[str, Any], dimensions: dict[str, str]) -> list[Point]:
    """The numbers alarms and dashboards read, one point each per run (a feature's drift per Feature)."""
    judged = summary["status"] != "insufficient_data"
    points = [
        Point("CapturedRows", float(summary["window"]["rows"]), "Count", dimensions),
        Point("FallbackRate", 100.0 * summary["fallback_rate"], "Percent", dimensions),
    ]
    if judged:
        pred = summary.get("prediction") or {}
        points += [
            Point("DriftDetected", 1.0 if summary["alarm"] else 0.0, "Count", dimensions),
            Point("DriftedFeatures", float(len(summary["drifted_features"])), "Count", dimensions),
            Point("DriftShare", 100.0 * summary["drift_share"], "Percent", dimensions),
        ]
        if pred:
            points.append(Point("PredictionDrift", _finite(pred["effect"]), "None", dimensions))
        for f in summary["features"]:
            points.append(
                Point("FeatureDrift", _finite(f["effect"]), "None", {**dimensions, "Feature": f["name"]})
            )
    perf = summary.get("performance") or {}
    if perf.get("metrics"):
        points.append(Point("ModelMape", 100.0 * perf["metrics"]["mape"], "Percent", dimensions))
    return points


def _finite(x: float) -> float:
    return x if math.isfinite(x) else 1e6


# --- HTML -------------------------------------------------------------------------------------------------------

_CSS = (
    "body{font:14px system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f3f3f3}td:first-child{text-align:left}"
    ".drift{background:#fde2e1}.ok{background:#e3f4e1}h2{margin-top:28px}.fig{display:inline-block;margin:6px}"
)
_REF, _CUR = "#4c78a8", "#e45756"


def render_html(profile: Profile, window: Window, summary: dict[str, Any]) -> str:
    """The report a person opens: verdict, per-field table, one chart per field (reference vs current)."""
    e = html.escape
    verdict = {
        "drift": "DRIFT: the alarm is raised",
        "ok": "no drift",
        "insufficient_data": f"not judged: {summary['rows']} rows (fewer than min_rows)",
    }[summary["status"]]
    if summary.get("performance", {}) and (summary["performance"] or {}).get("degraded"):
        verdict += "; model performance DEGRADED on ground truth"
    rows = []
    fields = list(summary["features"]) + ([summary["prediction"]] if summary.get("prediction") else [])
    for f in fields:
        cls = "drift" if f["drifted"] else "ok"
        rows.append(
            f"<tr class={cls}><td>{e(f['name'])}</td><td>{e(f['kind'])}</td><td>{e(f['test'])}</td>"
            f"<td>{f['statistic']:.4f}</td><td>{f['p_value']:.3g}</td><td>{f['p_adjusted']:.3g}</td>"
            f"<td>{e(f['effect_name'])} {f['effect']:.3f}</td><td>{'yes' if f['drifted'] else 'no'}</td></tr>"
        )
    th = summary["thresholds"]
    w = summary["window"]
    charts = [_chart(name, profile, window) for name in [*profile.features, PREDICTION]]
    perf = summary.get("performance") or {}
    perf_html = ""
    if perf:
        m, ref = perf.get("metrics") or {}, perf.get("reference_metrics") or {}
        perf_html = (
            f"<h2>Ground truth</h2><p>{perf['matched_rows']} predictions matched to sale prices: {e(perf['status'])}</p>"
            + (
                "<table><tr><th>metric</th><th>now</th><th>held-out at training</th></tr>"
                + "".join(
                    f"<tr><td>{k}</td><td>{m[k]:.4g}</td><td>{ref.get(k, float('nan')):.4g}</td></tr>"
                    for k in m
                )
                + "</table>"
                if m
                else ""
            )
        )
    return (
        "<!doctype html><html><head><meta charset=utf-8><title>tricloud drift report</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>Drift report: {e(verdict)}</h1>"
        f"<p>Window {e(w['start'])} to {e(w['end'])}: {w['rows']} captured rows, {w['requests']} requests; "
        f"model versions {e(', '.join(f'{k} ({v})' for k, v in w['model_versions'].items()))}. "
        f"Reference: model {e(summary['reference']['model_version'] or '?')}. "
        f"Fallback rate {100 * summary['fallback_rate']:.2f}%.</p>"
        f"<p>Rule: a field drifts when its Holm-adjusted p-value is below {th['alpha']} and its effect is at least "
        f"{th['numeric_effect']} reference SDs (Wasserstein, numeric) or {th['categorical_effect']} (Jensen-Shannon, "
        f"categorical); the alarm needs {th['alarm_min_features']} drifted field(s) or a drifted prediction.</p>"
        "<table><tr><th>field</th><th>kind</th><th>test</th><th>statistic</th><th>p</th><th>p (Holm)</th>"
        f"<th>effect</th><th>drifted</th></tr>{''.join(rows)}</table>"
        f"{perf_html}<h2>Distributions</h2><p><span style='color:{_REF}'>&#9632; reference</span> "
        f"<span style='color:{_CUR}'>&#9632; current</span></p>{''.join(c for c in charts if c)}</body></html>"
    )


def _chart(name: str, profile: Profile, window: Window) -> str:
    ref = profile.prediction if name == PREDICTION else profile.features.get(name)
    cur = window.columns.get(name)
    if ref is None or cur is None:
        return ""
    if ref.kind == CATEGORICAL:
        cats = sorted(set(ref.counts) | {str(v) for v in cur if v is not None})
        total_r = sum(ref.counts.values()) or 1
        cur_counts = Counter(str(v) for v in cur if v is not None)
        total_c = sum(cur_counts.values()) or 1
        pairs = [(c, ref.counts.get(c, 0) / total_r, cur_counts.get(c, 0) / total_c) for c in cats]
        labels = [c for c, _, _ in pairs]
        return _bars(name, labels, [a for _, a, _ in pairs], [b for _, _, b in pairs])
    values = cur[~np.isnan(cur.astype(float))].astype(float)
    if not len(values):
        return ""
    both = np.concatenate([ref.values, values])
    lo, hi = np.quantile(both, [0.005, 0.995])
    if hi <= lo:
        lo, hi = float(both.min()), float(both.max()) + 1
    edges = np.linspace(lo, hi, 21)
    r = np.histogram(np.clip(ref.values, lo, hi), edges)[0] / len(ref.values)
    c = np.histogram(np.clip(values, lo, hi), edges)[0] / len(values)
    labels = [f"{edges[i]:.3g}" for i in range(20)]
    return _bars(name, labels, list(r), list(c))


def _bars(title: str, labels: list[str], ref: list[float], cur: list[float]) -> str:
    width, height, pad = 420, 160, 20
    n = max(1, len(labels))
    top = max([*ref, *cur, 1e-9])
    slot = (width - 2 * pad) / n
    bars = []
    for i, (a, b) in enumerate(zip(ref, cur, strict=True)):
        x = pad + i * slot
        for j, (v, color) in enumerate(((a, _REF), (b, _CUR))):
            h = (height - 2 * pad) * v / top
            bars.append(
                f"<rect x='{x + j * slot / 2:.1f}' y='{height - pad - h:.1f}' width='{max(slot / 2 - 1, 1):.1f}' "
                f"height='{h:.1f}' fill='{color}'><title>{html.escape(labels[i])}: {v:.3f}</title></rect>"
            )
    return (
        f"<div class=fig><svg width='{width}' height='{height}' role='img' aria-label='{html.escape(title)}'>"
        f"<text x='{pad}' y='14'>{html.escape(title)}</text>{''.join(bars)}"
        f"<text x='{pad}' y='{height - 4}' font-size='10'>{html.escape(labels[0])}</text>"
        f"<text x='{width - pad}' y='{height - 4}' font-size='10' text-anchor='end'>{html.escape(labels[-1])}</text>"
        "</svg></div>"
    )

"""The ground-truth check: when sale prices arrive (days or months after the prediction), join them to the captured
predictions by request id and row, and compare the model's error with its held-out error at training time.

Ground-truth rows: ``request_id``, ``row`` (default 0) and ``price_inr`` (CSV or JSON lines, written by whoever
learns the sale price: a CRM export, a registry feed). Fallback answers are left out: they are the rule's errors,
not the model's.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from app.monitor.profile import PREDICTION, Window
from app.schema import LABEL


def ground_truth_from_bytes(data: bytes, name: str = "") -> dict[tuple[str, int], float]:
    """{(request_id, row): price} from CSV (a header row) or JSON lines; rows without a price are skipped."""
    text = data.decode("utf-8", errors="replace")
    rows: list[Mapping[str, Any]]
    if name.endswith(".csv") or (text[:1] not in "{[" and "," in text.split("\n", 1)[0]):
        rows = list(csv.DictReader(io.StringIO(text)))
    else:
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    out: dict[tuple[str, int], float] = {}
    for r in rows:
        rid, price = r.get("request_id"), r.get(LABEL.name)
        if not rid or price in (None, ""):
            continue
        try:
            value = float(price)
        except (TypeError, ValueError):
            continue
        if math.isfinite(value) and value > 0:
            out[(str(rid), int(r.get("row") or 0))] = value
    return out


def check(
    window: Window,
    truth: Mapping[tuple[str, int], float],
    reference_metrics: Mapping[str, float],
    *,
    max_mape_increase: float = 0.25,
    min_matched: int = 30,
) -> dict[str, Any]:
    """Metrics on the matched rows and whether they are worse than the held-out ones by more than the tolerance
    (MAPE above reference MAPE x (1 + max_mape_increase))."""
    preds = window.columns.get(PREDICTION)
    pairs: list[tuple[float, float]] = []
    if preds is not None:
        for i, (rid, row) in enumerate(zip(window.request_ids, window.row_index, strict=True)):
            fallback = bool(window.fallback[i]) if len(window.fallback) else False
            key = (rid, row)
            if key in truth and not fallback and not math.isnan(preds[i]):
                pairs.append((truth[key], float(preds[i])))
    result: dict[str, Any] = {"matched_rows": len(pairs), "min_matched": min_matched}
    if len(pairs) < min_matched:
        return {**result, "status": "insufficient_data", "degraded": False}
    y, p = np.asarray([a for a, _ in pairs]), np.asarray([b for _, b in pairs])
    metrics = regression(y, p)
    ref_mape = reference_metrics.get("mape")
    limit = ref_mape * (1 + max_mape_increase) if ref_mape else None
    degraded = bool(limit is not None and metrics["mape"] > limit)
    return {
        **result,
        "status": "degraded" if degraded else "ok",
        "degraded": degraded,
        "metrics": metrics,
        "reference_metrics": {
            k: reference_metrics[k] for k in ("rmse", "mae", "mape", "r2") if k in reference_metrics
        },
        "mape_limit": limit,
    }


def regression(y: Sequence[float] | np.ndarray, p: Sequence[float] | np.ndarray) -> dict[str, float]:
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    err = p - y
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return {
        "rmse": float(math.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "mape": float(np.mean(np.abs(err) / np.abs(y))),
        "r2": float(1 - np.sum(err**2) / ss_tot) if ss_tot > 0 else 0.0,
    }

"""Prediction capture: one JSON line per captured row on the ``tricloud.capture`` logger, nothing else.

The line goes where the function's logs go, and each cloud's log pipeline carries it to the lake's artifacts zone
without a call on the request path: a CloudWatch Logs subscription filter into Firehose (AWS), the Function App's
diagnostic setting (Azure), a Cloud Logging sink (GCP). A per-request object write would cost a PUT per request
(~5 USD a day at a million requests on S3) and add its latency to every answer; a log line costs microseconds.

``CAPTURE_PERCENT`` (0-100, default 0: a deployment turns it on) is the share of requests captured, decided by a
hash of the request id, so a request is captured whole or not at all and a replay makes the same choice.
Stdlib only, like the rest of the handler bundle.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Mapping
from typing import Any

CAPTURE_LOGGER = "tricloud.capture"
CAPTURE_EVENT = "capture"
CAPTURE_VERSION = 1
capture_log = logging.getLogger(CAPTURE_LOGGER)


def capture_percent(env: Mapping[str, str] | None = None) -> float:
    """The configured share in percent; a bad value captures nothing (and says so once), never fails a request."""
    raw = (os.environ if env is None else env).get("CAPTURE_PERCENT", "0").strip() or "0"
    try:
        value = float(raw)
    except ValueError:
        _warn_once(f"CAPTURE_PERCENT must be a number between 0 and 100, got {raw!r}: capture is off")
        return 0.0
    if not math.isfinite(value) or not 0 <= value <= 100:
        _warn_once(f"CAPTURE_PERCENT must be between 0 and 100, got {raw!r}: capture is off")
        return 0.0
    return value


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        logging.getLogger("app.frontend").warning(message)


def sampled(request_id: str, percent: float) -> bool:
    """Deterministic in the request id: the first 32 bits of its SHA-256 against the share."""
    if percent >= 100:
        return True
    if percent <= 0:
        return False
    bucket = int.from_bytes(hashlib.sha256(request_id.encode()).digest()[:4], "big") / 2**32
    return bucket < percent / 100


def capture_lines(
    request_id: str,
    cloud: str,
    records: list[dict[str, Any]],
    predictions: list[float],
    model_version: str | None,
    fallback: bool,
    latency_ms: float,
    now: float | None = None,
) -> list[str]:
    """One JSON line per row: the validated request fields, the prediction, and what answered."""
    stamp = now if now is not None else time.time()
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)) + f".{int(stamp * 1000) % 1000:03d}Z"
    lines = []
    for i, (row, pred) in enumerate(zip(records, predictions, strict=False)):
        doc = {
            "event": CAPTURE_EVENT,
            "v": CAPTURE_VERSION,
            "ts": ts,
            "request_id": request_id,
            "row": i,
            "cloud": cloud,
            "model_version": model_version,
            "fallback": fallback,
            "latency_ms": round(latency_ms, 2),
            **row,
            "prediction": pred,
        }
        lines.append(json.dumps(doc, separators=(",", ":"), allow_nan=False, default=str))
    return lines


def capture(
    request_id: str,
    cloud: str,
    records: list[dict[str, Any]],
    predictions: list[float],
    model_version: str | None,
    fallback: bool,
    latency_ms: float,
    percent: float | None = None,
) -> int:
    """Log the capture lines of one answered request if it is sampled; returns how many were written."""
    share = capture_percent() if percent is None else percent
    if not records or not predictions or not sampled(request_id, share):
        return 0
    lines = capture_lines(request_id, cloud, records, predictions, model_version, fallback, latency_ms)
    for line in lines:
        capture_log.info(line)
    return len(lines)

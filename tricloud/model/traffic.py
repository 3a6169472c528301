"""Real test traffic during a canary bake: held-out listings sent at a fixed rate, so the rollback alarms have data.

SageMaker's alarms treat missing data as not breaching: a canary that gets no requests can never be judged. The
sender runs in its own thread while the endpoint update is in progress and keeps every outcome, so the command can
print what the canary was judged on (and, on Azure/GCP, judge it itself with the same thresholds as the alarms).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Send = Callable[[list[dict[str, Any]]], Any]  # sends one batch; raises on an error answer


@dataclass
class TrafficStats:
    sent: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    last_error: str = ""
    answers: dict[str, int] = field(default_factory=dict)  # who answered (variant / deployment), when known

    def numbers(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else None
        return {
            "sent": self.sent,
            "errors": self.errors,
            "p50_ms": round(statistics.median(lat), 1) if lat else None,
            "p99_ms": round(p99, 1) if p99 is not None else None,
            "answered_by": dict(self.answers),
            "last_error": self.last_error,
        }


class Traffic:
    """Send one listing per request, `rate` requests a second, cycling through `rows`, until `stop()`."""

    def __init__(
        self,
        send: Send,
        rows: list[dict[str, Any]],
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not rows:
            raise ValueError("no rows to send as test traffic")
        self.send, self.rows, self.rate, self.clock = send, rows, rate, clock
        self.stats = TrafficStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> Traffic:
        self._thread = threading.Thread(target=self._run, name="canary-traffic", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> TrafficStats:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        return self.stats

    def send_one(self, i: int) -> None:
        row = self.rows[i % len(self.rows)]
        started = self.clock()
        try:
            who = self.send([row])
            ok, error = True, ""
        except Exception as exc:  # an error answer is data for the judge, not a crash of the rollout
            who, ok, error = None, False, f"{type(exc).__name__}: {exc}"[:300]
        ms = (self.clock() - started) * 1000
        with self._lock:
            self.stats.sent += 1
            self.stats.latencies_ms.append(ms)
            if not ok:
                self.stats.errors += 1
                self.stats.last_error = error
            if who:
                self.stats.answers[str(who)] = self.stats.answers.get(str(who), 0) + 1

    def _run(self) -> None:
        i = 0
        interval = 1.0 / self.rate
        next_at = self.clock()
        while True:  # at least one request, however short the bake
            self.send_one(i)
            i += 1
            next_at += interval
            if self._stop.wait(max(0.0, next_at - self.clock())):
                break


def holdout_requests(folder: Path, limit: int = 500) -> list[dict[str, Any]]:
    """Held-out listings in the request shape: the valid rows of the raw CSV files (curated Parquet holds only
    features, so it cannot be sent; then the demo generator's listings are used)."""
    import pandas as pd

    from app.schema import FIELD_NAMES, TRAINING_FIELDS, validate_record
    from tricloud.model.smoke import sample_listings

    rows: list[dict[str, Any]] = []
    for path in sorted(folder.rglob("*.csv")):
        for rec in pd.read_csv(path, dtype=str, keep_default_na=False).to_dict("records"):
            clean, _ = validate_record(rec, from_text=True, fields=TRAINING_FIELDS, allow_extra=True)
            if clean is not None:
                rows.append({k: clean[k] for k in FIELD_NAMES})
            if len(rows) >= limit:
                return rows
    return rows or sample_listings(min(limit, 50))

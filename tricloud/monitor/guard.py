"""The guard against retraining loops: a ledger of alarm-started retrains in the lake, a cooldown and a cap.

A drift alarm that retrains, and a retrained model whose first window drifts again (the world has not settled), can
retrain forever: each run costs a training job and a canary, and a flapping alarm would roll models back and forth.
So every alarm-started retrain is first recorded as one object under ``<artifacts>/monitoring/retrains/`` (the
record is written BEFORE training starts, so a crash mid-retrain still counts), and a new one is refused while the
newest is younger than ``retrain_cooldown_hours`` or when ``max_retrains`` already started within
``retrain_window_days``. The deploy workflow runs one job at a time per stack (its concurrency group), so two
dispatches cannot both pass the check.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from typing import Any

from app.monitor.storage import Store, join

RETRAINS_PREFIX = "monitoring/retrains/"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    started_in_window: int
    last_started: str | None
    next_allowed: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "reason": self.reason,
            "started_in_window": self.started_in_window,
            "last_started": self.last_started,
            "next_allowed": self.next_allowed,
        }


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def decide(
    started: list[dt.datetime], now: dt.datetime, *, cooldown_hours: int, max_retrains: int, window_days: int
) -> Decision:
    """Whether an alarm may start a retrain now, given when the previous ones started."""
    recent = sorted(t for t in started if t <= now)
    in_window = [t for t in recent if now - t < dt.timedelta(days=window_days)]
    last = recent[-1] if recent else None
    if last is not None and now - last < dt.timedelta(hours=cooldown_hours):
        until = last + dt.timedelta(hours=cooldown_hours)
        return Decision(False, f"cooldown: the last retrain started {_iso(last)}, within {cooldown_hours} h",
                        len(in_window), _iso(last), _iso(until))  # fmt: skip
    if len(in_window) >= max_retrains:
        until = in_window[-max_retrains] + dt.timedelta(days=window_days)
        return Decision(False, f"cap: {len(in_window)} retrains started in the last {window_days} days "
                        f"(at most {max_retrains})", len(in_window), _iso(last) if last else None, _iso(until))  # fmt: skip
    return Decision(True, "allowed", len(in_window), _iso(last) if last else None, None)


class Ledger:
    """The retrain records of one stack, in its artifacts zone."""

    def __init__(self, store: Store, artifacts_uri: str) -> None:
        self.store = store
        self.prefix = join(artifacts_uri, RETRAINS_PREFIX) + "/"

    def started(self) -> list[dt.datetime]:
        out = []
        for obj in self.store.list(self.prefix):
            try:
                doc = json.loads(self.store.read(obj.uri))
                out.append(dt.datetime.fromisoformat(str(doc["started_at"]).replace("Z", "+00:00")))
            except (ValueError, KeyError, TypeError):
                continue  # a record someone edited by hand: ignored, not fatal
        return out

    def record(self, now: dt.datetime, reason: str, details: dict[str, Any]) -> str:
        key = f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}.json"
        uri = self.prefix + key
        doc = {"started_at": _iso(now), "reason": reason, **details}
        self.store.write(uri, json.dumps(doc, sort_keys=True).encode(), "application/json")
        return uri

    def update(self, uri: str, **fields: Any) -> None:
        doc = json.loads(self.store.read(uri))
        doc.update(fields)
        self.store.write(uri, json.dumps(doc, sort_keys=True, default=str).encode(), "application/json")

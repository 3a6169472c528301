"""The retrain loop guard: cooldown and cap with hand-worked times, and the ledger in a lake folder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from app.monitor.storage import LocalStore
from tricloud.monitor.guard import Ledger, decide

NOW = dt.datetime(2025, 6, 10, 12, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)


def test_the_first_retrain_is_allowed() -> None:
    d = decide([], NOW, cooldown_hours=24, max_retrains=2, window_days=7)
    assert d.allowed and d.started_in_window == 0


def test_cooldown_refuses_within_the_hours_and_says_until_when() -> None:
    d = decide([NOW - 23 * H], NOW, cooldown_hours=24, max_retrains=2, window_days=7)
    assert not d.allowed and d.reason.startswith("cooldown") and d.next_allowed == "2025-06-10T13:00:00Z"
    assert decide([NOW - 25 * H], NOW, cooldown_hours=24, max_retrains=2, window_days=7).allowed


def test_the_cap_counts_only_the_window() -> None:
    two = [
        NOW - 6 * 24 * H,
        NOW - 2 * 24 * H,
    ]  # both within 7 days, the newest 2 days ago (past the cooldown)
    d = decide(two, NOW, cooldown_hours=24, max_retrains=2, window_days=7)
    assert not d.allowed and d.reason.startswith("cap") and d.started_in_window == 2
    assert d.next_allowed == "2025-06-11T12:00:00Z"  # when the older one leaves the window
    older = [NOW - 8 * 24 * H, NOW - 2 * 24 * H]
    assert decide(older, NOW, cooldown_hours=24, max_retrains=2, window_days=7).allowed


def test_the_ledger_round_trips_and_ignores_junk(tmp_path: Path) -> None:
    ledger = Ledger(LocalStore(), str(tmp_path))
    uri = ledger.record(NOW - 2 * H, "drift alarm", {"status": "started"})
    (tmp_path / "monitoring" / "retrains" / "junk.json").write_text("{not json")
    assert ledger.started() == [NOW - 2 * H]
    ledger.update(uri, status="rolled_out")
    assert '"rolled_out"' in Path(uri).read_text()

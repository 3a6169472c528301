"""`tricloud monitor scenario aws` end to end, as a user runs it: the real stack applied to moto, the real API, the
capture pipeline, the drift job under the Spark job role, the alarm, the guarded retrain, the new version serving.

One run (a few minutes: the platform, two traffic windows, a retrain); every assertion reads what the command printed
with `--json`, so a step that was skipped or faked fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.emulator

ROOT = Path(__file__).resolve().parents[2]
ROWS = 600  # per traffic window: above the job's 200-row floor, enough to judge the planted shift


@pytest.fixture(scope="module")
def story() -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "tricloud", "monitor", "scenario", "aws", "--rows", str(ROWS), "--json"],
        cwd=ROOT, env={**os.environ, "NO_COLOR": "1"}, capture_output=True, text=True, timeout=1500,
    )  # fmt: skip
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stderr[-4000:]}"
    doc = json.loads(proc.stdout)
    doc["stderr"] = proc.stderr
    return doc


def steps(doc: dict[str, Any], title: str) -> list[dict[str, Any]]:
    return [s for s in doc["steps"] if s["step"] == title]


def test_in_distribution_traffic_raises_no_alarm(story: dict[str, Any]) -> None:
    assert story["ok"] is True
    (job,) = steps(story, "drift job (in distribution)")
    assert job["status"] == "ok"
    first_alarm = steps(story, "drift alarm")[0]
    assert first_alarm["state"] == "OK"
    (traffic,) = steps(story, "traffic (in distribution)")
    assert traffic["rows"] == ROWS and traffic["fallbacks"] == 0
    # the predicted rows went through log group -> subscription filter -> Firehose -> S3 (capture is best effort:
    # the scenario tolerates 1% lost to a failed log delivery and says so)
    assert all(c["rows"] >= 0.99 * ROWS for c in steps(story, "capture")), steps(story, "capture")


def test_shifted_traffic_raises_the_alarm_on_the_shifted_fields(story: dict[str, Any]) -> None:
    (job,) = steps(story, "drift job (shifted)")
    assert job["status"] == "drift"
    # the planted shift: Pune's share (city), bigger homes (area_sqft), a furnished mix (furnishing)
    assert {"city", "area_sqft", "furnishing"} <= set(job["drifted"])
    assert steps(story, "drift alarm")[1]["state"] == "ALARM"
    assert steps(story, "retrain dispatch"), "the EventBridge rule did not match the alarm's state change"


def test_a_retrain_runs_the_delivery_pipeline_and_the_new_version_serves(story: dict[str, Any]) -> None:
    for name in ("train", "register", "reference", "approve", "rollout"):
        assert steps(story, f"retrain: {name}"), name
    (serving,) = steps(story, "serving")
    assert serving["model_version"] == story["new_model"] != story["first_model"]


def test_a_second_alarm_right_after_is_refused_by_the_loop_guard(story: dict[str, Any]) -> None:
    (guard,) = steps(story, "loop guard")
    assert guard["detail"].startswith("retrain refused by the loop guard") and "cooldown" in guard["detail"]

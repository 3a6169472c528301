"""`tricloud emulate azure|gcp` end to end, as a user runs them: a real prediction, the fallback, a clean exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def tricloud(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tricloud", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def processes_inside(folder: str) -> list[str]:
    """Processes whose working directory is inside `folder` (the run's hosts all work in its temp folder)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if cwd == folder or cwd.startswith(folder + "/"):
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{proc.name}: {cmdline}")
    return found


@pytest.mark.parametrize("cloud", ["azure", "gcp"])
def test_emulate_serves_a_real_prediction_and_cleans_up(cloud: str) -> None:
    out = tricloud("emulate", cloud, "--rows", "800", "--json")
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout)
    prediction, fallback = summary["prediction"], summary["fallback"]
    assert prediction["fallback"] is False and prediction["model_version"] != "rules-v1"
    assert prediction["predictions"][0] > 1e5
    assert fallback["fallback"] is True and fallback["model_version"] == "rules-v1"
    assert [a["fallback"] for a in summary["audit"]] == [False, True]
    assert {d["part"] for d in summary["deviations"]} >= {
        "DataLake",
        "TrainingJob",
        "ModelEndpoint",
        "ApiFrontend",
    }
    phases = ["inventory", "lake", "data", "train", "serve", "function", "first prediction", "fallback"]
    assert set(summary["timings_seconds"]) == set(phases)
    printed = [out.stderr.index(f"✓ {phase}") for phase in phases]
    assert printed == sorted(printed)  # each phase printed, in order
    assert "where this run differs from" in out.stderr and "curl -s" in out.stderr
    # Clean shutdown: the temporary folder is gone and no process was left working in it.
    assert not Path(summary["workdir"]).exists()
    assert processes_inside(summary["workdir"]) == []


def test_emulate_lists_the_three_clouds() -> None:
    out = tricloud("emulate", "--help", timeout=120)
    assert out.returncode == 0
    for cloud in ("aws", "azure", "gcp"):
        assert f" {cloud} " in out.stdout


def test_an_unknown_stack_is_one_red_line_and_exit_2() -> None:
    out = tricloud("emulate", "gcp", "--stack", "nope", timeout=300)
    assert out.returncode == 2
    assert "error: inventory: InvalidArgs: stack = 'nope'" in out.stderr
    assert "Traceback" not in out.stderr

"""No orphans (issue 13, item 2): SIGKILL of `tricloud emulate aws --serve` takes every process it started with it,
and `destroy --local` removes the folders (and stops any process) the killed run recorded in its state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tricloud.emulate.processes import alive, reap, start_time
from tricloud.engine.state import State
from tricloud.inventory import REPO_ROOT

pytestmark = pytest.mark.emulator


def test_reap_stops_a_recorded_process_of_a_dead_run_and_removes_its_folders(tmp_path: Path) -> None:
    leftover = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"]
    )  # no parent-death signal
    folder = tmp_path / "run-folder"
    folder.mkdir()
    state = State(tmp_path / "s.json")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    state.run = {"pid": int(dead.stdout), "started": 1}  # a run that is gone
    state.record_process(leftover.pid, "inference server", start_time(leftover.pid))
    state.record_workdir(str(folder))
    try:
        done = reap(state)
        assert leftover.wait(timeout=10) == -signal.SIGKILL
        assert not folder.exists() and state.processes == [] and state.workdirs == []
        assert any("inference server" in d for d in done)
    finally:
        if leftover.poll() is None:
            leftover.kill()


@pytest.mark.spark
def test_sigkill_of_emulate_serve_leaves_no_process_and_destroy_removes_its_folders(tmp_path: Path) -> None:
    env = {**os.environ, "TRICLOUD_STATE_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tricloud", "emulate", "aws", "--serve", "--rows", "300"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    seen = []
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen.append(line)
        if not line or "serving; Ctrl-C" in line:
            break
    assert "serving; Ctrl-C" in seen[-1], "".join(seen)[-3000:]
    state = json.loads((tmp_path / "aws-dev.local.json").read_text())
    children = [(p["pid"], p["started"], p["role"]) for p in state["processes"]]
    assert any(role == "inference server" for _, _, role in children), state["processes"]
    assert state["workdirs"] and all(Path(w).exists() for w in state["workdirs"])
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(pid, started) for pid, started, _ in children):
        time.sleep(0.1)
    assert [role for pid, started, role in children if alive(pid, started)] == []
    gone = subprocess.run(
        [sys.executable, "-m", "tricloud", "destroy", "aws", "--local"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert gone.returncode == 0, gone.stderr
    assert not any(Path(w).exists() for w in state["workdirs"])
    assert not (tmp_path / "aws-dev.local.json").exists()

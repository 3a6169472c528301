"""Crash consistency (issue 13, item 1): an apply interrupted at seeded random points, by an exception in this
process or by SIGKILL of a `tricloud` process against a moto server that outlives it, converges on the next run to
exactly the program's resources, and a destroy leaves the emulator empty. The expected resource counts come from
the recording mocks' inventory, not from the engine under test."""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tricloud.engine import Engine
from tricloud.engine.leftovers import LISTERS, leftovers
from tricloud.inventory import REPO_ROOT, build_inventory

pytestmark = pytest.mark.emulator
SEED = 13


class Crash(Exception):
    pass


def expected_counts() -> dict[str, int]:
    inv = build_inventory("aws", "dev")
    per_type = collections.Counter(r["type"] for r in inv["resources"])
    return {kind: per_type.get(lister.type, 0) for kind, lister in LISTERS.items()}


def assert_converged(emu) -> None:
    left = leftovers(emu)
    got = {kind: len(left.get(kind, [])) for kind in LISTERS}
    assert got == expected_counts(), f"the emulator holds duplicates or misses resources: {left}"


def test_exceptions_at_seeded_points_then_rerun_converges(fresh_emulator, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    state = tmp_path / "s.json"
    for _ in range(3):
        phase, at = rng.choice(["before", "after"]), rng.randint(1, 15)  # each run has > 15 changes left
        calls = {"n": 0}

        def hook(action: str, typ: str, name: str, phase=phase, at=at, calls=calls) -> None:
            calls["n"] += 1
            if calls["n"] == at:
                raise Crash(f"{phase} change {at}: {typ} {name}")

        kw = {"before_change": hook} if phase == "before" else {"after_change": hook}
        with pytest.raises(Crash):
            Engine(fresh_emulator, state_path=state, **kw).apply()
    res = Engine(fresh_emulator, state_path=state).apply()
    assert res.count("create") >= 1
    assert_converged(fresh_emulator)
    again = Engine(fresh_emulator, state_path=state).apply()
    assert again.count("create") == again.count("update") == again.count("replace") == 0
    Engine(fresh_emulator, state_path=state).destroy()
    assert leftovers(fresh_emulator) == {}


DRIVER = """
import os, signal, sys
from pathlib import Path
from tricloud.engine import Emulator, Engine
url, state, at = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
calls = [0]
def kill(action, typ, name):
    calls[0] += 1
    if calls[0] == at:  # the emulator answered, the state file does not know yet: the window orphans come from
        os.kill(os.getpid(), signal.SIGKILL)
Engine(Emulator.start("ap-south-1", endpoint=url), state_path=state, after_change=kill).apply()
"""


def _cli(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tricloud", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("typ", ["aws:athena/namedQuery:NamedQuery", "aws:glue/catalogTable:CatalogTable"])
def test_a_resource_with_a_generated_id_created_before_a_crash_is_found_again(
    fresh_emulator, typ: str, tmp_path: Path
) -> None:
    """The saved query's id is generated and the table's is not its name: after a crash between the create and the
    state write, the next run must find each by its identity on a moto server (a call the server lacks is a 500)."""
    state = tmp_path / "s.json"

    def hook(action: str, t: str, name: str) -> None:
        if t == typ:
            raise Crash(f"after {action} {t} {name}")

    with pytest.raises(Crash):
        Engine(fresh_emulator, state_path=state, after_change=hook).apply()
    Engine(fresh_emulator, state_path=state).apply()
    assert_converged(fresh_emulator)
    # saved queries have no lister (they go with their workgroup): each declared one is there by name (moto cannot
    # delete a saved query, so one replaced after the crash stays as a second copy: counts are not compared)
    declared = {
        (r["inputs"].get("workgroup"), r["inputs"]["name"])
        for r in build_inventory("aws", "dev")["resources"]
        if r["type"] == "aws:athena/namedQuery:NamedQuery"
    }
    athena = fresh_emulator.client("athena")
    saved = {
        (wg, athena.get_named_query(NamedQueryId=qid)["NamedQuery"]["Name"])
        for wg in {wg for wg, _ in declared}
        for qid in athena.list_named_queries(WorkGroup=wg)["NamedQueryIds"]
    }
    assert declared and saved == declared


def test_sigkill_at_seeded_points_against_a_persistent_emulator(
    moto_process, fresh_emulator, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    env = {**os.environ, "TRICLOUD_STATE_DIR": str(tmp_path)}
    state = tmp_path / "aws-dev.local.json"
    # SIGKILL right after the emulator created a resource and before the state recorded it (seeded change numbers).
    for at in sorted(rng.sample(range(2, 60), 2)):
        proc = subprocess.run(
            [sys.executable, "-c", DRIVER, moto_process.url, str(state), str(at)],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    # SIGKILL of the real command at seeded moments (wherever it is: imports, program, emulator calls, state writes).
    for delay in (rng.uniform(2.0, 6.0), rng.uniform(2.0, 6.0)):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tricloud",
                "emulate",
                "aws",
                "--endpoint",
                moto_process.url,
                "--apply-only",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    run = _cli(["emulate", "aws", "--endpoint", moto_process.url, "--apply-only"], env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    assert_converged(fresh_emulator)
    again = _cli(["emulate", "aws", "--endpoint", moto_process.url, "--apply-only"], env)
    assert again.returncode == 0 and "0 to create" in again.stderr, again.stderr[-2000:]
    gone = _cli(["destroy", "aws", "--local"], env)
    assert gone.returncode == 0 and "the emulator is empty" in gone.stderr, gone.stderr[-2000:]
    assert leftovers(fresh_emulator) == {} and not state.exists()


def test_destroy_removes_what_a_lost_state_file_left(fresh_emulator, tmp_path: Path) -> None:
    """A state file deleted by hand: the next apply replaces what has the program's names, and destroy sweeps the
    stack's resources by name and tags (a KMS key and an EMR Serverless app have generated ids)."""
    state = tmp_path / "s.json"
    Engine(fresh_emulator, state_path=state).apply()
    state.unlink()
    res = Engine(fresh_emulator, state_path=state).apply()
    assert res.recovered, "a create over an existing name must say it replaced something"
    state.unlink()
    out = Engine(fresh_emulator, state_path=state).destroy()
    assert {k for k, _, _ in out.recovered} >= {
        "kms keys (not pending deletion)",
        "emr serverless apps",
        "buckets",
    }
    assert leftovers(fresh_emulator) == {}


def test_a_failure_is_one_red_line_and_exit_2(tmp_path: Path) -> None:
    env = {**os.environ, "TRICLOUD_STATE_DIR": str(tmp_path)}
    (tmp_path / "aws-dev.local.json").write_text("{not json")
    run = _cli(["emulate", "aws", "--apply-only"], env, timeout=120)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    assert lines[0].startswith("error:") and "not a tricloud state file" in lines[0] and len(lines) == 2, (
        lines
    )

"""Processes the offline platform starts, tied to its life, and the clean-up of what a killed run left.

On Linux every child gets `PR_SET_PDEATHSIG` = SIGKILL, so the kernel kills it the moment the `tricloud` process
dies, SIGKILL included. The kernel sends that signal when the *thread* that forked the child ends, so all children
are forked from one thread that lives as long as the process (`Spawner`). Each child's PID, with its start time (a
PID can be reused), and each temporary folder is also recorded in the stack's state file: `destroy --local`, or the
next run, stops and removes what a run that could not clean up (another OS, a kill) left.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:  # pragma: no cover - runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl: nobody would send the signal
        os._exit(1)


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), to tell it from a later process with its PID."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def alive(pid: int, started: int | None) -> bool:
    if started is None:
        return False  # without a start time the PID cannot be told from a reused one: leave it alone
    return start_time(pid) == started


class Spawner:
    """`Popen` on one long-lived thread, so PR_SET_PDEATHSIG outlives the thread that asked for the child."""

    _instance: Spawner | None = None
    _guard = threading.Lock()

    def __init__(self) -> None:
        self.jobs: queue.Queue[tuple[tuple[Any, ...], dict[str, Any], queue.Queue[Any]]] = queue.Queue()
        threading.Thread(target=self._run, name="tricloud-spawner", daemon=True).start()

    @classmethod
    def get(cls) -> Spawner:
        with cls._guard:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def _run(self) -> None:
        while True:
            args, kwargs, reply = self.jobs.get()
            try:
                reply.put(subprocess.Popen(*args, **kwargs))
            except BaseException as exc:  # handed back to the caller's thread
                reply.put(exc)

    def popen(self, *args: Any, **kwargs: Any) -> subprocess.Popen[Any]:
        if sys.platform.startswith("linux"):
            kwargs["preexec_fn"] = lambda parent=os.getpid(): _die_with_parent(parent)
        reply: queue.Queue[Any] = queue.Queue(maxsize=1)
        self.jobs.put((args, kwargs, reply))
        out = reply.get()
        if isinstance(out, BaseException):
            raise out
        return out


class Tracker:
    """The processes and folders of one run, mirrored into the state file (`state` may be None: not recorded)."""

    def __init__(self, state: Any | None) -> None:
        self.state = state
        self.lock = threading.Lock()
        if state is not None:
            state.run = {"pid": os.getpid(), "started": start_time(os.getpid())}
            state.save()

    def popen(self, role: str, *args: Any, **kwargs: Any) -> subprocess.Popen[Any]:
        proc = Spawner.get().popen(*args, **kwargs)
        if self.state is not None:
            self.state.record_process(proc.pid, role, start_time(proc.pid))
        return proc

    def run(
        self, role: str, args: list[str], *, timeout: float, **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        """`subprocess.run(..., capture_output=True, text=True)` through the spawner; killed on timeout."""
        proc = self.popen(role, args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            self.forget(proc)
            raise
        self.forget(proc)
        return subprocess.CompletedProcess(args, proc.returncode, out, err)

    def forget(self, proc: subprocess.Popen[Any]) -> None:
        if self.state is not None:
            self.state.forget_process(proc.pid)

    def stop(self, proc: subprocess.Popen[Any] | None, *, grace_s: float = 10.0) -> None:
        """SIGTERM (how SageMaker and Lambda stop a container), SIGKILL after `grace_s`."""
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self.forget(proc)

    def mkdtemp(self, prefix: str) -> Path:
        path = Path(tempfile.mkdtemp(prefix=prefix))
        if self.state is not None:
            self.state.record_workdir(str(path))
        return path

    def rmtree(self, path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)
        if self.state is not None:
            self.state.forget_workdir(str(path))


def reap(state: Any) -> list[str]:
    """Stop the processes and remove the folders a run recorded, unless that run is still alive (it owns them).
    Returns one line per thing removed; saves the state."""
    run = getattr(state, "run", None) or {}
    if run and run.get("pid") != os.getpid() and alive(int(run["pid"]), run.get("started")):
        return []
    done: list[str] = []
    for p in list(state.processes):
        pid, started = int(p["pid"]), p.get("started")
        if alive(pid, started):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while alive(pid, started) and time.monotonic() < deadline:
                time.sleep(0.05)
            done.append(f"stopped {p.get('role', 'process')} (pid {pid})")
        state.forget_process(pid)
    for path in list(state.workdirs):
        if Path(path).exists():
            shutil.rmtree(path, ignore_errors=True)
            done.append(f"removed {path}")
        state.forget_workdir(path)
    return done

"""Child processes of the offline hosts: started in their own process group, dying with their parent, stopped by PID.

Each process's output is read by a thread into a bounded buffer (so a chatty server never blocks on a full pipe),
`wait_for(regex)` waits for its ready line, and `stop()` sends SIGTERM to its group (what the clouds send), then
SIGKILL after a grace period. On Linux each child also asks the kernel to SIGTERM it if the parent dies
(PR_SET_PDEATHSIG), so a killed `tricloud emulate` leaves no orphan. The kernel ties that signal to the thread
that started the child: start hosts from the main thread (the CLI and the tests do), not from a worker thread.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

PR_SET_PDEATHSIG = 1
BUFFER_LINES = 2000


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class ProcessError(RuntimeError):
    """A host process did not start; the message carries its last output lines."""


class Proc:
    def __init__(
        self,
        name: str,
        argv: Sequence[str | Path],
        *,
        env: Mapping[str, str],
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.lines: collections.deque[str] = collections.deque(maxlen=BUFFER_LINES)
        self._cond = threading.Condition()
        self.popen = subprocess.Popen(
            [str(a) for a in argv],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,  # its own group: stop() reaches the workers it forks (gunicorn, node)
            preexec_fn=_die_with_parent,
        )
        self._reader = threading.Thread(target=self._read, name=f"{name}-output", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        """The first output line matching `pattern` (search), waiting up to `timeout` seconds."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                lines = list(self.lines)
                for line in lines[seen:]:
                    m = regex.search(line)
                    if m:
                        return m
                seen = len(lines)
                left = deadline - time.monotonic()
                if left <= 0 or (self.popen.poll() is not None and not self._reader.is_alive()):
                    break
                self._cond.wait(min(left, 0.2))
        code = self.popen.poll()
        self.stop()
        state = f"exited with status {code}" if code is not None else f"not ready within {timeout:.0f} s"
        tail = "\n".join(list(self.lines)[-15:])
        raise ProcessError(f"{self.name} {state}:\n{tail}")

    def output(self) -> list[str]:
        with self._cond:
            return list(self.lines)

    def stop(self, grace_s: float = 10.0) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)
        else:
            # The leader is gone; its group may not be (a worker it forked).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)
        self._reader.join(timeout=5)


def base_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A minimal environment for a cloud process: no variable of the developer's shell leaks in (no MODEL_DIR,
    no PYTHONPATH, no cloud credentials); only what a runtime needs to run and what the caller declares."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.setdefault("LANG", "C.UTF-8")
    env.update(extra or {})
    return env

"""The local engine's state file: what exists in the emulator, written atomically after every resource.

One JSON document per (cloud, stack) under `.tricloud/`: the emulator it belongs to, and per resource its type,
logical name, physical id, outputs, input hash, dependencies and creation order. Every change is announced first
(`pending`: type, name and the physical name it will use) and replaced by its entry once the emulator answered, so
a crash at any point (SIGKILL included) leaves a file that names everything that may exist: the next run deletes
the half-made ones and creates them again. The processes and temporary folders a run starts are recorded too, so
`destroy --local` can stop and remove what a killed run left.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATE_VERSION = 1
STATE_DIR = ".tricloud"


@dataclass
class Entry:
    type: str
    name: str
    id: str
    outputs: dict[str, Any]
    input_hash: str
    dependencies: list[str] = field(default_factory=list)
    parent: str | None = None
    order: int = 0
    custom: bool = True
    deviations: list[str] = field(default_factory=list)
    autoname: str = ""  # the generated physical name of an auto-named resource, kept across re-applies

    @property
    def key(self) -> str:
        return key_of(self.type, self.name)


def key_of(type_token: str, name: str) -> str:
    return f"{type_token}::{name}"


class StateError(Exception):
    """The state file cannot be used as it is (unreadable, or for another emulator)."""


class State:
    """Thread-safe: `new_resource` runs on several threads."""

    def __init__(self, path: Path, emulator: dict[str, Any] | None = None) -> None:
        self.path = path
        self.emulator: dict[str, Any] = dict(emulator or {})
        self.entries: dict[str, Entry] = {}
        self.outputs: dict[str, Any] = {}
        # key -> {"type", "name", "action", "autoname", "inputs"}: changes sent to the emulator, outcome unknown.
        self.pending: dict[str, dict[str, Any]] = {}
        # Processes and folders of the run that owns this state: {"pid", "role", "started"} / paths.
        self.processes: list[dict[str, Any]] = []
        self.workdirs: list[str] = []
        self.run: dict[str, Any] = {}  # {"pid", "started"} of the process that owns the processes and folders
        self._lock = threading.RLock()

    @classmethod
    def load(cls, path: Path) -> State:
        state = cls(path)
        if not path.is_file():
            return state
        try:
            data = json.loads(path.read_text())
            if data.get("version") != STATE_VERSION:
                raise StateError(f"{path}: version {data.get('version')!r}, expected {STATE_VERSION}")
            state.emulator = dict(data.get("emulator") or {})
            state.outputs = dict(data.get("outputs") or {})
            state.pending = dict(data.get("pending") or {})
            state.processes = list(data.get("processes") or [])
            state.workdirs = list(data.get("workdirs") or [])
            state.run = dict(data.get("run") or {})
            for raw in data.get("resources", []):
                e = Entry(**raw)
                state.entries[e.key] = e
        except (json.JSONDecodeError, TypeError, KeyError) as exc:
            raise StateError(f"{path}: not a tricloud state file ({exc}); delete it to start over") from None
        return state

    def next_order(self) -> int:
        with self._lock:
            return 1 + max((e.order for e in self.entries.values()), default=0)

    def get(self, key: str) -> Entry | None:
        with self._lock:
            return self.entries.get(key)

    def put(self, entry: Entry) -> None:
        with self._lock:
            self.entries[entry.key] = entry
            self.save()

    def remove(self, key: str) -> None:
        with self._lock:
            self.entries.pop(key, None)
            self.save()

    def begin(self, key: str, record: dict[str, Any]) -> None:
        """Announce a change before the emulator sees it (fsynced): a crash then leaves a trace of it."""
        with self._lock:
            self.pending[key] = record
            self.save()

    def finish(self, key: str, entry: Entry | None) -> None:
        """The change is done: its entry (or nothing, for a delete) replaces the announcement in one write."""
        with self._lock:
            self.pending.pop(key, None)
            if entry is not None:
                self.entries[entry.key] = entry
            self.save()

    def record_process(self, pid: int, role: str, started: float) -> None:
        with self._lock:
            self.processes.append({"pid": pid, "role": role, "started": started})
            self.save()

    def forget_process(self, pid: int) -> None:
        with self._lock:
            self.processes = [p for p in self.processes if p["pid"] != pid]
            self.save()

    def record_workdir(self, path: str) -> None:
        with self._lock:
            if path not in self.workdirs:
                self.workdirs.append(path)
                self.save()

    def forget_workdir(self, path: str) -> None:
        with self._lock:
            if path in self.workdirs:
                self.workdirs.remove(path)
                self.save()

    @property
    def empty(self) -> bool:
        return not (self.entries or self.pending or self.processes or self.workdirs)

    def ordered(self) -> list[Entry]:
        with self._lock:
            return sorted(self.entries.values(), key=lambda e: e.order)

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "version": STATE_VERSION,
                "emulator": self.emulator,
                "outputs": self.outputs,
                "resources": [dict(e.__dict__) for e in self.ordered()],  # json copies nothing
                "pending": self.pending,
                "processes": self.processes,
                "workdirs": self.workdirs,
                "run": self.run,
            }

    def save(self) -> None:
        """Write to a temporary file in the same folder, fsync, rename: readers never see half a file."""
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One line: json's C encoder runs only without `indent` (the pure-Python one cost about 10 ms a save,
            # with the lock held, and a save follows every change). `jq . FILE` shows it indented.
            text = json.dumps(self.as_dict(), sort_keys=True, default=str)
            fd, tmp = tempfile.mkstemp(prefix=self.path.name, suffix=".tmp", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w") as f:
                    f.write(text)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

    def delete_file(self) -> None:
        self.path.unlink(missing_ok=True)


def default_path(root: Path, cloud: str, stack: str) -> Path:
    """`.tricloud/<cloud>-<stack>.local.json`, or under TRICLOUD_STATE_DIR (tests and CI keep theirs apart)."""
    folder = (
        Path(os.environ["TRICLOUD_STATE_DIR"]) if os.environ.get("TRICLOUD_STATE_DIR") else root / STATE_DIR
    )
    return folder / f"{cloud}-{stack}.local.json"

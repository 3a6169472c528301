"""What every cloud's delivery shares: the command context, the registry record, the gate outcome, exit codes.

Exit codes (CI relies on them): 0 success; 2 bad usage or config (`InvalidArgs`, one red line); 3 a gate said no
(`GateRefused`, with the decision and its numbers); 1 an unexpected failure (`DeliveryError` or anything else).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from components.errors import InvalidArgs
from tricloud.config import PlatformConfig

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_GATE = 0, 1, 2, 3
REPO_ROOT = Path(__file__).resolve().parents[2]

LOCAL_STATE_ENV = (
    "TRICLOUD_LOCAL_STATE"  # the local engine's state file (default .tricloud/<cloud>-<stack>.local.json)
)

# Registry statuses, the same words on every cloud (each cloud's own word is kept in `native_status`).
PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"


class GateRefused(Exception):
    """A gate said no (approval, canary, smoke, integrity): exit 3 with the decision and its numbers."""

    def __init__(self, message: str, decision: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.decision = dict(decision or {})


class DeliveryError(Exception):
    """The cloud failed in a way the user cannot fix by changing an input (a training job failed): exit 1."""


@dataclass(frozen=True)
class ModelVersion:
    """One registered version, cloud-neutral. `version` is the registry's own id (ARN, asset id, resource name)."""

    version: str
    number: str  # what humans type after --version: 3
    status: str  # pending | approved | rejected
    artifact_uri: str
    artifact_sha256: str
    image: str  # registry/repository@sha256:...
    label: str  # the model's version string (metadata.json), what the API answers as model_version
    metrics: dict[str, float] = field(default_factory=dict)  # held-out metrics from training
    training_data_uri: str = ""
    training_data_sha256: str = ""
    git_commit: str = ""
    training_job: str = ""
    decision: dict[str, Any] = field(default_factory=dict)  # approval decision and its numbers, once decided
    native_status: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Context:
    """Everything a command needs, resolved once: stack config, stack outputs, where the cloud is, how to report."""

    cloud: str
    stack: str
    project: str
    config: PlatformConfig
    outputs: dict[str, Any]
    endpoint: str | None = None  # the emulator (offline AWS)
    report: Callable[[str], None] = lambda line: None
    git_commit: str = "unknown"
    workdir: Path | None = None  # scratch space (artifacts, held-out data); a temporary folder when None
    stack_ref: str = ""  # the stack as Pulumi names it (`org/dev` in CI); `stack` is the program's "dev"

    def output(self, name: str) -> str:
        value = self.outputs.get(name)
        if not isinstance(value, str) or not value:
            raise InvalidArgs(
                f"outputs.{name}",
                value,
                f"the {self.cloud}/{self.stack} stack outputs have no {name} (run `pulumi up`, or pass --outputs "
                "with the JSON of `pulumi stack output --json`)",
            )
        return value

    @property
    def offline(self) -> bool:
        return self.endpoint is not None


def git_commit(root: Path = REPO_ROOT) -> str:
    """The commit being delivered: GITHUB_SHA in CI, else the checkout's HEAD, else "unknown"."""
    if os.environ.get("GITHUB_SHA"):
        return os.environ["GITHUB_SHA"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def local_state_path(cloud: str, stack: str) -> Path:
    """The local engine's state file of an offline stack (`TRICLOUD_LOCAL_STATE` replaces the default)."""
    from tricloud.engine.state import default_path

    override = os.environ.get(LOCAL_STATE_ENV)
    return Path(override) if override else default_path(REPO_ROOT, cloud, stack.rsplit("/", 1)[-1])


def load_outputs(cloud: str, stack: str, outputs_file: Path | None, endpoint: str | None) -> dict[str, Any]:
    """Stack outputs: `--outputs F` (what CI passes), the local engine's state (offline), or `pulumi stack output`."""
    if outputs_file is not None:
        try:
            data = json.loads(outputs_file.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InvalidArgs(
                "--outputs", str(outputs_file), f"is not a readable JSON file ({exc})"
            ) from None
        if not isinstance(data, dict):
            raise InvalidArgs("--outputs", str(outputs_file), "must hold a JSON object of stack outputs")
        return data
    if endpoint is not None:
        from tricloud.engine.state import State

        path = local_state_path(cloud, stack)
        state = State.load(path)
        if not state.outputs:
            raise InvalidArgs(
                "--endpoint",
                endpoint,
                f"no applied stack in {path.name}: run `tricloud emulate aws --endpoint {endpoint}` first",
            )
        return dict(state.outputs)
    cmd = ["pulumi", "stack", "output", "--json", "--show-secrets", "--stack", stack]
    try:
        out = subprocess.run(
            cmd, cwd=REPO_ROOT / "stacks" / cloud, capture_output=True, text=True, timeout=120, check=False
        )
    except FileNotFoundError:
        raise InvalidArgs(
            "--outputs", None, "the Pulumi CLI is not installed: pass --outputs with the stack outputs JSON"
        ) from None
    if out.returncode != 0:
        raise InvalidArgs("--stack", stack, f"`{' '.join(cmd)}` failed: {out.stderr.strip()[-300:]}")
    return dict(json.loads(out.stdout))

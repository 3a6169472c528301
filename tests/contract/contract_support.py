"""Shared by the contract tests: run each cloud's stack under Pulumi mocks once and keep what it registered.

Each cloud's stack program runs once per session (`platform(cloud)`), recording every resource (the shared
`RecordingMocks`) and every component's registered outputs (the monitor below). A cloud whose stack or mocks are
missing fails with the reason; nothing is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tricloud.config import REGION_KEYS
from tricloud.inventory import REPO_ROOT, run_program, stack_config
from tricloud.mocks import RecordingMocks, RecordingMonitor


class OutputsMonitor(RecordingMonitor):
    """Also records what mocks never see: each component's `register_outputs`, and `protect`/`ignore_changes`."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.registered: dict[tuple[str, str], set[str]] = {}
        self.options: dict[tuple[str, str], dict[str, Any]] = {}
        self.registered_twice: list[tuple[str, str]] = []  # the engine refuses a second register_outputs

    def RegisterResource(self, request: Any) -> Any:
        self.options[(request.type, request.name)] = {
            "protect": bool(request.protect),
            "ignore_changes": sorted(request.ignoreChanges),
        }
        return super().RegisterResource(request)

    def RegisterResourceOutputs(self, request: Any) -> Any:
        _, _, type_, name = request.urn.split("::", 3)
        key = (type_.split("$")[-1], name)
        if key in self.registered:
            self.registered_twice.append(key)
        self.registered[key] = set(request.outputs.fields.keys())
        return super().RegisterResourceOutputs(request)


@dataclass(frozen=True)
class Platform:
    cloud: str
    region: str
    resources: list[dict[str, Any]]
    registered_outputs: dict[tuple[str, str], set[str]]
    stack_outputs: dict[str, Any]
    options: dict[tuple[str, str], dict[str, Any]]
    registered_twice: tuple[tuple[str, str], ...] = ()

    def components(self) -> dict[str, list[str]]:
        """Component type -> names of its instances."""
        out: dict[str, list[str]] = {}
        for r in self.resources:
            if r["type"].startswith("tricloud:"):
                out.setdefault(r["type"], []).append(r["name"])
        return out


_CACHE: dict[str, Platform] = {}


def require_stack(cloud: str) -> None:
    """Fail (never skip) when a cloud's stack is not there yet: the contract covers all three."""
    missing = [
        p
        for p in (
            f"stacks/{cloud}/__main__.py",
            f"stacks/{cloud}/Pulumi.dev.yaml",
            f"tricloud/mocks/{cloud}.py",
        )
        if not (REPO_ROOT / p).is_file()
    ]
    if missing:
        pytest.fail(f"the {cloud} stack is incomplete: missing {', '.join(missing)}", pytrace=False)


def platform(cloud: str) -> Platform:
    """Run stacks/<cloud> under mocks once per session, its optional concepts (the Warehouse) switched on, so
    every contract covers them too (`tests/contract/test_warehouse.py` checks the dev config creates none)."""
    if cloud not in _CACHE:
        from tricloud.config import with_optional_enabled

        require_stack(cloud)
        _CACHE[cloud] = run(cloud, with_optional_enabled(stack_config(cloud)))
    return _CACHE[cloud]


def run(cloud: str, config: dict[str, Any] | None = None) -> Platform:
    """Run stacks/<cloud> with its dev config (or `config`) and keep everything recorded."""
    require_stack(cloud)
    values = stack_config(cloud) if config is None else config
    region = str(values.get(REGION_KEYS[cloud], ""))
    mocks = RecordingMocks(cloud, region)
    monitor = OutputsMonitor(mocks)
    outputs = run_program(cloud, "dev", mocks, config=values, monitor=monitor)
    return Platform(
        cloud=cloud,
        region=region,
        resources=mocks.sorted_resources(),
        registered_outputs=dict(monitor.registered),
        stack_outputs=dict(outputs),
        options=dict(monitor.options),
        registered_twice=tuple(monitor.registered_twice),
    )

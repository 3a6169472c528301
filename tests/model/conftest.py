"""Fixtures of the `tricloud model` tests: one moto with the applied AWS stack per module, contexts, the CLI."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from offline import REGION, OfflineStack, apply_stack

from tricloud.config import parse
from tricloud.engine import Emulator
from tricloud.inventory import stack_config
from tricloud.model.base import LOCAL_STATE_ENV, Context


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OfflineStack]:
    """moto on loopback with stacks/aws applied by the local engine, two feature runs and held-out listings."""
    emu = Emulator.start(REGION)
    try:
        stack = apply_stack(emu, tmp_path_factory.mktemp("offline"))
        stack.put_curated("run-20250101T000000Z", rows=1200, seed=7)
        stack.put_curated("run-20240101T000000Z", rows=300, seed=8)  # older: never picked
        stack.put_holdout()
        yield stack
    finally:
        emu.stop()


@pytest.fixture()
def local_state(offline: OfflineStack, monkeypatch: pytest.MonkeyPatch) -> OfflineStack:
    """The commands (outputs, deployer) use this module's state file instead of .tricloud/."""
    monkeypatch.setenv(LOCAL_STATE_ENV, str(offline.state_path))
    monkeypatch.delenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", raising=False)
    return offline


def aws_context(offline: OfflineStack, workdir: Path, **sections: dict[str, Any]) -> Context:
    """A Context on the offline stack with the dev config, some `tricloud:<section>` keys replaced."""
    values = stack_config("aws", "dev")
    for name, value in sections.items():
        values[f"tricloud:{name}"] = {**(values.get(f"tricloud:{name}") or {}), **value}
    lines: list[str] = []
    ctx = Context(
        cloud="aws",
        stack="dev",
        project="tricloud-aws",
        config=parse("aws", values),
        outputs=dict(offline.outputs),
        endpoint=offline.emulator.moto_url,
        report=lines.append,
        git_commit="0123456789abcdef0123456789abcdef01234567",
        workdir=workdir,
    )
    ctx.lines = lines  # type: ignore[attr-defined]
    return ctx


def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any] | None, str]:
    """`tricloud <args>` in-process: (exit code, the --json document or None, stderr)."""
    from typer.testing import CliRunner

    from tricloud.cli import app

    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    doc = json.loads(result.stdout) if result.stdout.strip().startswith("{") else None
    return result.exit_code, doc, result.stderr

"""Fixtures of the `tricloud model` tests: one moto with the applied AWS stack per module, contexts, the CLI."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from offline import REGION, OfflineStack, apply_stack, moto_process

from tricloud.engine import Emulator
from tricloud.model.base import LOCAL_STATE_ENV


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OfflineStack]:
    """moto on loopback with stacks/aws applied by the local engine, two feature runs and held-out listings.

    moto runs as its own process: in-process moto servers share one global state, which the emulator tests'
    session-wide server already fills with the same stack."""
    with moto_process() as url:
        emu = Emulator.start(REGION, endpoint=url)
        stack = apply_stack(emu, tmp_path_factory.mktemp("offline"))
        stack.put_curated("run-20250101T000000Z", rows=1200, seed=7)
        stack.put_curated("run-20240101T000000Z", rows=300, seed=8)  # older: never picked
        stack.put_holdout()
        yield stack


@pytest.fixture()
def local_state(offline: OfflineStack, monkeypatch: pytest.MonkeyPatch) -> OfflineStack:
    """The commands (outputs, deployer) use this module's state file instead of .tricloud/."""
    monkeypatch.setenv(LOCAL_STATE_ENV, str(offline.state_path))
    monkeypatch.delenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", raising=False)
    return offline

"""Shared fixtures: one in-process moto for the session and one expensive end-to-end platform per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tricloud.engine import Emulator, Engine
from tricloud.inventory import stack_config

REGION = stack_config("aws", "dev")["aws:region"]


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """A long-lived moto server (in-process, loopback): state survives from one Engine to the next."""
    emu = Emulator.start(REGION)
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture()
def fresh_emulator() -> Iterator[Emulator]:
    """Its own moto: for lifecycle tests that must see an empty emulator before and after."""
    emu = Emulator.start(REGION)
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture(scope="session")
def platform(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The whole platform applied and running: apply, data, Spark, training, endpoint, gateway (~1 min)."""
    from tricloud.emulate.platform import Options, Platform

    state = tmp_path_factory.mktemp("state") / "aws-dev.local.json"
    p = Platform(emulator, Options(rows=2000, state_path=state))
    try:
        p.run_all()
        yield p
    finally:
        p.close()
        if p.engine is not None and p.engine.started:
            Engine(emulator, state_path=state).destroy()


def engine(emu: Emulator, state: Path, **kw: object) -> Engine:
    return Engine(emu, state_path=state, **kw)  # type: ignore[arg-type]

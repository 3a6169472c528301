"""Shared fixtures: one in-process moto for the session, one expensive end-to-end platform per module, and fresh
emulators that are really fresh (moto in its own process: moto's state is process-wide, so a second in-process
server would see the first one's resources)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tricloud.engine import Emulator, Engine
from tricloud.engine.emulator import reachable
from tricloud.engine.leftovers import leftovers
from tricloud.inventory import stack_config

REGION = stack_config("aws", "dev")["aws:region"]


class MotoProcess:
    """A moto server in a child process on a free loopback port; it outlives any process the test kills. By default
    the one whose SigV4 check works with IAM enforced (`tricloud.engine.moto_server`), as the docs tell users."""

    def __init__(self, module: str = "tricloud.engine.moto_server") -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, "-H", "127.0.0.1", "-p", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while not reachable(self.url):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"moto_server did not start on {self.url}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """A long-lived moto server (in-process, loopback): state survives from one Engine to the next."""
    emu = Emulator.start(REGION)
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture()
def moto_process() -> Iterator[MotoProcess]:
    moto = MotoProcess()
    try:
        yield moto
    finally:
        moto.stop()


@pytest.fixture(scope="module")
def module_moto_process() -> Iterator[MotoProcess]:
    """A moto process for one module's fixtures (its own backends, apart from the session's in-process moto)."""
    moto = MotoProcess()
    try:
        yield moto
    finally:
        moto.stop()


@pytest.fixture()
def plain_moto_process() -> Iterator[MotoProcess]:
    """moto's own `moto_server`, without tricloud's fixes to its request authentication."""
    moto = MotoProcess(module="moto.server")
    try:
        yield moto
    finally:
        moto.stop()


@pytest.fixture()
def fresh_emulator(moto_process: MotoProcess) -> Iterator[Emulator]:
    """Its own moto, in its own process, asserted empty: lifecycle tests see only what they create."""
    emu = Emulator.start(REGION, endpoint=moto_process.url)
    assert leftovers(emu) == {}, "a fresh emulator must start empty"
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
        if p.engine is not None and p.engine.started and _deployer_still_known(emulator):
            Engine(emulator, state_path=state).destroy()


def _deployer_still_known(emu: Emulator) -> bool:
    """False when a later test's `mock_aws()` reset this process's moto (its exit resets every in-process backend,
    ours included): the deployer and every resource went with it, so there is nothing left to destroy."""
    from botocore.exceptions import ClientError

    try:
        emu.account_id()
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "InvalidClientTokenId":
            return False
        raise
    return True


def engine(emu: Emulator, state: Path, **kw: object) -> Engine:
    return Engine(emu, state_path=state, **kw)  # type: ignore[arg-type]

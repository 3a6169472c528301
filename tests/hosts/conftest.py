"""Fixtures of the real-host tests: the artifacts built by the components' own functions, run in clean venvs.

The venvs are built on first use under .tricloud/venvs (cached by their requirements and Python version), so the
first run of this folder on a fresh clone installs them from the package registries; later runs start at once.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.data import generate, write_listings
from app.train import Hyperparameters, train
from tricloud.emulate.hosts.gcp_apis import GcsEmulator, MetadataServer
from tricloud.emulate.hosts.runtimes import ImageContainer
from tricloud.engine.archive import build_zip


@pytest.fixture(scope="session")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small trained artifact folder (model.joblib, metadata.json, schema.json, metrics.json)."""
    root = tmp_path_factory.mktemp("hosts-model")
    data = write_listings(generate(1500, seed=11), root / "raw.csv")
    return train(data, root / "model", Hyperparameters(max_iter=60), root / "out").model_dir


@pytest.fixture(scope="session")
def image(tmp_path_factory: pytest.TempPathFactory) -> ImageContainer:
    """app/Dockerfile's image as a process: its Python, its dependency set in a clean venv, its build context."""
    return ImageContainer(tmp_path_factory.mktemp("image"))


@pytest.fixture(scope="module")
def metadata() -> Iterator[MetadataServer]:
    server = MetadataServer("tricloud-demo", "api-fn@tricloud-demo.iam.gserviceaccount.com")
    yield server
    server.close()


@pytest.fixture(scope="module")
def gcs() -> Iterator[GcsEmulator]:
    emulator = GcsEmulator()
    yield emulator
    emulator.close()


def extract_artifact(archive: object, dest: Path) -> Path:
    """The zip the cloud receives (the engine's deterministic build of the Pulumi archive), extracted."""
    if dest.exists():
        shutil.rmtree(dest)
    with zipfile.ZipFile(io.BytesIO(build_zip(archive).data)) as zf:
        zf.extractall(dest)
    return dest


@pytest.fixture(scope="session")
def extract():
    return extract_artifact

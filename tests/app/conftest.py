"""Shared fixtures of the app tests: one small trained model, one SparkSession, live servers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from app.data import generate, write_listings
from app.train import Hyperparameters, TrainingResult, train
from tricloud.emulate.hosts.gcp_apis import DeployedModel, VertexApi

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
REPO = Path(__file__).resolve().parents[2]
TRAIN_ROWS = 5000


@pytest.fixture(scope="session")
def listings() -> pd.DataFrame:
    return generate(TRAIN_ROWS)  # default seed: the quality bar is stated for the default generator


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, listings: pd.DataFrame) -> TrainingResult:
    root = tmp_path_factory.mktemp("trained")
    data = write_listings(listings, root / "raw.csv")
    return train(data, root / "model", Hyperparameters(max_iter=200), root / "output")


@pytest.fixture(scope="session")
def model_dir(trained: TrainingResult) -> Path:
    return trained.model_dir


@pytest.fixture(scope="session")
def spark():
    pyspark = pytest.importorskip("pyspark", reason="the spark extra (pyspark) is not installed")
    session = (
        pyspark.sql.SparkSession.builder.master("local[2]")
        .appName("tricloud-app-tests")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def start_server(args: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], int]:
    """Start ``python -m app.serve ...`` on a free loopback port; returns (process, port)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.serve", *args, "--host", "127.0.0.1", "--port", "0"],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        m = re.search(r"on http://127\.0\.0\.1:(\d+)", line)
        if m:
            return proc, int(m.group(1))
        if proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError(f"server {args} did not start: {proc.stdout.read()}")


def stop_server(proc: subprocess.Popen[str]) -> None:
    proc.terminate()  # SIGTERM: the same signal SageMaker and Vertex send
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def sagemaker_server(model_dir: Path) -> Iterator[str]:
    proc, port = start_server(["sagemaker", "--model-dir", str(model_dir)])
    yield f"http://127.0.0.1:{port}"
    stop_server(proc)


@pytest.fixture(scope="session")
def vertex_server(model_dir: Path) -> Iterator[str]:
    env = {
        "AIP_HEALTH_ROUTE": "/v1/health",
        "AIP_PREDICT_ROUTE": "/v1/models/house:predict",
        "AIP_HTTP_PORT": "1",
    }
    proc, port = start_server(["vertex", "--model-dir", str(model_dir)], env)
    yield f"http://127.0.0.1:{port}"
    stop_server(proc)


VALID = {
    "city": "Pune",
    "locality_tier": 2,
    "area_sqft": 1050.0,
    "bedrooms": 2,
    "bathrooms": 2,
    "age_years": 4.5,
    "floor": 6,
    "parking": 1,
    "furnishing": "semi-furnished",
    "distance_to_metro_km": 1.8,
}


def raw_value(field: str, literal: bytes) -> bytes:
    """The valid listing as JSON text with one field's value replaced by a literal json.dumps cannot write."""

    return json.dumps({**VALID, field: "__literal__"}).encode().replace(b'"__literal__"', literal)


def bad_requests() -> list[tuple[str, bytes, str]]:
    """(name, body, content type): every one must get a 4xx, never a 2xx or 5xx."""

    def j(obj: object) -> bytes:
        return json.dumps(obj).encode()

    return [
        ("wrong type number as string", j({**VALID, "area_sqft": "1050"}), "application/json"),
        ("wrong type bool", j({**VALID, "bedrooms": True}), "application/json"),
        ("wrong type float for integer", j({**VALID, "floor": 2.5}), "application/json"),
        ("missing field", j({k: v for k, v in VALID.items() if k != "city"}), "application/json"),
        ("null field", j({**VALID, "furnishing": None}), "application/json"),
        ("unknown city", j({**VALID, "city": "Atlantis"}), "application/json"),
        ("unknown field", j({**VALID, "owner_phone": "98xxxxxx"}), "application/json"),
        ("negative area", j({**VALID, "area_sqft": -50}), "application/json"),
        ("out of range metro", j({**VALID, "distance_to_metro_km": 999}), "application/json"),
        ("zero bedrooms", j({**VALID, "bedrooms": 0}), "application/json"),
        (
            "one bad row in batch",
            j({"instances": [VALID, {**VALID, "locality_tier": 9}]}),
            "application/json",
        ),
        ("empty instances", j({"instances": []}), "application/json"),
        ("instances not a list", j({"instances": {"a": 1}}), "application/json"),
        ("instance not an object", j([1, 2, 3]), "application/json"),
        ("scalar body", j(42), "application/json"),
        ("string body", j("hello"), "application/json"),
        ("malformed json", b'{"city": "Pune",', "application/json"),
        ("empty body", b"", "application/json"),
        ("not utf-8", b"\xff\xfe\x00", "application/json"),
        ("nan value", b'{"city":"Pune","area_sqft":NaN}', "application/json"),
        # Python's json turns these into inf; an answer echoing them would not be JSON (Infinity).
        ("number beyond float range", raw_value("area_sqft", b"1e400"), "application/json"),
        ("Infinity literal", raw_value("age_years", b"-Infinity"), "application/json"),
        ("integer beyond float range", raw_value("floor", b"9" * 400), "application/json"),
        ("deep nesting", b"[" * 100_000 + b"]" * 100_000, "application/json"),
        ("too many rows", j({"instances": [VALID] * 1001}), "application/json"),
        ("huge payload", b'{"instances": [' + b" " * 7_000_000 + b"]}", "application/json"),
        ("wrong content type", j(VALID), "text/plain"),
        ("no content type", j(VALID), ""),
        ("form content type", b"city=Pune", "application/x-www-form-urlencoded"),
    ]


@pytest.fixture()
def valid_listing() -> dict[str, object]:
    return dict(VALID)


@pytest.fixture(scope="session")
def bad_request_corpus() -> list[tuple[str, bytes, str]]:
    return bad_requests()


@pytest.fixture()
def vertex_api(monkeypatch, vertex_server: str) -> Iterator[VertexApi]:
    """The Vertex prediction API stand-in in front of the Vertex-contract server; the function's env points at it."""
    from app.frontend import gcp_function

    api = VertexApi("tricloud-demo", "asia-south1", "token-1")
    api.deploy(DeployedModel("123", "456", "789", "house", vertex_server, "/v1/models/house:predict"))
    monkeypatch.setattr(
        gcp_function, "_token", lambda: "token-1"
    )  # the metadata-server path runs in tests/hosts
    for k, v in {
        "VERTEX_ENDPOINT_ID": "123",
        "GOOGLE_CLOUD_PROJECT": "tricloud-demo",
        "VERTEX_REGION": "asia-south1",
        "VERTEX_API_ENDPOINT": api.url,
        "ENDPOINT_TIMEOUT_MS": "500",
    }.items():
        monkeypatch.setenv(k, v)
    yield api
    api.close()


@pytest.fixture(autouse=True)
def fresh_endpoint_health(monkeypatch: pytest.MonkeyPatch):
    """Each test starts with an API that knows nothing of its endpoint (the state is per process, like a warm
    instance's)."""
    from app.frontend import core

    health = core.EndpointHealth()
    monkeypatch.setattr(core, "_health", health)
    return health


@pytest.fixture(scope="session")
def serve_process():
    """(start, stop) for tests that need a server with their own environment."""
    return start_server, stop_server

"""`tricloud model` on GCP: the real google-cloud-aiplatform clients (REST) against a faked HTTP layer
(fake_vertex), and Cloud Storage on gcp-storage-emulator.

What this verifies is the Vertex calls and their order and the decisions made on the answers; no Vertex service runs.
The artifacts are real (app.train on generated listings), so approval scores real models on real held-out rows.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_vertex import FakeVertex
from gcp_storage_emulator.server import create_server
from offline import folder_digest, model_files

from app.data.generator import generate
from components.errors import InvalidArgs
from tricloud.config import parse
from tricloud.inventory import build_inventory, stack_config
from tricloud.model.base import APPROVED, PENDING, REJECTED, Context, DeliveryError, GateRefused
from tricloud.model.gcp import GcpDelivery

PROJECT, REGION = "tricloud-dev", "asia-south1"
PARENT = f"projects/{PROJECT}/locations/{REGION}"
STRATEGY = __import__("google.cloud.aiplatform_v1", fromlist=["Scheduling"]).Scheduling.Strategy


@pytest.fixture(scope="module")
def outputs() -> dict[str, Any]:
    return {k: str(v) for k, v in build_inventory("gcp")["outputs"].items()}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    return model_files(tmp_path_factory.mktemp("models"))


@pytest.fixture()
def gcs(outputs: dict[str, Any]) -> Iterator[Any]:
    """gcp-storage-emulator on loopback with the lake's curated and artifacts buckets."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    client = storage.Client(
        project=PROJECT,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": f"http://127.0.0.1:{port}"},
    )
    for uri in (outputs["curated_uri"], outputs["training_output_uri"]):
        client.create_bucket(uri.removeprefix("gs://").split("/", 1)[0])
    try:
        yield client
    finally:
        server.stop()


def put(gcs: Any, uri: str, data: bytes) -> None:
    bucket, _, key = uri.removeprefix("gs://").partition("/")
    gcs.bucket(bucket).blob(key).upload_from_string(data)


@pytest.fixture()
def fake(outputs: dict[str, Any], gcs: Any, models: dict[str, dict[str, bytes]]) -> FakeVertex:
    curated = outputs["curated_uri"]
    put(gcs, f"{curated}listings/run-20240101T000000Z/part-0.parquet", b"old")
    put(gcs, f"{curated}listings/run-20240101T000000Z/_SUCCESS", b"")
    put(gcs, f"{curated}listings/run-20250101T000000Z/part-0.parquet", b"new")
    put(gcs, f"{curated}listings/run-20250101T000000Z/_SUCCESS", b"")
    put(gcs, f"{curated}holdout/listings.csv", generate(300, seed=11).to_csv(index=False).encode())
    f = FakeVertex()
    f.endpoint = {"name": f"{PARENT}/endpoints/{outputs['endpoint_name']}", "displayName": "endpoint"}
    f.next_model = "good"  # type: ignore[attr-defined]

    def job_done(job: dict[str, Any]) -> None:  # the job "ran": its model folder holds a real model
        base = job["jobSpec"]["baseOutputDirectory"]["outputUriPrefix"]
        for name, data in models[f.next_model].items():  # type: ignore[attr-defined]
            put(gcs, f"{base}model/{name}", data)

    f.on_job_done = job_done
    return f


def context(outputs: dict[str, Any], tmp_path: Path, **sections: dict[str, Any]) -> Context:
    values = stack_config("gcp", "dev")
    for name, value in sections.items():
        values[f"tricloud:{name}"] = {**(values.get(f"tricloud:{name}") or {}), **value}
    return Context(
        cloud="gcp",
        stack="dev",
        project="tricloud-gcp",
        config=parse("gcp", values),
        outputs=dict(outputs),
        git_commit="c0ffee00" * 5,
        workdir=tmp_path,
    )


def delivery(fake: FakeVertex, gcs: Any, ctx: Context) -> GcpDelivery:
    from google.auth.credentials import AnonymousCredentials

    return GcpDelivery(
        ctx,
        credentials=AnonymousCredentials(),
        adapter=fake.http,
        storage_client=gcs,
        sleep=lambda s: None,
        bake_seconds=0.3,
    )


def vertex_calls(fake: FakeVertex) -> list[str]:
    return [f"{c.method} {c.path.split(PARENT + '/', 1)[-1]}" for c in fake.http.calls]


def test_train_creates_a_custom_job_with_the_stack_settings(
    fake: FakeVertex, gcs: Any, outputs: dict[str, Any], tmp_path: Path
) -> None:
    ctx = context(
        outputs,
        tmp_path,
        training={"use_spot": False, "max_runtime_minutes": 90, "hyperparameters": {"max_iter": "120"}},
    )
    out = delivery(fake, gcs, ctx).train()
    job = fake.jobs[out["job"]]
    spec = job["jobSpec"]
    pool = spec["workerPoolSpecs"][0]
    assert pool["machineSpec"]["machineType"] == outputs["training_instance_type"] == "n1-standard-4"
    assert pool["containerSpec"]["args"] == [
        "train",
        "--train-data",
        f"{outputs['curated_uri']}listings/run-20250101T000000Z/",
        "--hp",
        "max_iter=120",
    ]
    assert spec["scheduling"]["timeout"] == "5400s"
    assert spec["scheduling"].get("strategy") in (
        "STANDARD",
        3,
    )  # enum names or numbers, as the client encodes
    assert spec["serviceAccount"] == outputs["training_role"]
    assert (
        spec["baseOutputDirectory"]["outputUriPrefix"]
        == f"{outputs['training_output_uri']}{out['job_name']}/"
    )
    assert vertex_calls(fake) == ["POST customJobs", f"GET customJobs/{out['job'].rsplit('/', 1)[1]}"]
    assert out["artifact"] == f"{outputs['training_output_uri']}{out['job_name']}/model/"


def test_spot_is_the_default_strategy_and_a_failed_job_fails_clearly(
    fake: FakeVertex, gcs: Any, outputs: dict[str, Any], tmp_path: Path
) -> None:
    fake.job_state = "JOB_STATE_FAILED"
    with pytest.raises(DeliveryError, match="non-zero status"):
        delivery(fake, gcs, context(outputs, tmp_path)).train()
    (job,) = fake.jobs.values()
    assert job["jobSpec"]["scheduling"]["strategy"] in ("SPOT", STRATEGY.SPOT.value)


def test_register_approve_rollout_canary_rollback(
    fake: FakeVertex, gcs: Any, outputs: dict[str, Any], models: dict[str, dict[str, bytes]], tmp_path: Path
) -> None:
    d = delivery(fake, gcs, context(outputs, tmp_path))
    trained = d.train()
    fake.http.calls.clear()
    v1 = d.register(job=trained["job_name"])  # the display name train printed
    assert v1.number == "1" and v1.status == PENDING
    assert v1.artifact_sha256 == folder_digest(models["good"])
    assert v1.version == f"{outputs['model_registry']}@1" and v1.git_commit == "c0ffee00" * 5
    upload = next(c for c in fake.http.calls if c.path.endswith("models:upload")).json()
    assert upload["modelId"] == "tricloud-gcp-dev-house-prices" and "parentModel" not in upload
    assert upload["model"]["containerSpec"]["args"] == ["serve", "--contract", "vertex"]
    assert d.register(job=trained["job"]).number == "1"  # the same artifact is not registered twice

    record = d.approve()
    assert record["approved"] and d.find("1").status == APPROVED

    first = d.rollout()
    (dm,) = fake.endpoint["deployedModels"]
    assert fake.endpoint["trafficSplit"] == {dm["id"]: 100}
    assert dm["dedicatedResources"]["machineSpec"]["machineType"] == "n1-standard-2"
    assert (dm["dedicatedResources"]["minReplicaCount"], dm["dedicatedResources"]["maxReplicaCount"]) == (
        1,
        5,
    )
    assert first["traffic"]["sent"] >= 1

    # Version 2 (the second artifact of a retrain): a canary share next to version 1, then all traffic, 1 undeployed.
    fake.next_model = "good"  # type: ignore[attr-defined]
    for name, data in {**models["good"], "notes.json": b'{"n": 2}'}.items():
        put(gcs, f"{outputs['training_output_uri']}retrain/model/{name}", data)
    v2 = d.register(artifact=f"{outputs['training_output_uri']}retrain/model/")
    assert v2.number == "2"
    upload = [c for c in fake.http.calls if c.path.endswith("models:upload")][-1].json()
    assert upload["parentModel"] == outputs["model_registry"] and "modelId" not in upload
    d.store_decision(
        v2,
        True,
        "approved by the test",
        {k: None for k in ("challenger", "champion", "champion_version")}
        | {"approved": True, "holdout": {}, "floors": {}},
    )
    fake.http.calls.clear()
    second = d.rollout()
    deploy = next(c for c in fake.http.calls if c.path.endswith(":deployModel")).json()
    assert deploy["trafficSplit"] == {"0": 10, dm["id"]: 90}
    calls = vertex_calls(fake)
    order = [
        c
        for c in calls
        if c.endswith((":deployModel", ":predict", ":undeployModel")) or c.startswith("PATCH endpoints")
    ]
    assert (
        order[0].endswith(":deployModel")
        and order[-2].startswith("PATCH endpoints")
        and order[-1].endswith(":undeployModel")
    )
    assert all(c.endswith(":predict") for c in order[1:-2])
    assert fake.endpoint["trafficSplit"] == {second["deployed_model_id"]: 100}
    assert [m["modelVersionId"] for m in fake.endpoint["deployedModels"]] == ["2"]

    # Version 3 fails on its canary: traffic back to 2, the canary undeployed, 3 rejected, exit 3.
    for name, data in {**models["good"], "notes.json": b'{"n": 3}'}.items():
        put(gcs, f"{outputs['training_output_uri']}retrain3/model/{name}", data)
    v3 = d.register(artifact=f"{outputs['training_output_uri']}retrain3/model/")
    d.store_decision(
        v3,
        True,
        "approved by the test",
        {k: None for k in ("challenger", "champion", "champion_version")}
        | {"approved": True, "holdout": {}, "floors": {}},
    )
    serving_id = second["deployed_model_id"]
    fake.answer = lambda chosen: (
        (500, {"error": {"code": 500, "message": "model crashed"}}) if chosen != serving_id else (200, None)
    )
    with pytest.raises(GateRefused) as refused:
        d.rollout(v3.number)
    assert "rolled back" in str(refused.value)
    assert fake.endpoint["trafficSplit"] == {serving_id: 100}
    assert [m["modelVersionId"] for m in fake.endpoint["deployedModels"]] == ["2"]
    assert d.find("3").status == REJECTED

    # Rollback on demand: back to version 1 (the newest other approved one), through the same canary.
    fake.answer = None
    out = d.rollback()
    assert out["version"] == "1" and [m["modelVersionId"] for m in fake.endpoint["deployedModels"]] == ["1"]
    assert d.status()["serving"]["number"] == "1"


def test_a_weak_model_is_refused_at_approval(
    fake: FakeVertex, gcs: Any, outputs: dict[str, Any], tmp_path: Path
) -> None:
    fake.next_model = "weak"  # type: ignore[attr-defined]
    d = delivery(fake, gcs, context(outputs, tmp_path))
    v = d.register(job=d.train()["job"])
    with pytest.raises(GateRefused) as refused:
        d.approve(v.number)
    assert refused.value.decision["challenger"]["r2"] < 0.8 and d.find(v.number).status == REJECTED


def test_the_registry_output_must_be_a_vertex_model(outputs: dict[str, Any], tmp_path: Path) -> None:
    ctx = context(outputs, tmp_path)
    ctx.outputs["model_registry"] = "gs://not-a-model"
    with pytest.raises(InvalidArgs) as err:
        GcpDelivery(ctx)
    assert err.value.field == "outputs.model_registry"

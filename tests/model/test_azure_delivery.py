"""`tricloud model` on Azure: the real azure-ai-ml and ADLS clients against a faked HTTP layer (fake_azure).

What this verifies is the calls and their order (ARM and storage requests as the SDK sends them) and the decisions
made on the answers; no Azure service runs. The model artifacts are real (app.train on generated listings), so the
approval scores real models on real held-out rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fake_azure import FakeAzure, Token
from fake_http import session_with
from offline import folder_digest, model_files

from app.data.generator import generate
from components.errors import InvalidArgs
from tricloud.config import parse
from tricloud.inventory import build_inventory, stack_config
from tricloud.model.azure import AzureDelivery
from tricloud.model.base import APPROVED, PENDING, REJECTED, Context, GateRefused

ACCOUNT = "tricloudazuredevlake"
SUB = "/subscriptions/7d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6/resourceGroups/tricloud-azure-dev-ml-rg"
WS = SUB + "/providers/Microsoft.MachineLearningServices/workspaces/tricloud-azure-dev-mlw"
SCORING = "https://endpoint.centralindia.inference.ml.azure.com/score"


@pytest.fixture(scope="module")
def outputs() -> dict[str, Any]:
    return {k: str(v) for k, v in build_inventory("azure")["outputs"].items()}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    return model_files(tmp_path_factory.mktemp("models"))


@pytest.fixture()
def fake(outputs: dict[str, Any], models: dict[str, dict[str, bytes]]) -> FakeAzure:
    f = FakeAzure()
    f.files[f"{ACCOUNT}/curated/listings/run-20240101T000000Z/part-0.parquet"] = b"old"
    f.files[f"{ACCOUNT}/curated/listings/run-20240101T000000Z/_SUCCESS"] = b""
    f.files[f"{ACCOUNT}/curated/listings/run-20250101T000000Z/part-0.parquet"] = b"new"
    f.files[f"{ACCOUNT}/curated/listings/run-20250101T000000Z/_SUCCESS"] = b""
    f.files[f"{ACCOUNT}/curated/listings/run-20260101T000000Z/part-0.parquet"] = b"unfinished"  # no _SUCCESS
    f.files[f"{ACCOUNT}/curated/holdout/listings.csv"] = generate(300, seed=11).to_csv(index=False).encode()
    endpoint = outputs["endpoint_name"]
    f.endpoint = {
        "id": f"{WS}/onlineEndpoints/{endpoint}",
        "name": endpoint,
        "location": "centralindia",
        "identity": {"type": "SystemAssigned"},
        "properties": {
            "authMode": "Key",
            "scoringUri": SCORING,
            "traffic": {},
            "provisioningState": "Succeeded",
        },
    }
    f.deployments["blue"] = {
        "id": f"{WS}/onlineEndpoints/{endpoint}/deployments/blue",
        "name": "blue",
        "location": "centralindia",
        "sku": {"name": "Default", "capacity": 1},
        "properties": {
            "endpointComputeType": "Managed",
            "instanceType": "Standard_DS1_v2",
            "model": f"{WS}/models/tricloud-azure-dev-model/versions/1",
            "environmentId": f"{WS}/environments/tricloud-azure-dev-serve/versions/1",
            "scaleSettings": {"scaleType": "Default"},
            "requestSettings": {"requestTimeout": "PT5S", "maxConcurrentRequestsPerInstance": 5},
            "livenessProbe": {"initialDelay": "PT30S", "period": "PT10S", "failureThreshold": 3},
            "appInsightsEnabled": True,
            "egressPublicNetworkAccess": "Disabled",
            "provisioningState": "Succeeded",
        },
    }
    # The job "runs": its model output folder receives the good model's files.
    original = f.put_job

    def put_job(call: Any) -> Any:
        status, job = original(call)
        uri = job["properties"]["outputs"]["model"]["uri"]
        rel = uri.split("/paths/", 1)[1]
        for name, data in models[f.next_model].items():
            f.files[f"{ACCOUNT}/artifacts/{rel}{name}"] = data
        return status, job

    f.http.routes = [(m, p, put_job if h == original else h) for m, p, h in f.http.routes]
    f.next_model = "good"  # type: ignore[attr-defined]
    return f


def context(outputs: dict[str, Any], tmp_path: Path, **sections: dict[str, Any]) -> Context:
    values = stack_config("azure", "dev")
    for name, value in sections.items():
        values[f"tricloud:{name}"] = {**(values.get(f"tricloud:{name}") or {}), **value}
    return Context(
        cloud="azure",
        stack="dev",
        project="tricloud-azure",
        config=parse("azure", values),
        outputs=dict(outputs),
        git_commit="feedface" * 5,
        workdir=tmp_path,
    )


def delivery(fake: FakeAzure, ctx: Context, **kw: Any) -> AzureDelivery:
    from azure.core.pipeline.transport import RequestsTransport

    session = session_with(fake.http)
    transport = RequestsTransport(session=session, session_owner=False)

    def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        r = session.post(url, data=body, headers=headers)
        return r.status_code, r.content

    return AzureDelivery(
        ctx, credential=Token(), transport=transport, sleep=lambda s: None, bake_seconds=0.3, post=post, **kw
    )


def arm_calls(fake: FakeAzure) -> list[str]:
    """`METHOD <resource kind>[/<child>]` of the ARM calls, in order (ids shortened to what identifies the step)."""
    out = []
    for c in fake.http.calls:
        if "management.azure.com" in c.url:
            tail = c.path.split("/workspaces/tricloud-azure-dev-mlw", 1)[1].lstrip("/") or "workspace"
            out.append(f"{c.method} {tail}")
    return out


def test_train_submits_a_command_job_with_the_stack_settings(
    fake: FakeAzure, outputs: dict[str, Any], tmp_path: Path
) -> None:
    ctx = context(
        outputs, tmp_path, training={"max_runtime_minutes": 45, "hyperparameters": {"max_iter": "120"}}
    )
    out = delivery(fake, ctx).train()
    job = fake.jobs[out["job_name"]]["properties"]
    assert job["computeId"].endswith("/computes/train")
    assert "--hp max_iter=120" in job["command"] and "${{inputs.train}}" in job["command"]
    assert (
        job["inputs"]["train"]["uri"]
        == f"abfss://curated@{ACCOUNT}.dfs.core.windows.net/listings/run-20250101T000000Z/"
    )
    assert (
        job["outputs"]["model"]["uri"]
        == f"azureml://datastores/lake_artifacts/paths/models/{out['job_name']}/model/"
    )
    assert job["limits"]["timeout"] == "PT45M"
    assert job["identity"]["identityType"] == "Managed"
    calls = arm_calls(fake)
    env_put = next(i for i, c in enumerate(calls) if c.startswith("PUT environments/"))
    job_put = calls.index(f"PUT jobs/{out['job_name']}")
    assert env_put < job_put < calls.index(f"GET jobs/{out['job_name']}")
    assert out["status"] == "Completed"


def test_a_failed_job_fails_clearly(fake: FakeAzure, outputs: dict[str, Any], tmp_path: Path) -> None:
    from tricloud.model.base import DeliveryError

    fake.job_status = "Failed"
    with pytest.raises(DeliveryError, match="failed"):
        delivery(fake, context(outputs, tmp_path)).train()


def test_register_approve_rollout_canary_and_rollback(
    fake: FakeAzure, outputs: dict[str, Any], models: dict[str, dict[str, bytes]], tmp_path: Path
) -> None:
    d = delivery(fake, context(outputs, tmp_path))
    job = d.train()["job_name"]
    v1 = d.register(job=job)
    assert v1.number == "1" and v1.status == PENDING
    assert v1.artifact_sha256 == folder_digest({k: v for k, v in models["good"].items()})
    # The SDK sends the long form of the datastore path (workspace-qualified).
    assert v1.artifact_uri.startswith("azureml://subscriptions/")
    assert v1.artifact_uri.endswith(f"/datastores/lake_artifacts/paths/models/{job}/model/")
    assert (
        v1.training_data_uri.endswith("/listings/run-20250101T000000Z/") and v1.git_commit == "feedface" * 5
    )
    assert d.register(job=job).number == "1"  # same artifact: not registered twice

    record = d.approve()
    assert record["approved"] and d.find("1").status == APPROVED
    stored = fake.models["1"]["properties"]["tags"]
    assert (
        stored["tricloud.approval"] == "approved" and float(stored["tricloud.decision.challenger.r2"]) > 0.8
    )

    fake.http.calls.clear()
    first = d.rollout()
    # Nothing served yet (the endpoint starts with no traffic): the stack's blue deployment takes the version,
    # is probed directly, then takes all traffic.
    assert first["slot"] == "blue" and first["traffic"]["sent"] >= 1
    assert (
        fake.deployments["blue"]["properties"]["model"]
        == f"{WS}/models/tricloud-azure-dev-house-prices/versions/1"
    )
    assert fake.endpoint["properties"]["traffic"] == {"blue": 100}
    assert set(fake.scored) == {"blue"}
    calls = arm_calls(fake)
    deploy = calls.index("PUT onlineEndpoints/tricloud-azure-dev-endpoint/deployments/blue")
    assert deploy < calls.index("POST onlineEndpoints/tricloud-azure-dev-endpoint/listKeys")
    assert deploy < len(calls) - 1 - calls[::-1].index("PUT onlineEndpoints/tricloud-azure-dev-endpoint")

    # Version 2 gets a canary share in green; it answers well, so it takes all traffic and blue stays at 0 %.
    fake.scored.clear()
    for sub, n in (("extra", 2), ("more", 3)):  # two more artifacts (the good model with a distinct file)
        for name, data in {**models["good"], "notes.json": f'{{"n": {n}}}'.encode()}.items():
            fake.files[f"{ACCOUNT}/artifacts/models/{job}-{sub}/model/{name}"] = data
    v2 = d.register(artifact=f"abfss://artifacts@{ACCOUNT}.dfs.core.windows.net/models/{job}-extra/model/")
    assert v2.number == "2"
    d.store_decision(v2, True, "approved by the test", {"holdout": {"sha256": "h"}, "floors": {}})
    traffic_seen: list[dict[str, int]] = []
    original_put = fake.put_endpoint

    def spy(call: Any) -> Any:
        # Shares of 0 % may be left out of the map (the SDK drops them): compare the shares that carry traffic.
        traffic_seen.append({k: v for k, v in call.json()["properties"]["traffic"].items() if v})
        return original_put(call)

    fake.http.routes = [(m, p, spy if h == original_put else h) for m, p, h in fake.http.routes]
    second = d.rollout()
    assert second["slot"] == "green" and second["version"] == "2"
    assert traffic_seen == [{"blue": 90, "green": 10}, {"green": 100}]  # canary share, then all
    assert set(fake.scored) == {"green"}  # the bake's probes went to the canary only
    assert d.status()["serving"]["number"] == "2"

    # Rollback on demand: blue still holds version 1, so the traffic moves back at once.
    traffic_seen.clear()
    out = d.rollback()
    assert out["slot"] == "blue" and traffic_seen == [{"blue": 100}]

    # Version 3's canary errors: traffic returns to blue, the version is rejected, exit 3 with the numbers.
    v3 = d.register(artifact=f"abfss://artifacts@{ACCOUNT}.dfs.core.windows.net/models/{job}-more/model/")
    d.store_decision(v3, True, "approved by the test", {"holdout": {"sha256": "h"}, "floors": {}})
    fake.scored.clear()
    fake.scoring = lambda slot, body: (
        (500, {"message": "boom"}) if slot == "green" else (200, {"predictions": [1.0]})
    )
    traffic_seen.clear()
    with pytest.raises(GateRefused) as refused:
        d.rollout(v3.number)
    assert "rolled back" in str(refused.value) and refused.value.decision["traffic"]["errors"] >= 1
    assert traffic_seen == [{"blue": 90, "green": 10}, {"blue": 100}]
    assert d.find("3").status == REJECTED and d.status()["serving"]["slot"] == "blue"
    fake.scoring = None
    assert d.rollout()["version"] == "2"  # the newest approved version is 2 again, not the refused 3


def test_a_weak_model_is_refused_at_approval(
    fake: FakeAzure, outputs: dict[str, Any], tmp_path: Path
) -> None:
    fake.next_model = "weak"  # type: ignore[attr-defined]
    d = delivery(fake, context(outputs, tmp_path))
    v = d.register(job=d.train()["job_name"])
    with pytest.raises(GateRefused) as refused:
        d.approve(v.number)
    assert refused.value.decision["challenger"]["r2"] < 0.8
    assert d.find(v.number).status == REJECTED
    with pytest.raises(GateRefused, match="only an approved version"):
        d.rollout(v.number)


def test_the_registry_output_must_be_a_model_container(outputs: dict[str, Any], tmp_path: Path) -> None:
    ctx = context(outputs, tmp_path)
    ctx.outputs["model_registry"] = "not-an-id"
    with pytest.raises(InvalidArgs) as err:
        AzureDelivery(ctx, credential=Token())
    assert err.value.field == "outputs.model_registry"

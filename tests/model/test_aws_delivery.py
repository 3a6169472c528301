"""`tricloud model` on AWS against moto with the applied stack: train, register, approve, rollout, rollback, status.

The commands run with the real SageMaker/S3/SSM/ECR API calls against moto; training runs app.train locally with
the SageMaker contract. Expected values are worked out independently of the code under test (hashes of the bytes in
S3, the config the test wrote, the job record moto holds).
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from offline import LIFECYCLE, OfflineStack, aws_context, raw_cold_after, run_cli, split, with_raw_cold_after

from components.errors import InvalidArgs
from components.model_endpoint.serving import ServingModel
from tricloud.engine.handlers.registry import INVOKES
from tricloud.inventory import run_program
from tricloud.mocks import RecordingMocks
from tricloud.model.aws import AwsDelivery, job_name
from tricloud.model.base import APPROVED, PENDING, REJECTED, DeliveryError, GateRefused
from tricloud.model.deploy import DeployOutcome


def s3_bytes(stack: OfflineStack, uri: str) -> bytes:
    bucket, key = split(uri)
    return stack.s3().get_object(Bucket=bucket, Key=key)["Body"].read()


def tar_member(blob: bytes, name: str) -> dict[str, Any]:
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        member = tar.extractfile(name)
        assert member is not None
        return json.loads(member.read())


@pytest.fixture(scope="module")
def good_job(offline: OfflineStack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One training run with non-default settings (spot off, 30 minutes, two hyperparameters)."""
    ctx = aws_context(
        offline,
        tmp_path_factory.mktemp("train"),
        training={
            "use_spot": False,
            "max_runtime_minutes": 30,
            "hyperparameters": {"max_iter": "120", "seed": "5"},
        },
    )
    return AwsDelivery(ctx).train()


@pytest.fixture(scope="module")
def weak_job(offline: OfflineStack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A deliberately bad model: one boosting iteration predicts little more than the mean price."""
    ctx = aws_context(
        offline,
        tmp_path_factory.mktemp("weak"),
        training={"hyperparameters": {"max_iter": "1", "min_r2": "-1"}},
    )
    return AwsDelivery(ctx).train()


# --- train ---------------------------------------------------------------------------------------------------------


def test_train_submits_the_stack_settings_and_trains_on_the_newest_feature_run(
    offline: OfflineStack, good_job: dict[str, Any]
) -> None:
    sm = offline.emulator.client("sagemaker")
    job = sm.describe_training_job(TrainingJobName=good_job["job_name"])
    assert job["HyperParameters"] == {"max_iter": "120", "seed": "5"}
    assert job["EnableManagedSpotTraining"] is False
    assert job["StoppingCondition"]["MaxRuntimeInSeconds"] == 30 * 60
    assert job["ResourceConfig"]["InstanceType"] == offline.outputs["training_instance_type"] == "ml.m5.large"
    assert job["RoleArn"] == offline.outputs["training_role"]
    assert job["AlgorithmSpecification"]["TrainingImage"].startswith(
        offline.outputs["training_image_uri"].rsplit(":", 1)[0] + "@sha256:"
    )
    curated = offline.outputs["curated_uri"]
    assert job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == (
        f"{curated}listings/run-20250101T000000Z/"
    )
    # The artifact SageMaker's record points at was really trained here, with those hyperparameters.
    metadata = tar_member(s3_bytes(offline, good_job["artifact"]), "metadata.json")
    assert metadata["hyperparameters"]["max_iter"] == 120 and metadata["hyperparameters"]["seed"] == 5
    assert metadata["rows_used"] > 1000  # the 1200-row run, not the 300-row older one


def test_spot_training_waits_at_least_its_runtime(offline: OfflineStack, weak_job: dict[str, Any]) -> None:
    job = offline.emulator.client("sagemaker").describe_training_job(TrainingJobName=weak_job["job_name"])
    assert job["EnableManagedSpotTraining"] is True  # the dev config's default
    stop = job["StoppingCondition"]
    assert stop["MaxRuntimeInSeconds"] == 3600 and stop["MaxWaitTimeInSeconds"] >= 3600


def test_job_names_are_unique_for_one_commit_and_fit_sagemaker() -> None:
    names = {job_name("tricloud-aws", "dev", "a" * 40, now=1_700_000_000) for _ in range(20)}
    assert len(names) == 20
    for n in names:
        assert len(n) <= 63 and n.startswith("tricloud-aws-dev-aaaaaaaa-20231114221320-")
    long = job_name("p" * 40, "stack" * 6, "b" * 40)
    assert len(long) <= 63


def test_train_fails_clearly(offline: OfflineStack, tmp_path: Path) -> None:
    bad_hp = aws_context(offline, tmp_path, training={"hyperparameters": {"learning_rate": "7"}})
    with pytest.raises(DeliveryError, match="learning_rate"):
        AwsDelivery(bad_hp).train()
    empty = aws_context(offline, tmp_path)
    empty.outputs["training_input_uri"] = offline.outputs["raw_uri"]  # a zone with no feature run
    with pytest.raises(InvalidArgs) as err:
        AwsDelivery(empty).train()
    assert err.value.field == "training data" and "_SUCCESS" in err.value.reason


# --- register ------------------------------------------------------------------------------------------------------


def test_register_records_digests_metrics_data_and_commit(
    offline: OfflineStack, good_job: dict[str, Any], tmp_path: Path
) -> None:
    d = AwsDelivery(aws_context(offline, tmp_path))
    v = d.register(job=good_job["job_name"])
    blob = s3_bytes(offline, good_job["artifact"])
    sha = hashlib.sha256(blob).hexdigest()
    metrics = tar_member(blob, "metrics.json")
    metadata = tar_member(blob, "metadata.json")
    assert v.status == PENDING and v.artifact_sha256 == sha
    assert v.artifact_uri.endswith(f"/models/sha256/{sha}/model.tar.gz")
    assert (
        hashlib.sha256(s3_bytes(offline, v.artifact_uri)).hexdigest() == sha
    )  # the pinned copy is the artifact
    assert v.image == good_job["image"] and "@sha256:" in v.image
    assert v.metrics["rmse"] == pytest.approx(metrics["rmse"], rel=1e-5)
    assert v.metrics["r2"] == pytest.approx(metrics["r2"], rel=1e-5)
    assert v.training_data_uri == good_job["training_data_uri"]
    assert v.training_data_sha256 == metadata["training_data_sha256"]
    assert v.git_commit == "0123456789abcdef0123456789abcdef01234567"
    assert v.label == metadata["version"]
    again = d.register(job=good_job["job_name"])
    assert again.version == v.version  # the same artifact is never registered twice


def test_register_needs_exactly_one_source(offline: OfflineStack, tmp_path: Path) -> None:
    d = AwsDelivery(aws_context(offline, tmp_path))
    with pytest.raises(InvalidArgs, match="exactly one"):
        d.register()
    with pytest.raises(InvalidArgs, match="exactly one"):
        d.register(job="x", artifact="s3://b/k")


# --- approve, rollout, rollback, status ----------------------------------------------------------------------------


def _fresh_records(d: AwsDelivery) -> None:
    d.write_record("serving", None)
    d.write_record("previous", None)


def test_delivery_flow_refuses_a_bad_model_and_rolls_back_on_demand(
    local_state: OfflineStack, good_job: dict[str, Any], weak_job: dict[str, Any], tmp_path: Path
) -> None:
    d = AwsDelivery(aws_context(local_state, tmp_path))
    _fresh_records(d)
    good = d.register(job=good_job["job_name"])
    decision = d.approve(good.number)
    assert decision["approved"] is True and decision["holdout"]["rows"] == 400
    assert d.find(good.number).status == APPROVED
    assert d.find(good.number).decision["approved"] == "true"

    weak = d.register(job=weak_job["job_name"])
    with pytest.raises(GateRefused) as refused:
        d.approve(weak.number)
    numbers = refused.value.decision
    assert numbers["approved"] is False and numbers["challenger"]["r2"] < 0.8
    stored = d.find(weak.number)
    assert stored.status == REJECTED
    assert float(stored.decision["challenger.r2"]) == pytest.approx(numbers["challenger"]["r2"], rel=1e-5)
    with pytest.raises(GateRefused, match="only an approved version"):
        d.rollout(weak.number)

    out = d.rollout(good.number)
    assert out["changed"] is True and out["took"] is True
    record = d.read_record("serving")
    assert record is not None and record.version == good.version and record.image == good.image
    served = d.endpoint_model()
    assert (served["image"], served["model_data_uri"]) == (good.image, good.artifact_uri)
    assert out["traffic"]["sent"] >= 1  # real requests went to the endpoint during the update
    status = d.status()
    assert status["serving"]["label"] == good.label and status["latest_approved"] == good.number
    assert d.rollout(good.number)["changed"] is False  # already serving: nothing to do


def test_rollout_keeps_the_stack_unchanged_afterwards(
    local_state: OfflineStack, good_job: dict[str, Any], tmp_path: Path
) -> None:
    """After a rollout, `pulumi up` would change nothing: the stack reads the serving record."""
    from tricloud.engine import Engine

    d = AwsDelivery(aws_context(local_state, tmp_path))
    good = d.register(job=good_job["job_name"])
    if d.find(good.number).status != APPROVED:
        d.approve(good.number)
    d.rollout(good.number)
    result = Engine(local_state.emulator, stack="dev", state_path=local_state.state_path).apply()
    changed = {a: result.count(a) for a in ("create", "update", "replace", "delete")}
    assert changed == {"create": 0, "update": 0, "replace": 0, "delete": 0}, result.summary()

    # The stack program under plain mocks, reading the record from the emulator's SSM, asks for exactly the model
    # and configuration the rollout applied (what `pulumi preview` compares with its state).
    mocks = RecordingMocks("aws", "ap-south-1")
    engine_ctx = Engine(local_state.emulator, stack="dev", state_path=local_state.state_path).ctx()
    mocks.invokes.update({t: (lambda args, fn=fn: fn(engine_ctx, args)) for t, fn in INVOKES.items()})
    run_program("aws", "dev", mocks)
    sm = local_state.emulator.client("sagemaker")
    ep = sm.describe_endpoint(EndpointName=local_state.outputs["endpoint_name"])
    applied_cfg = sm.describe_endpoint_config(EndpointConfigName=ep["EndpointConfigName"])
    applied_model = sm.describe_model(ModelName=applied_cfg["ProductionVariants"][0]["ModelName"])
    model = mocks.one("aws:sagemaker/model:Model").inputs
    assert model["primaryContainer"]["image"] == applied_model["PrimaryContainer"]["Image"] == good.image
    assert model["primaryContainer"]["modelDataUrl"] == applied_model["PrimaryContainer"]["ModelDataUrl"]
    assert good.artifact_sha256 in model["primaryContainer"]["modelDataUrl"]
    assert model["executionRoleArn"] == applied_model["ExecutionRoleArn"]
    (variant,) = mocks.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration").inputs[
        "productionVariants"
    ]
    (applied_variant,) = applied_cfg["ProductionVariants"]
    assert variant["serverlessConfig"] == {
        "memorySizeInMb": applied_variant["ServerlessConfig"]["MemorySizeInMB"],
        "maxConcurrency": applied_variant["ServerlessConfig"]["MaxConcurrency"],
    }
    deployment = mocks.one("aws:sagemaker/endpoint:Endpoint").inputs["deploymentConfig"]
    routing = deployment["blueGreenUpdatePolicy"]["trafficRoutingConfiguration"]
    assert routing["canarySize"] == {"type": "CAPACITY_PERCENT", "value": 10}


def test_rollout_applies_only_the_endpoint_and_leaves_an_unrelated_edit_pending(
    local_state: OfflineStack, good_job: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The offline rollout is targeted like the real one (`pulumi up --target` of the endpoint's resources): a
    config edit to the lake made before it is not applied by it; the next full apply applies it."""
    import tricloud.inventory
    from tricloud.engine import Engine

    edited = with_raw_cold_after(45)
    with monkeypatch.context() as patch:
        patch.setattr(tricloud.inventory, "stack_config", lambda cloud, stack="dev": edited)
        before = raw_cold_after(local_state.emulator, local_state.state_path)
        assert before[1] == 30
        ctx = aws_context(local_state, tmp_path)
        d = AwsDelivery(ctx)
        _fresh_records(d)
        good = d.register(job=good_job["job_name"])
        if d.find(good.number).status != APPROVED:
            d.approve(good.number)
        out = d.rollout(good.number)
        assert out["took"] is True
        lake = (local_state.emulator, local_state.state_path)
        assert raw_cold_after(*lake) == before  # state and moto: still old
        assert "1 update left for a full apply" in out["outcome"], out["outcome"]
        told = "\n".join(ctx.lines)  # type: ignore[attr-defined]
        assert f"left for a full apply (not targeted): update {LIFECYCLE} " in told
        full = Engine(local_state.emulator, state_path=local_state.state_path, config=edited).apply()
        assert full.count("update") == 1 and raw_cold_after(*lake)[1] == 45
    # The module's stack back to the dev config for the next tests.
    Engine(local_state.emulator, stack="dev", state_path=local_state.state_path).apply()
    assert raw_cold_after(local_state.emulator, local_state.state_path)[1] == 30


def test_a_rollback_by_the_canary_restores_the_previous_version(
    local_state: OfflineStack, good_job: dict[str, Any], tmp_path: Path
) -> None:
    """SageMaker rolls the canary back (the update fails, the endpoint keeps the old model): the serving record
    goes back, the stack is reconciled, and the command says why."""
    ctx = aws_context(local_state, tmp_path)
    seen: list[str | None] = []

    class RolledBack:
        def apply(self, reason: str) -> DeployOutcome:
            rec = probe.read_record("serving")
            seen.append(rec.version if rec else None)
            if len(seen) == 1:
                return DeployOutcome(
                    False, "UpdateRollbackCompleted: alarm tricloud-aws-dev-endpoint-5xx fired"
                )
            return DeployOutcome(True, "reconciled")

    probe = AwsDelivery(ctx)
    _fresh_records(probe)
    good = probe.register(job=good_job["job_name"])
    if probe.find(good.number).status != APPROVED:
        probe.approve(good.number)
    before = probe.endpoint_model()
    with pytest.raises(GateRefused) as refused:
        AwsDelivery(ctx, deployer=RolledBack()).rollout(good.number)
    assert "rolled back" in str(refused.value) and "UpdateRollbackCompleted" in str(refused.value)
    assert seen == [good.version, None]  # applied with the new record, reconciled with the old (none) one
    assert probe.read_record("serving") is None
    assert probe.endpoint_model()["model_data_uri"] == before["model_data_uri"]
    assert refused.value.decision["reconcile"] == "reconciled"


def test_rollback_on_demand_returns_to_the_previous_version(
    local_state: OfflineStack, good_job: dict[str, Any], tmp_path: Path
) -> None:
    d = AwsDelivery(aws_context(local_state, tmp_path))
    _fresh_records(d)
    good = d.register(job=good_job["job_name"])
    if d.find(good.number).status != APPROVED:
        d.approve(good.number)
    d.rollout(good.number)
    # A second serving record to roll back from: the same model under a distinct record (a hand-made version).
    other = ServingModel(good.version + "-b", good.artifact_uri, good.artifact_sha256, good.image, "other")
    d.write_record("previous", d.read_record("serving"))
    d.write_record("serving", other)
    out = d.rollback()
    assert out["label"] == good.label and out["took"] is True
    assert d.read_record("serving").version == good.version  # type: ignore[union-attr]
    assert d.read_record("previous") == other


def test_rollout_checks_the_artifact_against_its_sha256(
    local_state: OfflineStack, good_job: dict[str, Any], tmp_path: Path
) -> None:
    d = AwsDelivery(aws_context(local_state, tmp_path))
    good = d.register(job=good_job["job_name"])
    tampered = ServingModel(good.version, good.artifact_uri, "0" * 64, good.image, good.label)
    with pytest.raises(GateRefused, match="integrity"):
        d.verify_artifact(tampered)


def test_rollout_refuses_a_model_pinned_in_the_config(local_state: OfflineStack, tmp_path: Path) -> None:
    ctx = aws_context(local_state, tmp_path, endpoint={"model_data_uri": "s3://b/models/m.tar.gz"})
    with pytest.raises(InvalidArgs) as err:
        AwsDelivery(ctx).rollout()
    assert err.value.field == "tricloud:endpoint.model_data_uri"


# --- the command line: exit codes and --json -----------------------------------------------------------------------


def test_cli_exit_codes(local_state: OfflineStack, weak_job: dict[str, Any]) -> None:
    url = local_state.emulator.moto_url
    code, doc, _ = run_cli(
        "model", "register", "aws", "--endpoint", url, "--job", weak_job["job_name"], "--json"
    )
    assert code == 0 and doc is not None and doc["ok"] is True
    code, doc, err = run_cli(
        "model", "approve", "aws", "--endpoint", url, "--version", doc["number"], "--json"
    )
    assert code == 3 and doc is not None and doc["ok"] is False
    assert doc["decision"]["approved"] is False and "R2" in err
    code, doc, err = run_cli("model", "status", "azure", "--endpoint", url, "--json")
    assert code == 2 and doc is not None and doc["field"] == "--endpoint"
    code, doc, err = run_cli("model", "rollout", "aws", "--endpoint", url, "--version", "999", "--json")
    assert code == 2 and doc is not None and doc["field"] == "--version"
    code, doc, _ = run_cli("model", "status", "aws", "--endpoint", url, "--json")
    assert code == 0 and doc is not None and {"serving", "endpoint", "versions", "in_canary"} <= set(doc)
    # CI names the stack as Pulumi Cloud does (org/dev): the config is Pulumi.dev.yaml, the records are dev's.
    code, doc2, _ = run_cli("model", "status", "aws", "--stack", "acme/dev", "--endpoint", url, "--json")
    assert code == 0 and doc2 is not None and doc2["serving"] == doc["serving"]
    code, doc, _ = run_cli("model", "status", "aws", "--stack", "acme/nosuch", "--endpoint", url, "--json")
    assert code == 2 and doc is not None and doc["field"] == "stack"


# --- smoke through the real local API gateway (SigV4, Lambda handler, runtime shim, inference server) --------------


@pytest.fixture()
def served(local_state: OfflineStack, good_job: dict[str, Any], tmp_path: Path) -> Any:
    """The rolled-out version served offline: inference server + runtime shim + API gateway on loopback."""
    from tricloud.emulate.platform import Options, Platform
    from tricloud.engine import Engine, State

    d = AwsDelivery(aws_context(local_state, tmp_path))
    good = d.register(job=good_job["job_name"])
    if d.find(good.number).status != APPROVED:
        d.approve(good.number)
    d.rollout(good.number)
    p = Platform(local_state.emulator, Options(state_path=local_state.state_path))
    p.engine = Engine(local_state.emulator, stack="dev", state_path=local_state.state_path)
    p.engine.state = State.load(local_state.state_path)
    p.outputs = dict(local_state.outputs)
    try:
        p.serve()
        p.start_gateway()
        yield p, good
    finally:
        p.close()


def test_smoke_passes_through_the_signed_api_and_fails_on_each_gate(served: Any) -> None:
    platform, good = served
    url = platform.emulator.moto_url
    env = {"TRICLOUD_API_URL": platform.gateway_url + "/"}  # a trailing slash must not become //predict
    code, doc, err = run_cli("model", "smoke", "aws", "--endpoint", url, "--json", env=env)
    assert code == 0, err
    assert doc is not None and doc["passed"] == doc["requests"] == 5 and doc["versions"] == [good.label] * 5
    assert doc["url"] == platform.gateway_url + "/predict"

    from tricloud.model.smoke import run_smoke

    unsigned = run_smoke(platform.gateway_url, requests=1, max_latency_ms=5000, expect_version=None)
    assert not unsigned.ok and "HTTP 403" in unsigned.failures[0]  # the route demands SigV4, as on AWS

    code, doc, _ = run_cli(
        "model", "smoke", "aws", "--endpoint", url, "--expect-version", "v-other", "--json", env=env
    )
    assert code == 3 and doc is not None and "expected 'v-other'" in doc["refused"]

    code, doc, _ = run_cli(
        "model", "smoke", "aws", "--endpoint", url, "--max-latency-ms", "1", "--json", env=env
    )
    assert code == 3 and doc is not None and "latency" in doc["refused"]

    platform.stop_server()  # the model is down: the API still answers 200, with the rule-based fallback
    code, doc, _ = run_cli("model", "smoke", "aws", "--endpoint", url, "--json", env=env)
    assert code == 3 and doc is not None and '"fallback": true' in doc["refused"]

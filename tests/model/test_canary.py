"""The emulated SageMaker canary (tricloud/emulate/canary.py) end to end on the emulator: the real stack applied by
the local engine, the real inference servers, runtime shim, gateway and Lambda handler; `tricloud model` rolling
out through the canary deployer. Spark is replaced by curated Parquet written in its layout (tests/model/offline.py)
so the module stays within a minute or two; `tricloud model demo aws` runs the whole thing with Spark."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from offline import OfflineStack, curated_frame, moto_process, raw_cold_after, run_cli, with_raw_cold_after

from components.model_endpoint import serving
from tricloud.emulate.canary import CanaryDeployer
from tricloud.emulate.cloudwatch import Clock
from tricloud.emulate.platform import Options, Platform
from tricloud.emulate.runtime import EndpointRoute, RuntimeShim, Variant
from tricloud.engine import Emulator
from tricloud.model import cli as model_cli
from tricloud.model.demo import BROKEN_TAG, Demo, SteadyClient, broken_image

REGION = "ap-south-1"


# --- the split ---------------------------------------------------------------------------------------------------


class _Container(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the shim expects of a container
    disable_nagle_algorithm = True  # headers and body go out at once (no 40 ms delayed-ACK stall)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = b'{"predictions": [1]}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def two_containers() -> Iterator[list[str]]:
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Container) for _ in range(2)]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    yield [f"http://127.0.0.1:{s.server_address[1]}" for s in servers]
    for s in servers:
        s.shutdown()
        s.server_close()


def _runtime_client(shim: RuntimeShim) -> Any:
    """boto3's sagemaker-runtime client, signing with the key the shim was given."""
    import boto3

    return boto3.client(
        "sagemaker-runtime",
        region_name=REGION,
        endpoint_url=shim.url,
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret",
    )


def test_canary_split_within_a_binomial_bound(two_containers: list[str]) -> None:
    """1,000 invocations with a 90/10 route: the canary's count is Binomial(1000, 0.1), mean 100, sd 9.5; the
    bound [52, 148] is 5 sd (a false failure about once in 1.7 million runs). Both fleets carry the variant name."""

    shim = RuntimeShim("123456789012", REGION, {"AKIDTEST": "secret"})
    seen: dict[str, int] = {}
    shim.observer = lambda endpoint, variant, status, seconds: seen.__setitem__(
        variant.url, seen.get(variant.url, 0) + 1
    )
    stable, canary = two_containers
    shim.set_route("ep", EndpointRoute([Variant("primary", stable, 90), Variant("primary", canary, 10)]))
    client = _runtime_client(shim)
    try:
        names = set()
        for _ in range(1000):
            out = client.invoke_endpoint(EndpointName="ep", ContentType="application/json", Body=b"{}")
            out["Body"].read()
            names.add(out["InvokedProductionVariant"])
    finally:
        shim.close()
    assert names == {"primary"}
    assert seen[stable] + seen[canary] == 1000
    assert 52 <= seen[canary] <= 148, seen


class _SlowContainer(_Container):
    """Answers only once the test opens `gate`: a request held in flight for as long as the test wants."""

    gate = threading.Event()
    arrived = threading.Event()
    events: list[str] = []

    def do_POST(self) -> None:
        _SlowContainer.arrived.set()
        _SlowContainer.gate.wait(30)
        _SlowContainer.events.append("container answers")  # before the answer leaves: drain cannot be earlier
        super().do_POST()


def test_drain_waits_for_the_request_in_flight_to_a_fleet_out_of_the_route(two_containers: list[str]) -> None:
    """A fleet taken out of the route is stopped once the shim has nothing in flight to it: `drain` returns only
    after the held request was answered (200, not a 503 from a stopped container), and at once when idle."""

    slow = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowContainer)
    threading.Thread(target=slow.serve_forever, daemon=True).start()
    old, new = f"http://127.0.0.1:{slow.server_address[1]}", two_containers[0]
    shim = RuntimeShim("123456789012", REGION, {"AKIDTEST": "secret"})
    shim.route("ep", old)
    client = _runtime_client(shim)
    events = _SlowContainer.events

    def call() -> None:
        out = client.invoke_endpoint(EndpointName="ep", ContentType="application/json", Body=b"{}")
        out["Body"].read()
        events.append(f"answered {out['ResponseMetadata']['HTTPStatusCode']}")

    try:
        caller = threading.Thread(target=call)
        caller.start()
        assert _SlowContainer.arrived.wait(30)
        shim.route("ep", new)  # the old fleet is out of the route, one request still in flight to it
        assert shim.inflight(old) == 1
        threading.Timer(0.3, _SlowContainer.gate.set).start()
        left = shim.drain(old, timeout_s=30)
        events.append("drained")
        caller.join(30)
        assert left == 0
        assert events[0] == "container answers" and "drained" in events  # answered before drain returned
        assert "answered 200" in events
        assert shim.inflight(old) == 0 and shim.drain(new, timeout_s=30) == 0
    finally:
        _SlowContainer.gate.set()
        shim.close()
        slow.shutdown()
        slow.server_close()


# --- end to end --------------------------------------------------------------------------------------------------


class Served:
    """A serving platform (no Spark) with the canary deployer and a `tricloud model` context on it."""

    def __init__(self, platform: Platform, canary: CanaryDeployer, demo: Demo) -> None:
        self.platform, self.canary, self.demo = platform, canary, demo

    def delivery(self, hps: dict[str, str] | None = None) -> Any:
        return self.demo.delivery(hps)

    def alarm_states(self) -> dict[str, str]:
        alarms = self.platform.emulator.client("cloudwatch").describe_alarms()["MetricAlarms"]
        return {a["AlarmName"]: a["StateValue"] for a in alarms}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    workdir = tmp_path_factory.mktemp("canary")
    with moto_process() as url:
        emu = Emulator.start(REGION, endpoint=url)
        platform = Platform(emu, Options(rows=1500, state_path=workdir / "aws-dev.local.json"))
        try:
            platform.apply()
            stack = OfflineStack(
                emu, {k: str(v) for k, v in platform.outputs.items()}, workdir, workdir / "o.json"
            )
            run = stack.put_curated("run-20260101T000000Z", frame=curated_frame(1500, 7))
            platform.details["spark"] = {"output": run.replace("s3://", "s3a://", 1)}
            platform.train()
            platform.serve()
            platform.start_gateway()
            demo = Demo(report=lambda line: None)
            demo.platform = platform
            demo._put_holdout()
            demo.canary = CanaryDeployer(platform, clock=Clock(60), report=lambda line: None)
            yield Served(platform, demo.canary, demo)
        finally:
            platform.close()


def test_rollout_through_the_canary_then_a_broken_image_rolls_back(
    served: Served, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    platform, canary = served.platform, served.canary
    sign = _signer(served)
    steady = SteadyClient(platform.gateway_url, sign, rate=4).start()
    try:
        # Version 1: through the canary, promoted; the bootstrap fleet is stopped after the termination wait.
        bootstrap = canary.stable
        d = served.delivery({"max_iter": "60"})
        job = d.train()
        v1 = d.register(job=job["job_name"])
        d.approve(v1.number)
        # An edit outside the endpoint pending in the stack config: the rollout (targeted) leaves it pending.
        lake, config = (platform.emulator, platform.engine.state_path), platform.engine.config
        before = raw_cold_after(*lake)
        platform.engine.config = with_raw_cold_after(45)
        try:
            result = d.rollout(v1.number)
        finally:
            platform.engine.config = config
        assert result["changed"] and result["took"]
        assert raw_cold_after(*lake) == before and before[1] == 30, result["outcome"]
        assert "1 update left for a full apply" in result["outcome"]
        promoted = canary.deployments[-1]
        assert promoted.outcome == "promoted" and promoted.canary_percent == 10
        assert promoted.requests[promoted.new_config] > 0  # the canary had traffic to be judged on
        assert bootstrap.proc.poll() is not None  # the old fleet was stopped
        assert [v.url for v in platform.shim.routes[platform.outputs["endpoint_name"]].variants] == [
            canary.stable.url
        ]
        v1_fleet = canary.stable
        # A preview after the rollout: the stack program reads the serving record and asks for what is applied.
        assert_no_change(platform)
        clean_until = len(steady.answers)

        # A broken serving image: approved on its metrics, rolled back by the 5xx alarm, exit 3 from the CLI.
        image_tree = broken_image(tmp_path)
        from tricloud.emulate import images
        from tricloud.model.aws import split_image

        _, repo, _ = split_image(d.ctx.output("training_image_uri"))
        images.publish(
            d.clients.client("ecr"),
            images.ImageStore(images.store_root(Path.cwd())),
            repo,
            BROKEN_TAG,
            image_tree,
        )
        bad = served.delivery({"model_version": "image-regression"})
        v_bad = bad.register(job=bad.train(BROKEN_TAG)["job_name"])
        bad.approve(v_bad.number)
        monkeypatch.setattr(model_cli, "make_delivery", lambda ctx: served.delivery())
        monkeypatch.setenv("TRICLOUD_LOCAL_STATE", str(platform.engine.state_path))
        started = len(steady.answers)
        code, doc, stderr = run_cli(
            "model",
            "rollout",
            "aws",
            "--version",
            v_bad.number,
            "--endpoint",
            platform.emulator.moto_url,
            "--json",
        )
        during = steady.answers[started:]
        assert code == 3, stderr
        assert doc is not None and "rolled back" in doc["refused"]
        assert any(a.endswith("endpoint-5xx") for a in doc["decision"]["alarms"]), doc["decision"]
        outcomes = [(x.outcome, x.fired) for x in canary.deployments]
        rolled = canary.deployments[-2]  # the last one is the reconcile back onto version 1's model
        assert rolled.outcome == "rolled back" and rolled.fired, (outcomes, doc)
        assert canary.deployments[-1].outcome == "re-pointed", outcomes
        # Traffic is back on version 1's fleet alone; the broken fleet is stopped.
        route = platform.shim.routes[platform.outputs["endpoint_name"]]
        assert [v.url for v in route.variants] == [v1_fleet.url]
        assert canary.stable is v1_fleet and v1_fleet.proc.poll() is None
        # The serving record is restored and the broken version rejected; the alarm fired in CloudWatch.
        record = d.read_record(serving.SERVING)
        assert record is not None and record.version == v1.version
        assert d.find(v_bad.number).status == "rejected"
        states = served.alarm_states()
        assert any(name.endswith("endpoint-5xx") and state == "ALARM" for name, state in states.items()), (
            states
        )
        # After the rollback, the whole stack re-applies with no change (the preview Pulumi would show).
        assert_no_change(platform)
    finally:
        answers = steady.stop()
    # The steady client: every answer a 200; model answers throughout the good rollout; during the broken canary's
    # bake only the requests routed to it were answered by the handler's flagged rule-based fallback.
    assert answers and all(a.status == 200 for a in answers), SteadyClient.numbers(answers)
    assert not any(a.fallback for a in answers[:clean_until]), SteadyClient.numbers(answers[:clean_until])
    assert sum(1 for a in during if a.fallback) <= len(during) // 2, SteadyClient.numbers(during)


def assert_no_change(platform: Platform) -> None:
    """An untargeted apply of the whole stack changes nothing (what `pulumi preview` would show)."""
    res = platform.engine.apply()
    assert [res.count(a) for a in ("create", "update", "replace", "delete", "skip")] == [0] * 5, res.summary()


def _signer(served: Served) -> Any:
    from tricloud.model.smoke import sigv4_signer

    return sigv4_signer(REGION, served.delivery().clients.credentials())


def test_demo_refuses_another_cloud_and_a_bad_time_factor() -> None:
    code, _, stderr = run_cli("model", "demo", "gcp")
    assert code == 2 and "cloud" in stderr and "'gcp'" in stderr
    code, _, stderr = run_cli("model", "demo", "aws", env={"TRICLOUD_TIME_FACTOR": "0"})
    assert code == 2 and "TRICLOUD_TIME_FACTOR" in stderr and "'0'" in stderr

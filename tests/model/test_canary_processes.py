"""The canary across processes, as a learner runs it: the platform in one terminal (`tricloud emulate aws --serve
--endpoint URL`, a subprocess here, with Spark and every server), `tricloud model rollout aws --endpoint URL` in
another (a second subprocess). The serving process owns the fleets and the traffic split and runs the blue/green
deployment when the rollout's apply changes the endpoint in moto; the rollout polls DescribeEndpoint until the
endpoint is InService again. A good model is promoted (exit 0); a broken serving image is rolled back by the 5xx
alarm (exit 3) and the previous version serves, through the serving process's API gateway."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from offline import REGION, OfflineStack, aws_context, moto_process

from tricloud.engine import Emulator
from tricloud.engine.state import State
from tricloud.model.aws import AwsDelivery, split_image
from tricloud.model.demo import BROKEN_TAG, broken_image

REPO = Path(__file__).resolve().parents[2]
READY = "run their canary here"  # what `emulate aws --serve` prints once it serves and watches the endpoint
START_TIMEOUT_S = 600  # apply + Spark + training + servers on a loaded 2-core machine
pytestmark = [pytest.mark.emulator, pytest.mark.spark]


class ServingProcess:
    """`tricloud emulate aws --serve` as a subprocess; its stderr lines collected by a reader thread."""

    def __init__(self, url: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tricloud",
                "emulate",
                "aws",
                "--serve",
                "--endpoint",
                url,
                "--rows",
                "1500",
            ],
            cwd=REPO,
            env={**env, "COLUMNS": "400"},  # one line per message, for the assertions on them
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._q: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip())
            if os.environ.get("TRICLOUD_TEST_SERVE_LOG"):  # follow the serving process while debugging
                with open(os.environ["TRICLOUD_TEST_SERVE_LOG"], "a") as log:
                    log.write(line)
            self._q.put(line)

    def wait_for(self, text: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if text in self._q.get(timeout=1):
                    return
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
        raise AssertionError(f"`emulate aws --serve` never printed {text!r}:\n" + "\n".join(self.lines[-40:]))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # Ctrl-C: it stops its servers and keeps the resources
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def tricloud(env: dict[str, str], server: ServingProcess, *args: str) -> tuple[int, dict[str, Any], str]:
    """`tricloud <args> --json` as its own process: (exit code, the JSON document, stderr)."""
    try:
        out = subprocess.run(
            [sys.executable, "-m", "tricloud", *args, "--json"],
            cwd=REPO,
            env={**env, "COLUMNS": "400"},
            capture_output=True,
            text=True,
            timeout=300,
        )
    except subprocess.TimeoutExpired as exc:
        told = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else str(exc.stderr)
        raise AssertionError(
            f"tricloud {' '.join(args)} timed out:\n{told[-3000:]}\nserving process:\n"
            + "\n".join(server.lines[-40:])
        ) from None
    doc = json.loads(out.stdout) if out.stdout.strip().startswith("{") else {}
    return out.returncode, doc, out.stderr


@pytest.fixture(scope="module")
def serving(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str], ServingProcess]]:
    state_dir = tmp_path_factory.mktemp("state")
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME",)}
    env.update(TRICLOUD_STATE_DIR=str(state_dir), TRICLOUD_TIME_FACTOR="60")
    env.pop("TRICLOUD_LOCAL_STATE", None)
    with moto_process() as url:
        server = ServingProcess(url, env)
        try:
            server.wait_for(READY, START_TIMEOUT_S)
            yield url, env, server
        finally:
            server.stop()


def _delivery(
    url: str, env: dict[str, str], tmp: Path, monkeypatch: pytest.MonkeyPatch, **hps: str
) -> AwsDelivery:
    """train/register/approve run in this (the test's) process, as a third terminal would run them."""
    monkeypatch.setenv("TRICLOUD_STATE_DIR", env["TRICLOUD_STATE_DIR"])
    monkeypatch.delenv("TRICLOUD_LOCAL_STATE", raising=False)
    emu = Emulator.start(REGION, endpoint=url)
    state = State.load(Path(env["TRICLOUD_STATE_DIR"]) / "aws-dev.local.json")
    stack = OfflineStack(emu, {k: str(v) for k, v in state.outputs.items()}, state.path, tmp / "o.json")
    return AwsDelivery(aws_context(stack, tmp, training={"hyperparameters": hps}))


def test_rollout_from_another_process_promotes_then_rolls_back_a_broken_image(
    serving: tuple[str, dict[str, str], ServingProcess], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, env, server = serving
    d = _delivery(url, env, tmp_path, monkeypatch, max_iter="60")
    from app.data.generator import generate
    from tricloud.model import flows

    bucket, _, key = flows.holdout_uri(d.ctx).removeprefix("s3://").partition("/")
    holdout = generate(300, seed=99, malformed_fraction=0.0).to_csv(index=False).encode()
    d.s3().put_object(Bucket=bucket, Key=f"{key}listings.csv", Body=holdout)
    first_config = d.endpoint_model()["config"]
    assert d.serving_process() is not None  # this process sees the serving one through the state file

    # A good model, rolled out from another process: the serving process runs the canary and promotes it.
    v1 = d.register(job=d.train()["job_name"])
    d.approve(v1.number)
    code, doc, stderr = tricloud(
        env, server, "model", "rollout", "aws", "--version", v1.number, "--endpoint", url
    )
    assert code == 0, stderr
    assert doc["took"] and doc["served"]["status"] == "InService", doc
    assert doc["served"]["config"] != first_config and doc["served"]["model_data_uri"] == v1.artifact_uri
    assert "endpoint Updating" in stderr  # the rollout saw the update in progress, as SageMaker reports it
    assert doc["traffic"]["sent"] > 0 and doc["traffic"]["errors"] == 0, doc["traffic"]
    assert any("canary: 10% of" in line for line in server.lines), server.lines[-20:]
    assert any(line.startswith("deployment: promoted") for line in server.lines), server.lines[-20:]

    # A broken serving image (its predictor raises): approved on its metrics, rolled back at canary by the alarm.
    _, repo, _ = split_image(d.ctx.output("training_image_uri"))
    from tricloud.emulate import images

    images.publish(
        d.clients.client("ecr"),
        images.ImageStore(images.store_root(REPO)),
        repo,
        BROKEN_TAG,
        broken_image(tmp_path),
    )
    bad = _delivery(url, env, tmp_path, monkeypatch, max_iter="60", model_version="image-regression")
    v_bad = bad.register(job=bad.train(BROKEN_TAG)["job_name"])
    bad.approve(v_bad.number)
    code, doc, stderr = tricloud(
        env, server, "model", "rollout", "aws", "--version", v_bad.number, "--endpoint", url
    )
    assert code == 3, stderr
    assert any(a.endswith("endpoint-5xx") for a in doc["decision"]["alarms"]), doc["decision"]
    assert "rolled back" in (doc["decision"]["served"].get("failure_reason") or ""), doc["decision"]["served"]
    assert any("rolled back after" in line for line in server.lines), server.lines[-20:]

    # The previous version serves: the record, the endpoint (InService, not in canary) and the public API.
    code, doc, stderr = tricloud(env, server, "model", "status", "aws", "--endpoint", url)
    assert code == 0, stderr
    assert doc["serving"]["version"] == v1.version and doc["endpoint"]["status"] == "InService"
    assert doc["endpoint"]["model_data_uri"] == v1.artifact_uri and doc["in_canary"] is False
    assert bad.find(v_bad.number).status == "rejected"
    code, doc, stderr = tricloud(env, server, "model", "smoke", "aws", "--endpoint", url)
    assert code == 0, stderr
    assert doc["expected_version"] == v1.label and doc["passed"] == doc["requests"], doc

"""`tricloud model demo aws`: the offline delivery scenario in one command, on a fresh clone.

The emulator comes up (in-process moto), the real AWS stack is applied by the local engine, listings go through
Spark into the lake, the bootstrap model serves behind the local API gateway; then the delivery verbs run as a
library (the same functions `tricloud model` calls) with the emulated SageMaker canary as the deployer:

1. version 1 (a quick baseline: 60 boosting iterations): train -> register -> approve -> canary -> promoted;
2. version 2 (the stack's hyperparameters): the same, beating version 1 on the held-out set;
3. a far worse model (one boosting iteration): refused at approval (`approve` exits 3);
4. a model whose image has a serving regression (its code answers 500): approved on its held-out metrics, rolled
   back by the endpoint's 5xx alarm at canary (`rollout` exits 3);
5. status and a smoke test through the API: version 2 serves.

A steady client calls the API through the gateway the whole time. The run exits 0 when every step behaved as
expected (the numbers of each decision are printed), 1 otherwise.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tricloud.model.base import EXIT_GATE, EXIT_OK, REPO_ROOT, Context, GateRefused

BROKEN_TAG = "serving-regression"  # the image tag of the deliberately broken serving code
# The fault the broken image carries: its predictor fails on every request (a regression the approval gate,
# which scores the artifact with the platform's serving code, cannot see; only the canary can).
FAULT = """

# --- tricloud model demo: a deliberately broken image (a serving regression) ---
def _regressed_predict(self, records):  # noqa: ANN001, ANN202
    raise RuntimeError("serving regression: predict() was broken in this image")


Predictor.predict = _regressed_predict
"""
BASELINE_HPS = {"max_iter": "60"}  # version 1: a quick first model
WEAK_HPS = {
    "max_iter": "1",
    "min_r2": "-1",
}  # far worse on the held-out set (training's own gate switched off)
HOLDOUT_ROWS, HOLDOUT_SEED = 400, 99  # listings never used for training


@dataclass
class Step:
    name: str
    expected: str  # "ok" | "refused"
    outcome: str = ""  # "ok" | "refused" | "error"
    exit_code: int = EXIT_OK  # what `tricloud model <verb>` exits with for this outcome
    seconds: float = 0.0
    summary: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)

    @property
    def as_expected(self) -> bool:
        return self.outcome == self.expected


@dataclass
class Answer:
    at: float  # time.monotonic()
    status: int
    fallback: bool | None
    version: str | None


class SteadyClient:
    """A client of the public API through the local gateway: signed `POST /predict` at a fixed rate, one at a
    time, every answer kept (status, the handler's `fallback` flag, the `model_version`)."""

    def __init__(
        self, url: str, sign: Callable[[str, bytes, dict[str, str]], dict[str, str]], rate: float
    ) -> None:
        self.url, self.sign, self.interval = url.rstrip("/") + "/predict", sign, 1.0 / rate
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="steady-client", daemon=True)

    def start(self) -> SteadyClient:
        self._thread.start()
        return self

    def stop(self) -> list[Answer]:
        self._stop.set()
        self._thread.join(timeout=30)
        return self.answers

    def _run(self) -> None:
        import urllib.error
        import urllib.request

        from tricloud.model.smoke import sample_listings

        rows = sample_listings(50, seed=7)
        i = 0
        while not self._stop.wait(self.interval):
            body = json.dumps({"instances": [rows[i % len(rows)]]}).encode()
            i += 1
            headers = self.sign(self.url, body, {"content-type": "application/json"})
            req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=30) as resp:
                    status, doc = resp.status, json.loads(resp.read() or b"{}")
            except urllib.error.HTTPError as exc:
                status, doc = exc.code, {}
            except OSError:
                status, doc = 599, {}
            self.answers.append(
                Answer(time.monotonic(), status, doc.get("fallback"), doc.get("model_version"))
            )

    @staticmethod
    def numbers(answers: list[Answer]) -> dict[str, Any]:
        by_status: dict[str, int] = {}
        for a in answers:
            by_status[str(a.status)] = by_status.get(str(a.status), 0) + 1
        return {
            "requests": len(answers),
            "status": by_status,
            "fallback": sum(1 for a in answers if a.fallback),
            "versions": sorted({a.version for a in answers if a.version and not a.fallback}),
        }


def broken_image(dest: Path) -> Path:
    """A copy of the repository's `app/` whose serving code carries FAULT; returns the folder holding `app/`."""
    root = dest / "broken-image"
    shutil.copytree(REPO_ROOT / "app", root / "app", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    predictor = root / "app" / "serve" / "predictor.py"
    predictor.write_text(predictor.read_text() + FAULT)
    return root


@dataclass
class DemoResult:
    steps: list[Step]
    serving: str | None  # the label serving at the end
    expected_serving: str | None
    timings: dict[str, float]
    steady: dict[str, Any]
    steady_outside_canary: dict[str, Any]
    deviations: list[str]
    deployments: list[dict[str, Any]]

    @property
    def ok(self) -> bool:
        return (
            all(s.as_expected for s in self.steps)
            and self.serving is not None
            and self.serving == self.expected_serving
            and self.steady_outside_canary.get("fallback", 1) == 0
            and set(self.steady.get("status", {})) <= {"200"}
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "serving": self.serving,
            "expected_serving": self.expected_serving,
            "steps": [{**s.__dict__, "as_expected": s.as_expected} for s in self.steps],
            "timings": self.timings,
            "steady_client": self.steady,
            "steady_client_outside_broken_canary": self.steady_outside_canary,
            "deviations": self.deviations,
            "deployments": self.deployments,
        }


class Demo:
    """The scenario on one platform; `run()` drives it, each step reported as it ends."""

    def __init__(
        self,
        *,
        stack: str = "dev",
        rows: int = 5000,
        steady_rps: float = 4.0,
        report: Callable[[str], None] = print,
        on_step: Callable[[Step], None] = lambda step: None,
        on_phase: Callable[[str, str, float], None] = lambda name, detail, seconds: None,
    ) -> None:
        self.stack, self.rows, self.steady_rps = stack, rows, steady_rps
        self.report, self.on_step, self.on_phase = report, on_step, on_phase
        self.steps: list[Step] = []
        self.timings: dict[str, float] = {}
        self.canary_window: tuple[float, float] | None = None  # when the broken canary was in the route

    # --- plumbing --------------------------------------------------------------------------------------------

    def context(self, hyperparameters: dict[str, str] | None = None) -> Context:
        from tricloud.config import parse
        from tricloud.inventory import project_name, stack_config

        values = stack_config("aws", self.stack)
        if hyperparameters is not None:
            training = dict(values.get("tricloud:training") or {})
            training["hyperparameters"] = {**(training.get("hyperparameters") or {}), **hyperparameters}
            values["tricloud:training"] = training
        return Context(
            cloud="aws",
            stack=self.stack,
            stack_ref=self.stack,
            project=project_name("aws"),
            config=parse("aws", values),
            outputs={k: str(v) for k, v in self.platform.outputs.items()},
            endpoint=self.platform.emulator.moto_url,
            report=self.report,
            git_commit=_commit(),
            workdir=self.platform.workdir / "delivery",
        )

    def delivery(self, hyperparameters: dict[str, str] | None = None) -> Any:
        from tricloud.model.aws import AwsClients, AwsDelivery

        ctx = self.context(hyperparameters)
        assert self.platform.shim is not None
        clients = AwsClients(
            ctx.config.region,
            ctx.endpoint,
            emulator=self.platform.emulator,
            runtime_url=self.platform.shim.url,
        )
        return AwsDelivery(ctx, clients=clients, deployer=self.canary)

    def step(self, name: str, expected: str, action: Callable[[], dict[str, Any]]) -> Step:
        """Run one verb as `tricloud model` would and record its outcome and exit code."""
        s = Step(name, expected)
        started = time.perf_counter()
        try:
            result = action()
            s.outcome, s.exit_code = "ok", EXIT_OK
            s.numbers = result
            s.summary = str(result.get("summary") or "")
        except GateRefused as exc:
            s.outcome, s.exit_code, s.summary = "refused", EXIT_GATE, str(exc)
            s.numbers = dict(exc.decision or {})
        except Exception as exc:  # an unexpected failure is a step that did not behave
            s.outcome, s.exit_code, s.summary = "error", 1, f"{type(exc).__name__}: {exc}"
        s.seconds = time.perf_counter() - started
        self.steps.append(s)
        self.on_step(s)
        return s

    # --- the scenario ----------------------------------------------------------------------------------------

    def run(self) -> DemoResult:
        from tricloud.config import REGION_KEYS
        from tricloud.engine import Emulator
        from tricloud.inventory import stack_config

        region = str(stack_config("aws", self.stack).get(REGION_KEYS["aws"], "ap-south-1"))
        emulator = Emulator.start(region)
        workdir = Path(tempfile.mkdtemp(prefix="tricloud-model-demo-"))
        self.platform: Any = None
        self.canary: Any = None
        steady: SteadyClient | None = None
        try:
            self._platform(emulator, workdir)
            steady = self._steady()
            self._deliver()
        finally:
            answers = steady.stop() if steady is not None else []
            if self.canary is not None:
                self.canary.close()
            if self.platform is not None:
                self.platform.close()
                # The demo's moto lives in this process and goes with it: deleting its 119 resources one by one
                # first only cost time (an emulator at an --endpoint would keep them: destroy that one).
                started = self.platform.engine is not None and self.platform.engine.started
                if started and not getattr(emulator, "in_process", False):
                    self.platform.engine.destroy()
            emulator.stop()
            shutil.rmtree(workdir, ignore_errors=True)
        return self._result(answers)

    def _platform(self, emulator: Any, workdir: Path) -> None:
        from tricloud.emulate.canary import CanaryDeployer
        from tricloud.emulate.platform import Options, Platform

        self.platform = Platform(
            emulator,
            Options(stack=self.stack, rows=self.rows, state_path=workdir / f"aws-{self.stack}.local.json"),
            on_phase=self.on_phase,
        )
        started = time.perf_counter()
        self.platform.prestart_spark()  # the JVM starts while the stack is applied (as `tricloud emulate aws`)
        self.platform.apply()
        self.platform.upload_raw()
        self.platform.run_spark()
        self.platform.train()
        self.platform.serve()
        self.platform.start_gateway()
        self.platform.smoke()
        self.timings.update(self.platform.timings)
        self.timings["platform"] = time.perf_counter() - started
        self._put_holdout()
        self.canary = CanaryDeployer(self.platform, report=self.report)

    def _put_holdout(self) -> None:
        """Held-out listings (another seed than training's) where approval reads them."""
        from app.data.generator import generate
        from tricloud.model import flows

        uri = flows.holdout_uri(self.context())
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        csv = generate(HOLDOUT_ROWS, seed=HOLDOUT_SEED, malformed_fraction=0.0).to_csv(index=False).encode()
        self.platform.s3().put_object(Bucket=bucket, Key=f"{prefix}listings.csv", Body=csv)

    def _steady(self) -> SteadyClient:
        from tricloud.model.smoke import sigv4_signer

        creds = self.delivery().clients.credentials()
        sign = sigv4_signer(self.platform.emulator.region, creds)
        return SteadyClient(self.platform.gateway_url, sign, self.steady_rps).start()

    def deliver_version(self, name: str, hyperparameters: dict[str, str] | None, image_tag: str | None = None,
                        expect_rollout: str = "ok", expect_approval: str = "ok") -> str | None:  # fmt: skip
        """train -> register -> approve -> rollout of one version; its label, or None when a step stopped it."""
        d = self.delivery(hyperparameters)
        train = self.step(f"{name}: train", "ok", lambda: d.train(image_tag))
        if train.outcome != "ok":
            return None

        def register() -> dict[str, Any]:
            v = d.register(job=train.numbers["job_name"])
            return {**v.as_dict(), "summary": f"version {v.number} ({v.label}), image {v.image}"}

        reg = self.step(f"{name}: register", "ok", register)
        if reg.outcome != "ok":
            return None
        version = str(reg.numbers["number"])

        def approve() -> dict[str, Any]:
            record = d.approve(version)
            return {**record, "summary": "; ".join(record.get("reasons", []))}

        if self.step(f"{name}: approve", expect_approval, approve).outcome != "ok":
            return None

        def rollout() -> dict[str, Any]:
            result = d.rollout(version)
            return {**result, "summary": f"version {result['version']} ({result['label']}) serves"}

        started = time.monotonic()
        rolled = self.step(f"{name}: rollout (canary)", expect_rollout, rollout)
        if expect_rollout == "refused":
            self.canary_window = (started, time.monotonic())
        return str(reg.numbers["label"]) if rolled.outcome == "ok" else None

    def _deliver(self) -> None:
        from tricloud.emulate import images

        self.good = [
            self.deliver_version("version 1", BASELINE_HPS),
            self.deliver_version("version 2", None),
        ]
        self.deliver_version("far worse model", WEAK_HPS, expect_approval="refused")
        d = self.delivery()
        registry, repo, _ = _split_image(self.context().output("training_image_uri"))
        tree = broken_image(self.platform.workdir)
        digest, _ = images.publish(
            d.clients.client("ecr"), images.ImageStore(images.store_root(REPO_ROOT)), repo, BROKEN_TAG, tree
        )
        self.report(
            f"published {registry}/{repo}:{BROKEN_TAG} ({digest[:19]}...): app/serve with a regression"
        )
        # The same model as version 2 (same data and hyperparameters: it passes approval), its own label.
        regressed = {"model_version": time.strftime("%Y.%m.%d-image-regression", time.gmtime())}
        self.deliver_version(
            "broken serving image", regressed, image_tag=BROKEN_TAG, expect_rollout="refused"
        )
        self.step("status", "ok", lambda: {**d.status(), "summary": ""})
        label = self.good[-1]

        def smoke() -> dict[str, Any]:
            from tricloud.model.smoke import run_smoke, sigv4_signer

            settings = d.ctx.config.delivery
            result = run_smoke(
                self.platform.gateway_url,
                requests=settings.smoke_requests,
                max_latency_ms=settings.smoke_max_latency_ms,
                expect_version=label,
                signer=sigv4_signer(d.ctx.config.region, d.clients.credentials()),
                report=self.report,
            )
            if not result.ok:
                raise GateRefused(f"smoke test failed: {result.failures[0]}", result.numbers())
            return {**result.numbers(), "summary": f"{result.passed}/{result.requests} answered by {label}"}

        self.step("smoke through the API", "ok", smoke)
        self.final = d.expected_label()

    def _result(self, answers: list[Answer]) -> DemoResult:
        window = self.canary_window
        outside = [a for a in answers if window is None or not (window[0] <= a.at <= window[1])]
        return DemoResult(
            steps=self.steps,
            serving=getattr(self, "final", None),
            expected_serving=(getattr(self, "good", None) or [None])[-1],
            timings={k: round(v, 2) for k, v in self.timings.items()},
            steady=SteadyClient.numbers(answers),
            steady_outside_canary=SteadyClient.numbers(outside),
            deviations=list(self.canary.deviations) if self.canary is not None else [],
            deployments=[d.__dict__ for d in self.canary.deployments] if self.canary is not None else [],
        )


def _split_image(uri: str) -> tuple[str, str, str]:
    from tricloud.model.aws import split_image

    return split_image(uri)


def _commit() -> str:
    from tricloud.model.base import git_commit

    return git_commit()

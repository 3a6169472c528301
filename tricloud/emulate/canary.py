"""SageMaker's blue/green canary offline: an `EndpointDeployer` for the local engine (tricloud/model/deploy.py).

When the local engine changes the endpoint to a configuration whose model differs from the serving fleet's, this
deployer does, inside the apply (as `pulumi up` waits for UpdateEndpoint), what SageMaker's deployment guardrails do:

1. start the new fleet: the real `app.serve sagemaker` server for the new Model (its artifact fetched with the
   endpoint role's credentials, its code the Model's image layer from the local image store);
2. route `canary_size` percent of `InvokeEndpoint` traffic to it through the runtime shim (both fleets carry the
   variant's name, as on SageMaker);
3. every emulated minute, publish the per-variant metrics (tricloud/emulate/cloudwatch.py) and evaluate the
   endpoint's rollback alarms, setting their state in the emulator, for the wait interval (the bake);
4. all traffic to the new fleet, keep evaluating through the termination wait, then stop the old fleet; or, as
   soon as one alarm is in ALARM, roll back: all traffic to the old fleet, the new one stopped, the endpoint back
   on its old configuration, and the apply fails (as `pulumi up` fails when SageMaker rolled back).

Time is compressed by a documented factor (`TRICLOUD_TIME_FACTOR`, default 60: one emulated minute per second):
the bake, the alarm periods and the termination wait run in emulated time; request latencies are real.
"""

from __future__ import annotations

import io
import os
import tarfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tricloud.emulate import images
from tricloud.emulate.cloudwatch import ALARM, AlarmEvaluator, Clock, EndpointMetrics
from tricloud.emulate.platform import REPO_ROOT, Platform, split_s3, start_inference_server
from tricloud.emulate.processes import alive
from tricloud.emulate.runtime import EndpointRoute, Variant
from tricloud.engine import iam
from tricloud.engine.state import State
from tricloud.model.deploy import NO_CHANGE, DeployOutcome, endpoint_targets, report_untargeted

ENDPOINT_TYPE = "aws:sagemaker/endpoint:Endpoint"
# At most this many real seconds between taking a fleet out of the route and stopping it, while the runtime shim
# still has requests in flight to it (it usually has none: the stop then follows at once). Longer than the handler's
# endpoint timeout (ENDPOINT_TIMEOUT_MS, 2 s), so a request still in flight has been answered or given up on.
DRAIN_S = 2.5
MAX_REAL_RPS = 60.0  # the bake traffic's ceiling in real requests a second on a 2-core laptop


def bake_rate(per_second: float, factor: float) -> tuple[float, str]:
    """The rollout's bake traffic in real requests a second: `per_second` of emulated time, so an emulated minute
    carries what a real minute would; capped at MAX_REAL_RPS, with the deviation to print when the cap applies."""
    rate = per_second * factor
    if rate <= MAX_REAL_RPS:
        return rate, ""
    return MAX_REAL_RPS, (
        f"bake traffic {MAX_REAL_RPS:g} requests/s real = {MAX_REAL_RPS * 60 / factor:g} per emulated minute "
        f"(SageMaker at bake_requests_per_second {per_second:g}: {per_second * 60:g})"
    )


class CanaryRolledBack(Exception):
    """The canary's alarms fired: the endpoint is back on its old configuration."""


@dataclass
class Fleet:
    config: str  # EndpointConfigName
    variant: str
    model_data_uri: str
    image: str
    role: str = ""  # the Model's execution role: the container reads its artifact as this role
    url: str = ""
    proc: Any = None

    @property
    def model(self) -> tuple[str, str]:
        return self.model_data_uri, self.image


@dataclass
class Deployment:
    """One endpoint update as the deployer ran it: the decision and the numbers it was made on."""

    endpoint: str
    old_config: str
    new_config: str
    canary_percent: float = 0.0
    outcome: str = ""  # "promoted", "rolled back", "re-pointed" (same model, no new fleet)
    alarms: dict[str, str] = field(default_factory=dict)  # alarm -> last state
    fired: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    emulated_s: float = 0.0
    real_s: float = 0.0
    requests: dict[str, int] = field(default_factory=dict)  # fleet config -> invocations routed to it

    def summary(self) -> str:
        if self.outcome == "rolled back":
            return (
                f"canary {self.new_config} rolled back after {self.emulated_s / 60:.1f} emulated min: "
                + "; ".join(f"{a} in ALARM ({self.reasons.get(a, '')})" for a in self.fired)
            )
        return f"{self.outcome} {self.new_config} ({self.emulated_s / 60:.1f} emulated min)"


class CanaryDeployer:
    """The local engine's apply with SageMaker's blue/green canary for the endpoint (see the module doc)."""

    def __init__(
        self,
        platform: Platform,
        *,
        clock: Clock | None = None,
        report: Callable[[str], None] = print,
    ) -> None:
        if platform.shim is None or platform.server is None:
            raise RuntimeError("the canary deployer needs a serving platform (Platform.serve first)")
        self.platform, self.report = platform, report
        self.clock = clock or Clock()
        # SageMaker and CloudWatch act with the platform's own credentials; the model artifact is read with the
        # endpoint role's (below), as SageMaker reads it with the Model's execution role.
        self.cw = platform.emulator.client("cloudwatch")
        self.sm = platform.emulator.client("sagemaker")
        self.metrics = EndpointMetrics(self.cw.put_metric_data, self.clock)
        self.endpoint = str(platform.outputs["endpoint_name"])
        self.store = images.ImageStore(images.store_root(REPO_ROOT))
        self.deployments: list[Deployment] = []
        self._fleets: dict[str, str] = {}  # container URL -> EndpointConfigName
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._next = 0
        ep = self.sm.describe_endpoint(EndpointName=self.endpoint)
        self.stable = self._fleet(ep["EndpointConfigName"])
        self.stable.proc, self.stable.url = platform.server, platform.server_url
        self._route((self.stable, 100.0))
        platform.shim.observer = self._observe
        self.deviations = [
            f"time runs {self.clock.factor:g}x faster (TRICLOUD_TIME_FACTOR): the canary wait, the alarm periods "
            "and the termination wait are emulated minutes; request latencies are real",
            "one inference server process per fleet (SageMaker: the variant's instances or serverless capacity); "
            "the canary share is of requests, not of instances",
        ]

    def traffic_rate(self, per_second: float) -> float:
        rate, note = bake_rate(per_second, self.clock.factor)
        if note and note not in self.deviations:
            self.deviations.append(note)
        return rate

    # --- the data plane --------------------------------------------------------------------------------------

    def _observe(self, endpoint: str, variant: Variant, status: int, seconds: float) -> None:
        config = self._fleets.get(variant.url)
        if config is None:
            return
        with self._lock:
            self._counts[config] = self._counts.get(config, 0) + 1
        self.metrics.record(endpoint, variant.name, status, seconds * 1e6)

    def _route(self, *weighted: tuple[Fleet, float]) -> None:
        for fleet, _ in weighted:
            self._fleets[fleet.url] = fleet.config
        assert self.platform.shim is not None
        self.platform.shim.set_route(
            self.endpoint, EndpointRoute([Variant(f.variant, f.url, w) for f, w in weighted if w > 0])
        )

    def _fleet(self, config_name: str) -> Fleet:
        cfg = self.sm.describe_endpoint_config(EndpointConfigName=config_name)
        variant = cfg["ProductionVariants"][0]
        model = self.sm.describe_model(ModelName=variant["ModelName"])
        container = model["PrimaryContainer"]
        return Fleet(
            config_name,
            variant["VariantName"],
            container["ModelDataUrl"],
            container["Image"],
            model["ExecutionRoleArn"],
        )

    def _start(self, fleet: Fleet) -> None:
        """The new fleet's container: its artifact (read as the endpoint role) and its image's code."""
        assert self.platform.tracker is not None
        import boto3

        self._next += 1
        model_dir = self.platform.workdir / "serving" / f"fleet-{self._next}" / "model"
        model_dir.mkdir(parents=True, exist_ok=True)
        env = self.platform.workload_env(fleet.role, iam.SAGEMAKER)  # the endpoint role, assumed by SageMaker
        s3 = boto3.session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=env["AWS_SESSION_TOKEN"],
            region_name=self.platform.emulator.region,
        ).client("s3", endpoint_url=self.platform.emulator.url_for("s3"))
        bucket, key = split_s3(fleet.model_data_uri)
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
            tar.extractall(model_dir, filter="data")
        fleet.proc, fleet.url = start_inference_server(
            self.platform.tracker,
            model_dir,
            code_root=self._code(fleet.image),
            name=f"inference server {fleet.config}",
        )

    def _code(self, image: str) -> Path:
        """The unpacked code layer of `image` (`registry/repo@sha256:...`), or the repository when the image was
        not published offline (a bootstrap image)."""
        head, _, digest = image.partition("@")
        repo = head.partition("/")[2].rsplit(":", 1)[0]
        try:
            layer = images.layer_of(
                self.platform.emulator.client("ecr"), repo, digest or image.rsplit(":", 1)[-1]
            )
        except Exception:  # not in the emulated ECR: the bootstrap image the stack names by tag
            layer = None
        if layer is None:
            return REPO_ROOT
        try:
            return self.store.unpack(layer)
        except LookupError:
            return REPO_ROOT

    def _stop(self, fleet: Fleet) -> None:
        assert self.platform.shim is not None
        left = self.platform.shim.drain(fleet.url, DRAIN_S)
        if left:
            self.report(f"stopping {fleet.config} with {left} request(s) still in flight after {DRAIN_S:g} s")
        if fleet.proc is not None and self.platform.tracker is not None:
            self.platform.tracker.stop(fleet.proc)
        self._fleets.pop(fleet.url, None)

    # --- the control plane -----------------------------------------------------------------------------------

    def apply(self, reason: str) -> DeployOutcome:
        engine = self.platform.engine
        assert engine is not None
        changed: list[str] = []

        def on_event(e: Any) -> None:
            if e.action not in NO_CHANGE:
                changed.append(f"{e.action} {e.type} {e.name}")

        # Targeted as the real rollout's `pulumi up --target` (tricloud/model/deploy.py): only the endpoint's
        # resources are read and changed; anything else pending stays for a full apply.
        targets = endpoint_targets(engine.state)
        self.report(
            f"local engine apply --target ({len(targets)} endpoint resources) with the emulated canary: {reason}"
        )
        hooks = engine.on_event, engine.on_change
        engine.on_event, engine.on_change = on_event, self._on_change
        started = len(self.deployments)
        try:
            result = engine.apply(targets=targets)
        except CanaryRolledBack as exc:
            return DeployOutcome(False, str(exc), changed)
        except Exception as exc:
            return DeployOutcome(False, f"local apply failed: {type(exc).__name__}: {exc}", changed)
        finally:
            engine.on_event, engine.on_change = hooks
        self.platform.outputs = result.outputs
        report_untargeted(result, self.report)
        done = [d.summary() for d in self.deployments[started:]]
        return DeployOutcome(True, "; ".join([result.summary(), *done]), changed)

    def _on_change(self, action: str, entry: Any) -> None:
        if entry.type == ENDPOINT_TYPE and action in ("update", "replace") and entry.id == self.endpoint:
            self.deploy()

    def _policy(self) -> tuple[float, float, float, list[str]]:
        """(canary percent, wait s, termination wait s, rollback alarms) from the endpoint's deployment config."""
        ep = self.sm.describe_endpoint(EndpointName=self.endpoint)
        conf = ep.get("LastDeploymentConfig") or ep.get("DeploymentConfig") or {}
        blue_green = conf.get("BlueGreenUpdatePolicy") or {}
        routing = blue_green.get("TrafficRoutingConfiguration") or {}
        size = routing.get("CanarySize") or {}
        alarms = [a["AlarmName"] for a in (conf.get("AutoRollbackConfiguration") or {}).get("Alarms", [])]
        if not routing:  # moto does not echo it back: the stack's own values (components/model_endpoint)
            from components.model_endpoint.aws import TERMINATION_WAIT_SECONDS

            endpoint_cfg = (self.platform.engine.config if self.platform.engine else {}).get(
                "tricloud:endpoint"
            ) or {}
            from components.model_endpoint.spec import ModelEndpointArgs

            defaults = ModelEndpointArgs.__dataclass_fields__
            percent = float(endpoint_cfg.get("canary_percent", defaults["canary_percent"].default))
            wait = 60.0 * float(
                endpoint_cfg.get("canary_wait_minutes", defaults["canary_wait_minutes"].default)
            )
            return percent, wait, float(TERMINATION_WAIT_SECONDS), alarms or self._alarm_names()
        percent = (
            float(size.get("Value", 10))
            if size.get("Type", "CAPACITY_PERCENT") == "CAPACITY_PERCENT"
            else 10.0
        )
        return (
            percent,
            float(routing.get("WaitIntervalInSeconds", 0)),
            float(blue_green.get("TerminationWaitInSeconds", 0)),
            alarms or self._alarm_names(),
        )

    def _alarm_names(self) -> list[str]:
        """The alarms watching this endpoint (what the stack passed as auto-rollback alarms)."""
        found = self.cw.describe_alarms()["MetricAlarms"]
        return sorted(
            a["AlarmName"]
            for a in found
            if any(
                d["Name"] == "EndpointName" and d["Value"] == self.endpoint for d in a.get("Dimensions", [])
            )
        )

    def deploy(self) -> Deployment:
        ep = self.sm.describe_endpoint(EndpointName=self.endpoint)
        new = self._fleet(ep["EndpointConfigName"])
        d = Deployment(self.endpoint, self.stable.config, new.config)
        self.deployments.append(d)
        if new.config == self.stable.config:
            d.outcome = "unchanged"
            return d
        if new.model == self.stable.model:  # the same model under a new configuration name: nothing to shift
            self.stable.config, self.stable.variant = new.config, new.variant
            self._route((self.stable, 100.0))
            d.outcome = "re-pointed"
            return d
        percent, wait_s, termination_s, alarms = self._policy()
        d.canary_percent = percent
        evaluator = AlarmEvaluator(self.cw, self.clock, alarms, samples=self.metrics.latency_values)
        real_start, start = time.perf_counter(), self.clock.now()
        self._start(new)
        self.report(
            f"canary: {percent:g}% of {self.endpoint} to {new.config} ({new.url}), bake {wait_s / 60:g} emulated "
            f"min, alarms {', '.join(alarms)}"
        )
        self._route((self.stable, 100.0 - percent), (new, percent))
        try:
            fired = self._bake(evaluator, wait_s, d)
            if not fired:
                self._route((new, 100.0))
                self.report(
                    f"canary passed: all traffic to {new.config}; termination wait {termination_s / 60:g} min"
                )
                fired = self._bake(evaluator, termination_s, d)
        finally:
            d.emulated_s, d.real_s = self.clock.now() - start, time.perf_counter() - real_start
            with self._lock:
                d.requests = {c: self._counts.get(c, 0) for c in (self.stable.config, new.config)}
        if fired:
            d.outcome = "rolled back"
            self._route((self.stable, 100.0))
            self._stop(new)
            self._restore_endpoint(self.stable.config)
            self.report(d.summary())
            raise CanaryRolledBack(d.summary())
        old, self.stable = self.stable, new
        self._stop(old)
        self.platform.server, self.platform.server_url = new.proc, new.url
        d.outcome = "promoted"
        self.report(d.summary())
        return d

    def _restore_endpoint(self, config: str) -> None:
        """The endpoint back on `config` in moto. moto (5.2) has no UpdateEndpoint, so, as the engine's handler does,
        it is re-created under its name (with its tags); SageMaker keeps the old fleet and just shifts back."""
        arn = self.sm.describe_endpoint(EndpointName=self.endpoint)["EndpointArn"]
        tags = self.sm.list_tags(ResourceArn=arn).get("Tags", [])
        self.sm.delete_endpoint(EndpointName=self.endpoint)
        self.sm.create_endpoint(EndpointName=self.endpoint, EndpointConfigName=config, Tags=tags)

    def _bake(self, evaluator: AlarmEvaluator, seconds: float, d: Deployment) -> list[str]:
        """Publish and evaluate at every emulated minute for `seconds`; the alarms in ALARM, as soon as one is."""
        end = self.clock.now() + seconds
        while True:
            boundary = (self.clock.now() // 60 + 1) * 60
            self.clock.until(min(boundary, end) + 0.01)  # just past the boundary: that minute is complete
            self.metrics.flush()
            verdicts = evaluator.evaluate_all()
            d.alarms = {name: v.state for name, v in verdicts.items()}
            fired = sorted(name for name, v in verdicts.items() if v.state == ALARM)
            if fired:
                d.fired = fired
                d.reasons = {name: verdicts[name].reason for name in fired}
                return fired
            if self.clock.now() >= end:
                return []

    def close(self) -> None:
        """Publish what is left; the servers are the platform's (its tracker stops them)."""
        if self.platform.shim is not None:
            self.platform.shim.observer = None
        self.metrics.flush(before=float("inf"))


# --- across processes: the serving process is SageMaker's deployment engine ---------------------------------------
#
# A learner runs the platform in one terminal (`tricloud emulate aws --serve`) and `tricloud model rollout aws
# --endpoint URL` in another. The rollout's local engine applies the endpoint change to moto (the UpdateEndpoint
# stand-in re-creates the endpoint on its new configuration at once); the serving process, which owns the fleets and
# the runtime shim, sees the new configuration and runs the blue/green canary above, as SageMaker does server-side;
# the rollout polls DescribeEndpoint until the update is over, as it would poll SageMaker.
#
# moto has no `Updating` status (it reports InService at once), so the outcome travels in two endpoint tags the
# serving process writes when a deployment ends, and a DescribeEndpoint hook on the rollout's client
# (`emulated_status`) turns them into SageMaker's answer: `Updating` until the endpoint carries the tag naming its
# current configuration, then `InService` (with `FailureReason` after a rollback, on the old configuration again).

DEPLOYED_TAG = "tricloud:emulated-deployed-config"  # the configuration the deployment engine finished with
FAILURE_TAG = (
    "tricloud:emulated-failure-reason"  # why the last update was rolled back (absent after a success)
)
RUN_KEY = (
    "serving"  # in the state file's `run`: {"endpoint", "runtime_url", "api_url"} of the serving process
)
# How often the serving process looks for an endpoint update (real seconds): one DescribeEndpoint per poll, few
# enough that another process's AssumeRole keeps moto's one-request unauthenticated window (Emulator._no_auth).
POLL_S = 0.5
TAG_VALUE_MAX = 256  # SageMaker's limit on a tag value


_RUNS: dict[Path, tuple[Any, dict[str, Any]]] = {}  # state file -> (its stat stamp, its `run`)


def serving_process(state_path: Path) -> dict[str, Any] | None:
    """The serving process that runs this stack's deployments (another, live process), or None: then an endpoint
    update in moto is all there is (it switches at once)."""
    try:
        st = state_path.stat()
    except FileNotFoundError:
        return None
    stamp = (st.st_ino, st.st_mtime_ns, st.st_size)  # every save renames a new file in: a new inode
    cached = _RUNS.get(state_path)
    if cached is None or cached[0] != stamp:  # parsed once per write: callers ask on every DescribeEndpoint
        cached = _RUNS[state_path] = (stamp, State.load(state_path).run)
    run = cached[1]
    pid = run.get("pid")
    if not run.get(RUN_KEY) or not pid or pid == os.getpid() or not alive(int(pid), run.get("started")):
        return None
    return dict(run[RUN_KEY])


def emulated_status(sm: Any, attached: Callable[[], bool]) -> None:
    """Make `sm` (a boto3 SageMaker client on moto) answer DescribeEndpoint as SageMaker does during a deployment
    run by a serving process (`attached()`): `Updating`, then `InService` with the rollback's `FailureReason`."""

    def overlay(parsed: dict[str, Any], **_: Any) -> None:
        if "EndpointStatus" not in parsed or "EndpointArn" not in parsed or not attached():
            return
        tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=parsed["EndpointArn"]).get("Tags", [])}
        if tags.get(DEPLOYED_TAG) != parsed.get("EndpointConfigName"):
            parsed["EndpointStatus"] = "Updating"
        elif tags.get(FAILURE_TAG):
            parsed["FailureReason"] = tags[FAILURE_TAG]

    sm.meta.events.register("after-call.sagemaker.DescribeEndpoint", overlay)


class DeploymentEngine:
    """Runs the canary deployer whenever the endpoint's configuration changes in the emulator, whoever changed it
    (the serving process's own hooks: `tricloud emulate aws --serve`)."""

    def __init__(
        self,
        deployer: CanaryDeployer,
        *,
        poll_s: float = POLL_S,
        report: Callable[[str], None] = print,
    ) -> None:
        self.deployer, self.poll_s, self.report = deployer, poll_s, report
        self.sm = deployer.sm
        self.endpoint = deployer.endpoint
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="deployment-engine", daemon=True)
        self._seen: Any = None  # the endpoint's CreationTime when its tags were last checked

    def start(self) -> DeploymentEngine:
        platform = self.deployer.platform
        state = platform.engine.state if platform.engine is not None else None
        if (
            state is not None
        ):  # how a rollout in another process finds the fleets' front door and knows to wait
            state.run[RUN_KEY] = {
                "endpoint": self.endpoint,
                "runtime_url": platform.shim.url if platform.shim is not None else "",
                "api_url": platform.gateway.url if platform.gateway is not None else "",
            }
            state.save()
        self._mark("")
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=120)  # a deployment in progress ends (promoted or rolled back) first
        platform = self.deployer.platform
        if platform.engine is not None:
            self._adopt_state()
            platform.engine.state.run.pop(RUN_KEY, None)
            platform.engine.state.save()
        try:
            self.deployer.close()  # the last minute's metrics to CloudWatch
        except Exception as exc:  # the emulator may be gone already (Ctrl-C in its terminal): nothing to keep
            self.report(f"metrics not flushed at shutdown: {type(exc).__name__}: {exc}")

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.step()
            except Exception as exc:  # the engine keeps serving; the next poll tries again
                self.report(f"deployment engine: {type(exc).__name__}: {exc}")

    def step(self) -> Deployment | None:
        """One look at the endpoint: run the deployment its new configuration asks for, or None."""
        from botocore.exceptions import ClientError

        try:
            ep = self.sm.describe_endpoint(EndpointName=self.endpoint)
        except ClientError:
            return None  # between the UpdateEndpoint stand-in's delete and create
        if ep["EndpointConfigName"] == self.deployer.stable.config:
            if ep.get("CreationTime") != self._seen:  # re-created on the same configuration: InService again
                tags = self._tags(ep["EndpointArn"])
                if tags.get(DEPLOYED_TAG) != ep["EndpointConfigName"]:
                    self._mark(tags.get(FAILURE_TAG, ""))
                self._seen = ep.get("CreationTime")
            return None
        self._adopt_state()
        self.report(f"UpdateEndpoint {self.endpoint}: {ep['EndpointConfigName']}")
        failure = ""
        try:
            d = self.deployer.deploy()
        except CanaryRolledBack as exc:
            failure, d = str(exc), self.deployer.deployments[-1]
        except Exception as exc:  # the new fleet never served: the update fails, the old configuration stays
            failure = f"the update failed before any traffic shifted: {type(exc).__name__}: {exc}"
            stable = self.deployer.stable
            self.deployer._route((stable, 100.0))
            self.deployer._restore_endpoint(stable.config)
            d = self.deployer.deployments[-1]
            d.outcome = "failed"
        self._mark(failure)
        self._seen = None
        return d

    def _tags(self, arn: str) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in self.sm.list_tags(ResourceArn=arn).get("Tags", [])}

    def _mark(self, failure: str) -> None:
        """The deployment is over: the endpoint reads InService on the configuration that serves (+ the reason)."""
        arn = self.sm.describe_endpoint(EndpointName=self.endpoint)["EndpointArn"]
        tags = [{"Key": DEPLOYED_TAG, "Value": self.deployer.stable.config}]
        if failure:
            tags.append({"Key": FAILURE_TAG, "Value": failure[:TAG_VALUE_MAX]})
        else:
            self.sm.delete_tags(ResourceArn=arn, TagKeys=[FAILURE_TAG])
        self.sm.add_tags(ResourceArn=arn, Tags=tags)

    def _adopt_state(self) -> None:
        """The resources another process applied since (the rollout's Model, configuration, endpoint), so this
        process's own state writes (the fleets it starts) do not put back what it loaded at start."""
        state = self.deployer.platform.engine.state
        disk = State.load(state.path)
        with state._lock:
            state.entries, state.outputs, state.pending = disk.entries, disk.outputs, disk.pending

"""The offline platform after the apply: data into the raw zone, the Spark feature job over s3a, training with the
SageMaker contract, the inference server, the sagemaker-runtime shim and the local API gateway.

Every location comes from the applied resources (stack outputs and what the emulator holds), never from constants,
so the run exercises the same wiring a cloud deploy would. Every process is started through a `Tracker` (it dies
with this process, and its PID is in the state file); `Platform.close()` stops them and removes the run's folder.

IAM is enforced (`tricloud.engine.iam`): the stack is applied by the deployer user, and every workload runs as its
role, with the session the AWS service it runs in would get (`Platform.session_for`): the Spark job as the job role
(through s3a), training as the training role (channel download, model upload, the training process), the endpoint's
model loading as the endpoint role, the Lambda handler (and Lambda's own log shipping and environment decryption) as
the function role. A denied call fails its phase with a message naming the principal, the action and the resource,
and is appended to `iam-denials.log` in the run's log folder (`tricloud logs aws`).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tricloud.emulate import sigv4
from tricloud.emulate.gateway import FunctionSpec, Gateway
from tricloud.emulate.processes import Tracker, reap
from tricloud.emulate.runtime import RuntimeShim
from tricloud.emulate.tls import TlsProxy
from tricloud.engine import Emulator, Engine, Result, iam
from tricloud.engine.emulator import ACCESS_KEY_ID, SECRET_ACCESS_KEY
from tricloud.query.demo import register_run

RAW_KEY = "listings/listings.csv"
CURATED_PREFIX = "listings/"
QUARANTINE_PREFIX = "quarantine/listings/"
REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE = {  # one listing in app.schema's request shape
    "city": "Pune",
    "locality_tier": 2,
    "area_sqft": 1050,
    "bedrooms": 2,
    "bathrooms": 2,
    "age_years": 6,
    "floor": 4,
    "parking": 1,
    "furnishing": "semi-furnished",
    "distance_to_metro_km": 1.8,
}


# One OpenMP thread per workload process (training, inference servers): on a shared 2-core machine, scikit-learn's
# gradient boosting with a thread per core spins against Spark, moto and the other servers (measured: a 5,000-row
# fit took 91 s instead of 2.4 s under load); a cloud instance runs one workload, not ten.
WORKLOAD_THREADS = {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}  # a user's setting wins


class PlatformError(Exception):
    """A phase failed; the message names the phase and what to do."""


def split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith(("s3://", "s3a://")):
        raise PlatformError(f"expected an s3:// URI, got {uri!r}")
    bucket, _, key = uri.split("://", 1)[1].partition("/")
    return bucket, key


@dataclass
class Options:
    stack: str = "dev"
    rows: int = 5000
    seed: int = 42
    malformed_fraction: float = 0.02
    gateway_port: int = 0
    throttle: bool = True
    config: dict[str, Any] | None = None  # stack config override (tests, benchmark)
    state_path: Path | None = None


@dataclass
class Platform:
    emulator: Emulator
    options: Options = field(default_factory=Options)
    on_phase: Callable[[str, str, float], None] = lambda phase, detail, seconds: None
    timings: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    engine: Engine | None = None
    apply_result: Result | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    server: subprocess.Popen[str] | None = None
    server_url: str = ""
    shim: RuntimeShim | None = None
    gateway: Gateway | None = None
    tracker: Tracker | None = None
    workdir: Path = field(default_factory=Path)
    keys: sigv4.KeyStore = field(default_factory=sigv4.KeyStore)
    reaped: list[str] = field(default_factory=list)  # what a killed earlier run had left, cleaned at start
    _spark: subprocess.Popen[str] | None = None
    _spark_log: Path | None = None
    _proxy: TlsProxy | None = None
    _exiting: list[subprocess.Popen[str]] = field(default_factory=list)  # drivers that finished their job
    _sessions: dict[str, iam.Session] = field(default_factory=dict)
    authorizer: iam.Authorizer | None = None

    def __post_init__(self) -> None:
        """The engine (and its state file) first: the processes and folders of this run are recorded there."""
        self.engine = Engine(
            self.emulator,
            stack=self.options.stack,
            state_path=self.options.state_path,
            config=self.options.config,
        )
        state = self.engine.state
        owner = state.run.get("pid")
        if owner and owner != os.getpid() and not _dead(state.run):
            raise PlatformError(
                f"stack {self.options.stack!r} is in use by another tricloud process (pid {owner}): stop it "
                f"(Ctrl-C in its terminal) or pass another --stack"
            )
        self.reaped = reap(state)
        self.tracker = Tracker(state)
        self.workdir = self.tracker.mkdtemp("tricloud-emulate-")
        self.keys.add(ACCESS_KEY_ID, SECRET_ACCESS_KEY)  # the learner's (root) keys, as in the curl example
        self.authorizer = iam.Authorizer(self.emulator.client("iam"))
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        iam.DENIALS.path = self.denials_log

    @property
    def logs_dir(self) -> Path:
        return self.engine.state_path.parent / "logs" / f"{self.engine.cloud}-{self.options.stack}"

    @property
    def cache_dir(self) -> Path:
        """Per checkout, not per state folder: one class-data archive serves every stack, test and benchmark."""
        from tricloud.engine.state import STATE_DIR

        return REPO_ROOT / STATE_DIR / "cache"

    @property
    def denials_log(self) -> Path:
        return self.logs_dir / "iam-denials.log"

    @property
    def spark_service(self) -> str:
        """The service that assumes the Spark job role: EMR Serverless, or EC2 (the nodes) in cluster mode."""
        mode = ((self.engine.config if self.engine else {}).get("tricloud:spark") or {}).get(
            "mode", "serverless"
        )
        return iam.SPARK_SERVICE.get(str(mode), iam.SPARK_SERVICE["serverless"])

    def session_for(self, role_arn: str, service: str) -> iam.Session:
        """The session `service` (e.g. lambda.amazonaws.com) hands a workload running as `role_arn`, after the
        role's trust policy is checked: as Lambda, SageMaker and EMR give a workload its execution role. Renewed 5
        minutes before expiry; every key issued is accepted by the local services that verify SigV4 (the runtime
        shim), which evaluate the role's policies for it."""
        cached = self._sessions.get(role_arn)
        if cached and cached.expires_at - time.time() > 300:
            return cached
        session = self.emulator.assume_role(role_arn, {"Service": service})
        self.keys.add(
            session.access_key_id, session.secret_access_key, session.session_token, session=session
        )
        self._sessions[role_arn] = session
        return session

    def credentials_for(self, role_arn: str, service: str) -> dict[str, str]:
        """The `AWS_*` credentials of a workload running as `role_arn` in `service`."""
        return self.session_for(role_arn, service).env()

    def workload_env(self, role_arn: str, service: str) -> dict[str, str]:
        """The emulator's endpoints and the role's credentials: what a workload's process gets."""
        return {**self.emulator.env(), **self.credentials_for(role_arn, service)}

    def role_client(self, service_name: str, role_arn: str, service: str) -> Any:
        """A boto3 client signed as `role_arn` (what the AWS service does for the workload, e.g. SageMaker's
        channel download)."""
        return self.emulator.session_client(service_name, self.session_for(role_arn, service))

    def identities(self) -> dict[str, tuple[str, str]]:
        """Workload -> (role ARN, the service that assumes it), read back from the applied resources."""
        function = self.emulator.client("lambda").get_function_configuration(
            FunctionName=self.outputs["function_name"]
        )
        return {
            "spark job": (self.outputs["spark_job_role"], self.spark_service),
            "training": (self.outputs["training_role"], iam.SAGEMAKER),
            "endpoint": (str(self._model()["ExecutionRoleArn"]), iam.SAGEMAKER),
            "function": (str(function["Role"]), iam.LAMBDA),
        }

    def authorize_function(self, fn: FunctionSpec, action: str, resource: str) -> iam.Denial | None:
        """What Lambda does as the function's role (log shipping, environment decryption)."""
        assert self.authorizer is not None
        return self.authorizer.check(self.session_for(fn.role, iam.LAMBDA), action, resource, source="lambda")

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[dict[str, Any]]:
        info: dict[str, Any] = {}
        started = time.perf_counter()
        mark = iam.DENIALS.mark()
        try:
            yield info
        except Exception as exc:
            denied = iam.DENIALS.since(mark)
            if denied:  # the cause a learner must fix, named as AWS would (CloudTrail's AccessDenied event)
                more = f" (+{len(denied) - 1} more)" if len(denied) > 1 else ""
                raise PlatformError(
                    f"{name}: denied by IAM: {denied[0]}{more}; see {self.denials_log}"
                ) from exc
            if isinstance(exc, PlatformError):
                raise
            raise PlatformError(f"{name}: {type(exc).__name__}: {exc}") from exc
        seconds = time.perf_counter() - started
        self.timings[name] = seconds
        self.details[name] = info
        self.on_phase(name, info.get("summary", ""), seconds)

    # --- phases ---

    def apply(
        self, on_event: Callable[..., None] | None = None, before_change: Callable[..., None] | None = None
    ) -> Result:
        assert self.engine is not None
        if on_event is not None:
            self.engine.on_event = on_event
        if before_change is not None:
            self.engine.before_change = before_change
        started = time.perf_counter()
        self.apply_result = self.engine.apply()
        self.outputs = self.apply_result.outputs
        self.timings["apply"] = time.perf_counter() - started
        self.on_phase("apply", self.apply_result.summary(), self.timings["apply"])
        return self.apply_result

    def s3(self) -> Any:
        return self.emulator.client("s3")

    def upload_raw(self) -> str:
        from app.data.generator import generate, write_listings

        with self.phase("data") as info:
            frame = generate(
                self.options.rows, seed=self.options.seed, malformed_fraction=self.options.malformed_fraction
            )
            path = write_listings(frame, self.workdir / "raw" / "listings.csv")
            bucket, prefix = split_s3(self.outputs["raw_uri"])
            self.s3().upload_file(str(path), bucket, prefix + RAW_KEY)
            uri = f"s3://{bucket}/{prefix}{RAW_KEY}"
            info["summary"] = f"{len(frame)} listings -> {uri}"
            info["uri"] = uri
        return uri

    def prestart_spark(self) -> None:
        """Start the Spark driver (JVM, s3a jars, session) now; `run_spark` hands it the job later."""
        if self._spark is not None or (shutil.which("java") is None and not os.environ.get("JAVA_HOME")):
            return
        assert self.tracker is not None
        s3_url = urlsplit(self.emulator.url_for("s3"))
        self._proxy = TlsProxy((s3_url.hostname or "127.0.0.1", int(s3_url.port or 80)), self.workdir / "tls")
        keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
        env = {
            **{k: v for k, v in os.environ.items() if k not in keys},
            **{
                k: v for k, v in self.emulator.env().items() if k not in keys
            },  # the job role's come with the job
            "SPARK_LOCAL_IP": "127.0.0.1",
            "TRICLOUD_SPARK_LOCAL_DIR": str(self.workdir / "spark-local"),
            "PYSPARK_PYTHON": sys.executable,
            "TRICLOUD_S3A_ENDPOINT": self._proxy.url,
            "TRICLOUD_JAVA_OPTIONS": self._proxy.java_options(),
            # The class-data archive, kept across runs (TRICLOUD_SPARK_CDS: another folder, or off).
            "TRICLOUD_SPARK_CDS": os.environ.get("TRICLOUD_SPARK_CDS") or str(self.cache_dir),
        }
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self._spark_log = self.logs_dir / "spark.log"
        self._spark = self.tracker.popen(
            "spark job",
            [sys.executable, "-m", "tricloud.emulate.spark_submit", "--wait"],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._spark_log.open("w"),
            text=True,
        )

    def run_spark(self) -> dict[str, Any]:
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise PlatformError(
                "spark: Java is not installed (Spark needs a JRE 17): apt-get install openjdk-17-jre-headless"
            )
        with self.phase("spark") as info:
            raw = self.details["data"]["uri"].replace("s3://", "s3a://", 1)
            curated_bucket, curated_prefix = split_s3(self.outputs["curated_uri"])
            # One folder per run: outputs are immutable, and a re-run never overwrites (S3A's overwrite of a
            # versioned moto bucket loses its own _temporary files).
            run = time.strftime("run-%Y%m%dT%H%M%SZ", time.gmtime())
            output = f"s3a://{curated_bucket}/{curated_prefix}{CURATED_PREFIX}{run}/"
            quarantine = f"s3a://{curated_bucket}/{curated_prefix}{QUARANTINE_PREFIX}{run}/"
            job_run = self._record_job_run(raw, output, quarantine)
            self.prestart_spark()
            assert self._spark is not None and self.tracker is not None
            job = {
                "input": raw,
                "output": output,
                "quarantine": quarantine,
                "env": self.credentials_for(self.outputs["spark_job_role"], self.spark_service),
            }
            proc, self._spark = self._spark, None
            line = self._hand_over(proc, job)
            if line is None:
                log = self._spark_log.read_text(errors="replace").splitlines() if self._spark_log else []
                last = next(
                    (ln for ln in reversed(log) if ln.strip() and not ln.startswith(("\tat ", "\t..."))), ""
                )
                raise PlatformError(
                    f"spark: the feature job failed (exit {proc.returncode}): {last.strip()[:300]} "
                    f"(whole log: {self._spark_log})"
                )
            counts = json.loads(line.removeprefix("TRICLOUD_COUNTS "))
            info.update(counts=counts, output=output, job_run=job_run)
            info["table"] = register_run(self.emulator, self.outputs, output)  # the Glue crawler's work
            info["summary"] = (
                f"{counts.get('valid_rows')} curated, {counts.get('quarantined_rows')} quarantined "
                f"(EMR Serverless job run {job_run})"
            )
        return counts

    def _hand_over(self, proc: subprocess.Popen[str], job: dict[str, Any]) -> str | None:
        """Send the job to the waiting driver; its TRICLOUD_COUNTS line, or None if it failed (killed after 600 s).
        The phase ends at that line: the JVM's exit (and, on a first run, writing its class-data archive) goes on
        in the background until `close`."""
        assert proc.stdin is not None and proc.stdout is not None and self.tracker is not None
        watchdog = threading.Timer(600, proc.kill)
        watchdog.start()
        line = None
        try:
            with contextlib.suppress(BrokenPipeError):  # it died before reading: its exit code says why
                proc.stdin.write(json.dumps(job) + "\n")
                proc.stdin.close()
            line = next((ln for ln in proc.stdout if ln.startswith("TRICLOUD_COUNTS ")), None)
        finally:
            watchdog.cancel()
            if self._proxy is not None:  # the job's last S3 call is behind it
                self._proxy.close()
                self._proxy = None
        if line is None:
            proc.wait(timeout=30)
            self.tracker.forget(proc)
        else:
            self._exiting.append(proc)
        return line

    def _record_job_run(self, raw: str, output: str, quarantine: str) -> str:
        """The run is recorded on the emulated application, as the deploy would submit it."""
        emr = self.emulator.client("emr-serverless")
        app_id = self.outputs["spark_application"]
        run = emr.start_job_run(
            applicationId=app_id,
            executionRoleArn=self.outputs["spark_job_role"],
            name="tricloud-features",
            jobDriver={
                "sparkSubmit": {
                    "entryPoint": "app/features/__main__.py",
                    "entryPointArguments": ["--input", raw, "--output", output, "--quarantine", quarantine],
                }
            },
            configurationOverrides={
                "monitoringConfiguration": {
                    "s3MonitoringConfiguration": {"logUri": self.outputs["spark_logs_uri"]}
                }
            },
        )
        return str(run["jobRunId"])

    def _model(self) -> dict[str, Any]:
        assert self.engine is not None
        model = next(e for e in self.engine.state.ordered() if e.type == "aws:sagemaker/model:Model")
        return dict(self.emulator.client("sagemaker").describe_model(ModelName=model.id))

    def model_data_uri(self) -> str:
        """Where the applied SageMaker Model expects its artifact (read back from the emulator)."""
        return str(self._model()["PrimaryContainer"]["ModelDataUrl"])

    def train(self) -> dict[str, Any]:
        with self.phase("train") as info:
            root = self.workdir / "sm"
            channel = root / "input" / "data" / "train"
            bucket, prefix = split_s3(self.details["spark"]["output"].replace("s3a://", "s3://", 1))
            files = 0
            role = self.outputs["training_role"]
            # SageMaker downloads the channel and uploads the model as the training role, not the deployer.
            s3 = self.role_client("s3", role, iam.SAGEMAKER)
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    rel = obj["Key"][len(prefix) :]
                    if not rel.endswith(".parquet"):
                        continue  # _SUCCESS markers and folder placeholders
                    target = channel / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    s3.download_file(bucket, obj["Key"], str(target))
                    files += 1
            if not files:
                raise PlatformError(
                    f"train: no Parquet under {self.details['spark']['output']}; did the Spark phase run?"
                )
            model_dir, out_dir = root / "model", root / "output" / "data"
            env = {
                **os.environ,
                **self.workload_env(role, iam.SAGEMAKER),
                "SM_CHANNEL_TRAIN": str(channel),
                "SM_MODEL_DIR": str(model_dir),
                "SM_OUTPUT_DATA_DIR": str(out_dir),
                "SM_HPS": json.dumps(self._hyperparameters()),
                "TRICLOUD_SM_ROOT": str(root),
                **WORKLOAD_THREADS,
            }
            assert self.tracker is not None
            proc = self.tracker.run(
                "training job", [sys.executable, "-m", "app.train"], cwd=REPO_ROOT, env=env, timeout=600
            )
            if proc.returncode != 0:
                raise PlatformError(
                    f"train: app.train failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}"
                )
            uri = self.model_data_uri()
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w:gz") as tar:
                for p in sorted(model_dir.iterdir()):
                    tar.add(p, arcname=p.name)
            mbucket, mkey = split_s3(uri)
            s3.put_object(Bucket=mbucket, Key=mkey, Body=buf.getvalue())
            metrics = json.loads((model_dir / "metrics.json").read_text())
            info.update(metrics=metrics, model_data_uri=uri, files=files)
            info["summary"] = f"r2 {metrics.get('r2', 0):.3f}, model {metrics.get('version')} -> {uri}"
        return metrics

    def _hyperparameters(self) -> dict[str, str]:
        cfg = self.engine.config if self.engine else {}
        training = cfg.get("tricloud:training") or {}
        return {str(k): str(v) for k, v in (training.get("hyperparameters") or {}).items()}

    def serve(self) -> str:
        with self.phase("serve") as info:
            model = self._model()
            uri = str(model["PrimaryContainer"]["ModelDataUrl"])
            bucket, key = split_s3(uri)
            model_dir = self.workdir / "serving" / "model"
            model_dir.mkdir(parents=True, exist_ok=True)
            # SageMaker fetches the model as the model's execution role (the endpoint role).
            s3 = self.role_client("s3", model["ExecutionRoleArn"], iam.SAGEMAKER)
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
                tar.extractall(model_dir, filter="data")
            self.start_server(model_dir)
            account = self.emulator.account_id()
            self.shim = RuntimeShim(account, self.emulator.region, self.keys, authorizer=self.authorizer)
            endpoint = self.outputs["endpoint_name"]
            self.emulator.client("sagemaker").describe_endpoint(EndpointName=endpoint)  # it must exist
            self.shim.route(endpoint, self.server_url)
            info.update(server=self.server_url, shim=self.shim.url, endpoint=endpoint)
            info["summary"] = f"endpoint {endpoint} -> {self.server_url} (runtime shim {self.shim.url})"
        return self.server_url

    def start_server(self, model_dir: Path | None = None) -> None:
        model_dir = model_dir or self.workdir / "serving" / "model"
        assert self.tracker is not None
        self.server, self.server_url = start_inference_server(self.tracker, model_dir)
        if self.shim is not None:
            self.shim.route(self.outputs["endpoint_name"], self.server_url)

    def stop_server(self) -> None:
        if self.server is not None and self.tracker is not None:
            self.tracker.stop(self.server)  # SIGTERM (how SageMaker stops a container), then SIGKILL
            self.server = None

    def start_gateway(self) -> Gateway:
        assert self.engine is not None and self.shim is not None
        with self.phase("gateway") as info:
            api = next(e for e in self.engine.state.ordered() if e.type == "aws:apigatewayv2/api:Api")
            shim_url = self.shim.url

            def function_env(fn: FunctionSpec) -> dict[str, str]:
                return {
                    **self.workload_env(fn.role, iam.LAMBDA),
                    "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": shim_url,
                }

            self.gateway = Gateway(
                self.emulator,
                api.id,
                code_store=self.engine.ctx().code_store,
                function_env=function_env,
                workdir=self.workdir / "lambda",
                logs_dir=self.logs_dir,
                port=self.options.gateway_port,
                throttle=self.options.throttle,
                tracker=self.tracker,
                authorize=self.authorize_function,
                declared_logging={
                    e.id: e.outputs.get("loggingConfig") or {}
                    for e in self.engine.state.ordered()
                    if e.type == "aws:lambda/function:Function"
                },
            )
            self.gateway.warm()
            info.update(
                url=self.gateway.url,
                routes=[r.route_key for r in self.gateway.routes],
                logs={k: str(v) for k, v in self.gateway.log_files.items()},
            )
            info["summary"] = f"{self.gateway.url} ({', '.join(info['routes'])})"
        return self.gateway

    def smoke(self) -> dict[str, Any]:
        with self.phase("first prediction") as info:
            status, body = signed_request(
                self.gateway_url + "/predict", {"instances": [SAMPLE]}, self.emulator.region
            )
            if status != 200 or body.get("fallback"):
                raise PlatformError(f"first prediction: POST /predict answered {status}: {body}")
            info.update(status=status, response=body)
            info["summary"] = f"{body['predictions'][0]:,.0f} INR (model {body.get('model_version')})"
        return body

    @property
    def gateway_url(self) -> str:
        assert self.gateway is not None
        return self.gateway.url

    def run_all(self, on_event: Callable[..., None] | None = None) -> dict[str, Any]:
        self.prestart_spark()  # the JVM starts while the stack is applied, as in `tricloud emulate aws`
        self.apply(on_event)
        self.upload_raw()
        self.run_spark()
        self.train()
        self.serve()
        self.start_gateway()
        return self.smoke()

    def stop_serving(self) -> None:
        """Gateway, runtime shim and inference server down (`serve` and `start_gateway` bring them back)."""
        if self.gateway is not None:
            self.gateway.close()
            self.gateway = None
        if self.shim is not None:
            self.shim.close()
            self.shim = None
        self.stop_server()

    def close(self) -> None:
        if self._spark is not None and self.tracker is not None:
            self.tracker.stop(self._spark, grace_s=2)
            self._spark = None
        # Drivers done with their job; a first run's may still be writing its class-data archive.
        for proc in self._exiting:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=60)
            if self.tracker is not None:
                self.tracker.stop(proc, grace_s=2)
            if proc.stdout is not None:
                proc.stdout.close()
        self._exiting.clear()
        if self._proxy is not None:
            self._proxy.close()
            self._proxy = None
        self.stop_serving()
        if self.tracker is not None:
            self.tracker.rmtree(self.workdir)
            reap(self.engine.state)  # anything still recorded (a worker that outlived its pool)


def start_inference_server(
    tracker: Tracker, model_dir: Path, *, code_root: Path = REPO_ROOT, name: str = "inference server"
) -> tuple[subprocess.Popen[str], str]:
    """`python -m app.serve sagemaker` on loopback for `model_dir`, running the `app/` under `code_root` (the
    repository, or an image's unpacked layer); (process, URL) once it reports ready."""
    proc = tracker.popen(
        name,
        [
            sys.executable,
            "-m",
            "app.serve",
            "sagemaker",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--model-dir",
            str(model_dir),
        ],
        cwd=code_root,
        env={**os.environ, **WORKLOAD_THREADS},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("serving ") and " on http://" in line:
            return proc, line.rsplit(" on ", 1)[1].strip()
    tracker.stop(proc)
    raise PlatformError(f"serve: the {name} did not report ready within 60 s")


def _dead(run: dict[str, Any]) -> bool:
    from tricloud.emulate.processes import alive

    return not alive(int(run["pid"]), run.get("started"))


def signed_request(
    url: str, payload: Any, region: str, *, method: str = "POST", sign: bool = True, timeout: float = 30
) -> tuple[int, Any]:
    """A SigV4-signed JSON request (as `curl --aws-sigv4` sends it) with the emulator's keys."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from tricloud.engine.emulator import ACCESS_KEY_ID, SECRET_ACCESS_KEY

    data = json.dumps(payload).encode() if payload is not None else b""
    headers = {"content-type": "application/json"}
    if sign:
        req = AWSRequest(method=method, url=url, data=data, headers=headers)
        SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "execute-api", region).add_auth(req)
        headers = dict(req.headers.items())
    request = urllib.request.Request(url, data=data or None, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, json.loads(raw)
        except json.JSONDecodeError:
            return err.code, raw.decode(errors="replace")

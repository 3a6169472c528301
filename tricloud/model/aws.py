"""Model delivery on SageMaker: training jobs, the Model Registry group, the SSM serving record, the endpoint.

Every name comes from the stack outputs (`training_role`, `training_image_uri`, `model_registry`, `endpoint_name`, ...)
and every setting from the stack config (`tricloud:training`, `tricloud:delivery`). Offline (`--endpoint`), the same
calls go to moto, and the two things moto cannot do are done locally with the real contracts: `app.train` runs as a
process with the SageMaker training contract, and the image is the local `app/` tree published to the emulated ECR
as an OCI manifest (its digest changes when the code does).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from components.errors import InvalidArgs
from components.model_endpoint import serving
from components.model_endpoint.serving import ServingModel
from components.naming import physical_name
from tricloud.model import evaluate, flows
from tricloud.model.base import (
    APPROVED,
    LOCAL_STATE_ENV,
    PENDING,
    REJECTED,
    REPO_ROOT,
    Context,
    DeliveryError,
    GateRefused,
    ModelVersion,
    local_state_path,
)
from tricloud.model.deploy import AutomationDeployer, EndpointDeployer, LocalEngineDeployer
from tricloud.model.traffic import Traffic, holdout_requests

CURATED_LISTINGS = "listings/"  # where the Spark feature job (app.features) writes its runs, one folder each
PINNED_PREFIX = "sha256/"  # models/sha256/<hex>/model.tar.gz: the artifact's key names its content
STATUS = {"PendingManualApproval": PENDING, "Approved": APPROVED, "Rejected": REJECTED}
MAX_SAGEMAKER_SECONDS = 28 * 24 * 3600
TRANSITIONAL = (
    "Creating",
    "Updating",
    "SystemUpdating",
    "RollingBack",
)  # DescribeEndpoint's in-progress states


def split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise InvalidArgs("uri", uri, "must be an s3:// URI")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def split_image(uri: str) -> tuple[str, str, str]:
    """(registry, repository, tag-or-digest) of `registry/repo:tag` or `registry/repo@sha256:...`."""
    head, sep, digest = uri.partition("@")
    if sep:
        registry, _, repo = head.partition("/")
        return registry, repo, digest
    registry, _, rest = uri.partition("/")
    repo, _, tag = rest.rpartition(":") if ":" in rest else (rest, "", "latest")
    return registry, repo, tag


def job_name(project: str, stack: str, commit: str, now: float | None = None) -> str:
    """`<project>-<stack>-<commit8>-<UTC time>-<4 hex>`: unique on every run, even a re-run of one commit, within
    SageMaker's 63 characters and the deploy role's `<project>-<stack>-*` resource pattern."""
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(now))
    short = "".join(c for c in commit.lower() if c.isalnum())[:8] or "nocommit"
    prefix = physical_name("aws:sagemaker", project, stack)[: 63 - len(short) - len(stamp) - 7]
    return f"{prefix}-{short}-{stamp}-{secrets.token_hex(2)}"


class AwsClients:
    """boto3 clients of the real account (the default credential chain) or of the emulator at `endpoint`.

    Offline every client is built from one credentials source, the emulator's (`Emulator.client` and
    `Emulator.env()`): the same identity the platform applies with. `emulator` shares a running platform's;
    `runtime_url` (else `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`) is the local runtime shim."""

    def __init__(
        self,
        region: str,
        endpoint: str | None = None,
        *,
        emulator: Any = None,
        runtime_url: str | None = None,
    ) -> None:
        self.region, self.endpoint, self.runtime_url = region, endpoint, runtime_url
        self._clients: dict[str, Any] = {}
        if emulator is not None:
            self.emulator: Any = emulator
        elif endpoint:
            from tricloud.engine import Emulator

            self.emulator = Emulator.start(region, endpoint=endpoint)
        else:
            import boto3

            self.emulator = None
            self.session = boto3.session.Session(region_name=region)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            from botocore.config import Config

            config = Config(
                retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10, read_timeout=60
            )
            runtime = self.runtime_url or os.environ.get("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME")
            if service == "sagemaker-runtime" and runtime and self.emulator is not None:
                # Offline, the endpoint answers through the local runtime shim (what `emulate aws` prints).
                import boto3

                creds = self.credentials()
                session = boto3.session.Session(
                    creds.access_key, creds.secret_key, creds.token, region_name=self.region
                )
                self._clients[service] = session.client(service, endpoint_url=runtime, config=config)
            elif self.emulator is not None:
                self._clients[service] = self.emulator.client(service)
            else:
                self._clients[service] = self.session.client(service, config=config)
        return self._clients[service]

    def credentials(self) -> Any:
        if self.emulator is not None:
            from botocore.credentials import Credentials

            from tricloud.engine.emulator import ACCESS_KEY_ID, SECRET_ACCESS_KEY

            # run as a role (`tricloud emulate run-as`): its session signs; otherwise the learner's own keys, the
            # ones the local API gateway knows (as the curl example signs)
            signer = self.emulator.signer
            if signer is not None:
                return Credentials(signer.access_key_id, signer.secret_access_key, signer.session_token)
            return Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY)
        creds = self.session.get_credentials()
        if creds is None:
            raise InvalidArgs(
                "AWS credentials", None, "none found (aws configure, AWS_PROFILE or OIDC in CI)"
            )
        return creds.get_frozen_credentials()


class AwsDelivery:
    def __init__(
        self,
        ctx: Context,
        *,
        clients: AwsClients | None = None,
        deployer: EndpointDeployer | None = None,
        sleep: Callable[[float], None] = time.sleep,
        poll_seconds: float | None = None,
    ) -> None:
        self.ctx = ctx
        self.clients = clients or AwsClients(
            ctx.config.region, ctx.endpoint, runtime_url=self._runtime_url(ctx)
        )
        self.sleep = sleep
        self.poll_seconds = poll_seconds if poll_seconds is not None else (0.2 if ctx.offline else 15.0)
        self._deployer = deployer
        self.settings = ctx.config.delivery

    @staticmethod
    def _runtime_url(ctx: Context) -> str | None:
        """Offline, the serving process's runtime shim, unless AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME names one."""
        if not ctx.offline or os.environ.get("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"):
            return None
        from tricloud.emulate.canary import serving_process

        serving = serving_process(local_state_path("aws", ctx.stack))
        return str(serving.get("runtime_url") or "") or None if serving else None

    # --- plumbing ------------------------------------------------------------------------------------------------

    def sm(self) -> Any:
        client = self.clients.client("sagemaker")
        if self.ctx.offline and not getattr(client, "_tricloud_status", False):
            from tricloud.emulate.canary import emulated_status

            emulated_status(client, lambda: self.serving_process() is not None)
            client._tricloud_status = True
        return client

    def serving_process(self) -> dict[str, Any] | None:
        """Offline: the `tricloud emulate aws --serve` process that runs this stack's endpoint deployments (its
        runtime shim and gateway), when one is live; None in its own process or when none serves."""
        if not self.ctx.offline:
            return None
        from tricloud.emulate.canary import serving_process

        return serving_process(local_state_path("aws", self.ctx.stack))

    def local_api_url(self) -> str | None:
        """Offline: the local gateway of the serving process (what `tricloud emulate aws` prints)."""
        serving = self.serving_process()
        return str(serving.get("api_url") or "") or None if serving else None

    def s3(self) -> Any:
        return self.clients.client("s3")

    @property
    def deployer(self) -> EndpointDeployer:
        if self._deployer is None:
            if self.ctx.offline:
                state = os.environ.get(LOCAL_STATE_ENV)
                self._deployer = LocalEngineDeployer(
                    self.clients.emulator,
                    self.ctx.stack,
                    state_path=Path(state) if state else None,
                    report=self.ctx.report,
                    serving=self.serving_process,
                    wait=self.wait_in_service,
                )
            else:
                self._deployer = AutomationDeployer(
                    "aws", self.ctx.stack_ref or self.ctx.stack, report=self.ctx.report
                )
        return self._deployer

    def scratch(self) -> contextlib.AbstractContextManager[Path]:
        return flows.scratch_dir(self.ctx)

    def download(self, uri: str, dest: Path) -> Path:
        bucket, key = split_s3(uri)
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.s3().download_file(bucket, key, str(dest))
        return dest

    def download_prefix(
        self, uri: str, dest: Path, suffixes: tuple[str, ...] = (".csv", ".parquet"), *, s3: Any = None
    ) -> int:
        s3 = s3 or self.s3()
        bucket, prefix = split_s3(uri)
        count = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                rel = obj["Key"][len(prefix) :]
                if rel and rel.lower().endswith(suffixes):
                    target = dest / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    s3.download_file(bucket, obj["Key"], str(target))
                    count += 1
        return count

    # --- train ---------------------------------------------------------------------------------------------------

    def latest_training_data(self, input_uri: str) -> str:
        """The newest finished run of the Spark feature job under the curated zone (`listings/run-*/_SUCCESS`)."""
        bucket, base = split_s3(input_uri)
        prefix = base + CURATED_LISTINGS
        names = [
            obj["Key"]
            for page in self.s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for obj in page.get("Contents", [])
        ]
        return f"s3://{bucket}/{flows.newest_run(names, f's3://{bucket}/{prefix}')}"

    def image_digest(self, image_uri: str, tag: str | None = None) -> str:
        """`registry/repo@sha256:...` of the image the tag points at now (ECR DescribeImages)."""
        registry, repo, ref = split_image(image_uri)
        if ref.startswith("sha256:") and tag is None:
            return image_uri
        tag = tag or ref
        ecr = self.clients.client("ecr")
        try:
            found = ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": tag}])["imageDetails"]
        except ecr.exceptions.ImageNotFoundException:
            found = []
        if not found and self.ctx.offline:
            from tricloud.emulate import images

            images.publish(ecr, images.ImageStore(images.store_root(REPO_ROOT)), repo, tag, REPO_ROOT)
            self.ctx.report(
                f"offline: published the local app/ tree as {registry}/{repo}:{tag} in the emulated ECR"
            )
            found = ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": tag}])["imageDetails"]
        if not found:
            raise InvalidArgs(
                "training_image_uri",
                f"{registry}/{repo}:{tag}",
                "is not in ECR: build and push app/Dockerfile with this tag first (the deploy workflow does)",
            )
        return f"{registry}/{repo}@{found[0]['imageDigest']}"

    def train(self, image_tag: str | None = None) -> dict[str, Any]:
        ctx, training = self.ctx, self.ctx.config.training
        data_uri = self.latest_training_data(ctx.output("training_input_uri"))
        image = self.image_digest(ctx.output("training_image_uri"), image_tag)
        name = job_name(ctx.project, ctx.stack, ctx.git_commit)
        runtime = training.max_runtime_minutes * 60
        stopping: dict[str, int] = {"MaxRuntimeInSeconds": runtime}
        if training.use_spot:
            # Spot: the job may wait for capacity; the wait includes the run, so it is at least the runtime.
            stopping["MaxWaitTimeInSeconds"] = max(runtime, min(2 * runtime, MAX_SAGEMAKER_SECONDS))
        output: dict[str, str] = {"S3OutputPath": ctx.output("training_output_uri")}
        if ctx.outputs.get("encryption_key"):
            output["KmsKeyId"] = str(ctx.outputs["encryption_key"])  # the artifacts zone's key
        hps = {str(k): str(v) for k, v in sorted(training.hyperparameters.items())}
        self.sm().create_training_job(
            TrainingJobName=name,
            AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
            RoleArn=ctx.output("training_role"),
            HyperParameters=hps,
            InputDataConfig=[
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": data_uri,
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                }
            ],
            OutputDataConfig=output,
            # app.train is single-node; max_instances bounds the clusters of the other clouds.
            ResourceConfig={
                "InstanceType": ctx.output("training_instance_type"),
                "InstanceCount": 1,
                "VolumeSizeInGB": 10,
            },
            StoppingCondition=stopping,
            EnableManagedSpotTraining=training.use_spot,
            EnableNetworkIsolation=True,  # the job reads its channel and writes its model; it never calls out
            Tags=[
                {"Key": "git-commit", "Value": ctx.git_commit},
                {"Key": "stack", "Value": ctx.stack},
            ],
        )
        ctx.report(
            f"training job {name}: {ctx.output('training_instance_type')}, spot={training.use_spot}, "
            f"max {training.max_runtime_minutes} min, {len(hps)} hyperparameters, image {image}"
        )
        started = time.monotonic()
        if ctx.offline:
            self._train_locally(name)
        desc = self.wait_training(name, timeout_s=stopping.get("MaxWaitTimeInSeconds", runtime) + 900)
        return {
            "job_name": name,
            "artifact": desc["ModelArtifacts"]["S3ModelArtifacts"],
            "image": image,
            "training_data_uri": data_uri,
            "status": desc["TrainingJobStatus"],
            "spot": training.use_spot,
            "max_runtime_seconds": runtime,
            "hyperparameters": hps,
            "seconds": round(time.monotonic() - started, 2),
        }

    def wait_training(self, name: str, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        seen = ""
        while True:
            desc = self.sm().describe_training_job(TrainingJobName=name)
            status, secondary = desc["TrainingJobStatus"], desc.get("SecondaryStatus", "")
            if f"{status}/{secondary}" != seen:
                seen = f"{status}/{secondary}"
                self.ctx.report(f"{name}: {status} ({secondary})")
            if status == "Completed":
                return desc
            if status in ("Failed", "Stopped"):
                raise DeliveryError(
                    f"training job {name} {status.lower()}: {desc.get('FailureReason') or 'no reason given'}"
                )
            if time.monotonic() > deadline:
                raise DeliveryError(f"training job {name} still {status} after {timeout_s:.0f} s")
            self.sleep(self.poll_seconds)

    def _train_locally(self, name: str) -> None:
        """Offline: app.train under the SageMaker contract (/opt/ml layout in a temporary root) with the job
        record's channel and hyperparameters, the artifact uploaded where the record says SageMaker put it."""
        desc = self.sm().describe_training_job(TrainingJobName=name)
        data_uri = desc["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
        hps = desc.get("HyperParameters") or {}
        # SageMaker reads the channel and writes the artifact as the job's role, not as the caller.
        emu = self.clients.emulator
        role = emu.assume_role(desc["RoleArn"], {"Service": "sagemaker.amazonaws.com"}, session_name=name)
        s3 = emu.session_client("s3", role)
        with self.scratch() as root:
            channel = root / "input" / "data" / "train"
            if not self.download_prefix(data_uri, channel, (".parquet",), s3=s3):
                raise DeliveryError(f"training job {name}: no Parquet under {data_uri}")
            (root / "input" / "config").mkdir(parents=True)
            (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hps))
            (root / "output" / "data").mkdir(parents=True)
            from tricloud.emulate.platform import WORKLOAD_THREADS

            env = {
                **os.environ,
                "TRICLOUD_SM_ROOT": str(root),
                **self.clients.emulator.env(),
                **WORKLOAD_THREADS,
            }
            for var in ("SM_HPS", "SM_CHANNEL_TRAIN", "SM_MODEL_DIR", "SM_OUTPUT_DATA_DIR"):
                env.pop(var, None)
            proc = subprocess.run(
                [sys.executable, "-m", "app.train"],
                cwd=REPO_ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=self.ctx.config.training.max_runtime_minutes * 60,
            )
            if proc.returncode != 0:
                raise DeliveryError(
                    f"training job {name} failed (app.train exit {proc.returncode}): {proc.stderr[-800:]}"
                )
            bucket, key = split_s3(desc["ModelArtifacts"]["S3ModelArtifacts"])
            s3.put_object(Bucket=bucket, Key=key, Body=evaluate.pack(root / "model"))

    # --- registry ------------------------------------------------------------------------------------------------

    def group(self) -> str:
        return self.ctx.output("model_registry")

    def versions(self) -> list[ModelVersion]:
        arns: list[str] = []
        for page in (
            self.sm().get_paginator("list_model_packages").paginate(ModelPackageGroupName=self.group())
        ):
            arns += [p["ModelPackageArn"] for p in page["ModelPackageSummaryList"]]
        found = [self.describe(arn) for arn in arns]
        return sorted(found, key=lambda v: int(v.number))

    def describe(self, arn: str) -> ModelVersion:
        d = self.sm().describe_model_package(ModelPackageName=arn)
        meta = d.get("CustomerMetadataProperties") or {}
        container = (d.get("InferenceSpecification") or {}).get("Containers", [{}])[0]
        return ModelVersion(
            version=d["ModelPackageArn"],
            number=str(d.get("ModelPackageVersion", "")),
            status=STATUS.get(d.get("ModelApprovalStatus", ""), PENDING),
            native_status=d.get("ModelApprovalStatus", ""),
            artifact_uri=container.get("ModelDataUrl", ""),
            artifact_sha256=meta.get("artifact_sha256", ""),
            image=container.get("Image", ""),
            label=meta.get("model_version", ""),
            metrics={k.removeprefix("metric."): float(v) for k, v in meta.items() if k.startswith("metric.")},
            training_data_uri=meta.get("training_data_uri", ""),
            training_data_sha256=meta.get("training_data_sha256", ""),
            git_commit=meta.get("git_commit", ""),
            training_job=meta.get("training_job", ""),
            decision={k.removeprefix("decision."): v for k, v in meta.items() if k.startswith("decision.")},
        )

    def find(self, version: str | None, *, status: str | None = None) -> ModelVersion:
        return flows.find_version(self.versions(), version, status, self.group())

    def register(self, job: str | None = None, artifact: str | None = None) -> ModelVersion:
        ctx = self.ctx
        flows.one_source(job, artifact)
        data_uri, tags_commit, job_arn = "", ctx.git_commit, ""
        if job is not None:
            desc = self.sm().describe_training_job(TrainingJobName=job)
            if desc["TrainingJobStatus"] != "Completed":
                raise InvalidArgs(
                    "--job", job, f"is {desc['TrainingJobStatus']}: only a completed job is registered"
                )
            artifact = desc["ModelArtifacts"]["S3ModelArtifacts"]
            image = desc["AlgorithmSpecification"]["TrainingImage"]
            data_uri = desc["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
            job_arn = desc["TrainingJobArn"]
            tags = self.sm().list_tags(ResourceArn=job_arn).get("Tags", [])
            tags_commit = next((t["Value"] for t in tags if t["Key"] == "git-commit"), tags_commit)
            if "@sha256:" not in image:
                image = self.image_digest(image)
        else:
            image = self.image_digest(ctx.output("training_image_uri"))
        assert artifact is not None
        with self.scratch() as tmp:
            local = self.download(artifact, tmp / "model.tar.gz")
            sha = evaluate.sha256_file(local)
            metadata, metrics = evaluate.read_artifact(evaluate.unpack(local, tmp / "model"))
            existing = [v for v in self.versions() if v.artifact_sha256 == sha]
            if existing:
                ctx.report(
                    f"artifact sha256 {sha[:12]} is already version {existing[0].number}: nothing registered"
                )
                return existing[0]
            pinned = f"{ctx.output('training_output_uri').rstrip('/')}/{PINNED_PREFIX}{sha}/model.tar.gz"
            src_bucket, src_key = split_s3(artifact)
            bucket, key = split_s3(pinned)
            self.s3().copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": src_bucket, "Key": src_key})
            metrics_key = key.rsplit("/", 1)[0] + "/metrics.json"
            self.s3().put_object(
                Bucket=bucket,
                Key=metrics_key,
                Body=json.dumps(metrics).encode(),
                ContentType="application/json",
            )
        meta = flows.version_properties(sha, metadata, metrics, data_uri, tags_commit, job)
        arn = self.sm().create_model_package(
            ModelPackageGroupName=self.group(),
            ModelPackageDescription=f"model {meta['model_version']} from {job or artifact}"[:1000],
            InferenceSpecification={
                "Containers": [{"Image": image, "ModelDataUrl": pinned}],
                "SupportedContentTypes": ["application/json", "text/csv"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            ModelApprovalStatus="PendingManualApproval",
            ModelMetrics={
                "ModelQuality": {
                    "Statistics": {"ContentType": "application/json", "S3Uri": f"s3://{bucket}/{metrics_key}"}
                }
            },
            MetadataProperties={
                "CommitId": tags_commit[:1024],
                **({"GeneratedBy": job_arn} if job_arn else {}),
            },
            CustomerMetadataProperties={k: v for k, v in meta.items() if v},  # SageMaker refuses empty values
        )["ModelPackageArn"]
        return self.describe(arn)

    # --- approve -------------------------------------------------------------------------------------------------

    def holdout_uri(self) -> str:
        return flows.holdout_uri(self.ctx)

    def approve(self, version: str | None = None) -> dict[str, Any]:
        current = self.read_record(serving.SERVING)
        return flows.approve(self, version, current.version if current else None)

    def fetch_artifact(self, v: ModelVersion, dest: Path) -> Path:
        local = self.download(v.artifact_uri, dest / "model.tar.gz")
        got = evaluate.sha256_file(local)
        if got != v.artifact_sha256:
            raise ValueError(f"artifact sha256 {got} is not the registered {v.artifact_sha256}")
        return evaluate.unpack(local, dest / "model")

    def store_decision(self, v: ModelVersion, approved: bool, summary: str, record: dict[str, Any]) -> None:
        current = (
            self.sm().describe_model_package(ModelPackageName=v.version).get("CustomerMetadataProperties")
            or {}
        )
        flat = {
            "decision.approved": str(approved).lower(),
            "decision.champion_version": str(record.get("champion_version") or "none"),
            **{f"decision.holdout.{k}": str(val)[:256] for k, val in record["holdout"].items()},
            **{f"decision.floors.{k}": f"{val:g}" for k, val in record["floors"].items()},
            **{
                f"decision.{role}.{k}": f"{val:.6g}"
                for role in ("challenger", "champion")
                for k, val in (record.get(role) or {}).items()
            },
        }
        self.sm().update_model_package(
            ModelPackageArn=v.version,
            ModelApprovalStatus="Approved" if approved else "Rejected",
            ApprovalDescription=summary[:1024],
            # Merged with what is there: AWS adds keys, moto replaces the whole map; both keep everything this way.
            CustomerMetadataProperties={k: v for k, v in {**current, **flat}.items() if v},
        )

    def mark_refused(self, v: ModelVersion, summary: str) -> None:
        """A version the canary refused is rejected in the registry, so no later rollout picks it again."""
        self.sm().update_model_package(
            ModelPackageArn=v.version, ModelApprovalStatus="Rejected", ApprovalDescription=summary[:1024]
        )

    # --- serving record ------------------------------------------------------------------------------------------

    def read_record(self, which: str) -> ServingModel | None:
        name = serving.parameter_name(self.ctx.project, self.ctx.stack, which)
        ssm = self.clients.client("ssm")
        try:
            value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            return None
        return ServingModel.from_json(value, name)

    def write_record(self, which: str, record: ServingModel | None) -> None:
        name = serving.parameter_name(self.ctx.project, self.ctx.stack, which)
        ssm = self.clients.client("ssm")
        if record is None:
            with contextlib.suppress(ssm.exceptions.ParameterNotFound):
                ssm.delete_parameter(Name=name)
            return
        ssm.put_parameter(
            Name=name,
            Value=record.to_json(),
            Type="String",  # versions, URIs and digests: nothing secret, and the stack reads it without KMS
            Overwrite=True,
            Tier="Standard",
            Description=f"tricloud model {which} record of {self.ctx.project}/{self.ctx.stack}",
        )

    def record_of(self, v: ModelVersion) -> ServingModel:
        return ServingModel(
            version=v.version,
            model_data_uri=v.artifact_uri,
            model_sha256=v.artifact_sha256,
            image=v.image,
            label=v.label,
        )

    def endpoint_model(self) -> dict[str, Any]:
        """What the endpoint serves now: status, configuration, image and artifact of its (first) variant."""
        name = self.ctx.output("endpoint_name")
        ep = self.sm().describe_endpoint(EndpointName=name)
        cfg = self.sm().describe_endpoint_config(EndpointConfigName=ep["EndpointConfigName"])
        model = self.sm().describe_model(ModelName=cfg["ProductionVariants"][0]["ModelName"])
        container = model.get("PrimaryContainer", {})
        return {
            "endpoint": name,
            "status": ep["EndpointStatus"],
            "config": ep["EndpointConfigName"],
            "image": container.get("Image"),
            "model_data_uri": container.get("ModelDataUrl"),
            "failure_reason": ep.get("FailureReason"),
        }

    def alarms_in_alarm(self) -> list[str]:
        name = self.ctx.output("endpoint_name")
        cw = self.clients.client("cloudwatch")
        alarms = cw.describe_alarms(AlarmNamePrefix=name)["MetricAlarms"]
        return sorted(a["AlarmName"] for a in alarms if a.get("StateValue") == "ALARM")

    # --- rollout / rollback --------------------------------------------------------------------------------------

    def _pinned_by_config(self) -> None:
        endpoint = self.ctx.config.endpoint
        for key in ("model_data_uri", "image_uri"):
            if getattr(endpoint, key):
                raise InvalidArgs(
                    f"tricloud:endpoint.{key}",
                    getattr(endpoint, key),
                    "pins the served model in the stack config; remove it so rollouts manage the serving version",
                )

    def verify_artifact(self, record: ServingModel) -> None:
        with self.scratch() as tmp:
            got = evaluate.sha256_file(self.download(record.model_data_uri, tmp / "model.tar.gz"))
        if got != record.model_sha256:
            raise GateRefused(
                f"integrity: {record.model_data_uri} has sha256 {got}, the registry recorded {record.model_sha256}",
                {"expected_sha256": record.model_sha256, "actual_sha256": got},
            )

    def _traffic_rows(self) -> list[dict[str, Any]]:
        with self.scratch() as tmp:
            try:
                self.download_prefix(self.holdout_uri(), tmp / "holdout", (".csv",))
            except Exception as exc:  # no held-out CSV: the generator's listings still exercise the endpoint
                self.ctx.report(
                    f"held-out rows unavailable ({type(exc).__name__}); sending generated listings"
                )
            return holdout_requests(tmp / "holdout")

    def _send(self, rows: list[dict[str, Any]]) -> str:
        resp = self.clients.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=self.ctx.output("endpoint_name"),
            ContentType="application/json",
            Accept="application/json",
            Body=json.dumps({"instances": rows}).encode(),
        )
        resp["Body"].read()
        return str(resp.get("InvokedProductionVariant", ""))

    def _switch(
        self, record: ServingModel | None, previous: ServingModel | None, reason: str
    ) -> dict[str, Any]:
        """Write the records, apply the endpoint change while real traffic runs, say whether it took."""
        self.write_record(serving.PREVIOUS, previous)
        self.write_record(serving.SERVING, record)
        rate: float = self.settings.bake_requests_per_second
        compressed = getattr(self.deployer, "traffic_rate", None)  # offline: the bake runs in emulated time
        if compressed is not None:
            rate = compressed(rate)
        traffic = Traffic(self._send, self._traffic_rows(), rate).start()
        stop = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(stop,), name="endpoint-watch", daemon=True)
        watcher.start()
        try:
            outcome = self.deployer.apply(reason)
            # The update may still run server-side (SageMaker, or offline a serving process): wait as for SageMaker.
            served = self.wait_in_service()
        finally:
            stats = traffic.stop()
            stop.set()
            watcher.join(timeout=30)
        took = (
            outcome.ok
            and record is not None
            and served["status"] == "InService"
            and served["image"] == record.image
            and served["model_data_uri"] == record.model_data_uri
        )
        return {"took": took, "outcome": outcome.summary, "served": served, "traffic": stats.numbers()}

    def wait_in_service(self, timeout_s: float | None = None) -> dict[str, Any]:
        """Poll DescribeEndpoint until the endpoint is out of its transitional states (Updating during a blue/green
        deployment); what it serves then. Bounded: the canary wait and termination wait with room to spare."""
        endpoint = self.ctx.config.endpoint
        if timeout_s is None:
            waits = (
                60.0 * (endpoint.canary_wait_minutes + 5) + 900
            )  # + fleet start-up and the rollback itself
            timeout_s = waits if not self.ctx.offline else min(waits, 900.0)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                served = self.endpoint_model()
            except ClientError:  # offline, between the UpdateEndpoint stand-in's delete and create
                served = {"status": "Updating"}
            if served["status"] not in TRANSITIONAL:
                return served
            if time.monotonic() > deadline:
                raise DeliveryError(
                    f"endpoint {self.ctx.output('endpoint_name')} still {served['status']} after {timeout_s:.0f} s"
                )
            self.sleep(self.poll_seconds)

    def _watch(self, stop: threading.Event) -> None:
        """Report the endpoint's status while the update runs (Updating during the canary, the rollback reason)."""
        seen = ""
        while not stop.wait(self.poll_seconds):
            try:
                ep = self.sm().describe_endpoint(EndpointName=self.ctx.output("endpoint_name"))
            except Exception as exc:  # a watcher never fails the rollout
                now = f"unreadable ({type(exc).__name__})"
            else:
                now = ep["EndpointStatus"] + (f": {ep['FailureReason']}" if ep.get("FailureReason") else "")
            if now != seen:
                seen = now
                self.ctx.report(f"endpoint {now}")

    def rollout(self, version: str | None = None) -> dict[str, Any]:
        self._pinned_by_config()
        target = flows.rollout_target(self, version)
        record = self.record_of(target)
        current = self.read_record(serving.SERVING)
        before = self.read_record(serving.PREVIOUS)
        if current is not None and current.version == record.version:
            served = self.endpoint_model()
            self.ctx.report(f"version {target.number} is already the serving version ({served['status']})")
            return {"version": target.number, "label": target.label, "changed": False, "served": served}
        self.verify_artifact(record)
        self.ctx.report(
            f"rolling out version {target.number} ({target.label}) over {current.label if current else 'the bootstrap model'}"
        )
        result = self._switch(record, current, f"roll out model version {target.number} ({target.label})")
        if result["took"]:
            return {"version": target.number, "label": target.label, "changed": True, **result}
        # Rolled back (alarms fired) or failed: the previous version is the truth again, and the stack follows it.
        alarms = self.alarms_in_alarm()
        self.write_record(serving.SERVING, current)
        self.write_record(serving.PREVIOUS, before)
        reconcile = self.deployer.apply(f"reconcile after the refused rollout of version {target.number}")
        self.wait_in_service()
        reason = result["served"].get("failure_reason") or result["outcome"]
        summary = f"canary of version {target.number} rolled back: {reason}" + (
            f" (alarms in ALARM: {', '.join(alarms)})" if alarms else ""
        )
        self.mark_refused(target, summary)
        raise GateRefused(
            summary,
            {
                "version": target.number,
                "alarms": alarms,
                "reconcile": reconcile.summary,
                "serving": current.version if current else "bootstrap",
                **result,
            },
        )

    def rollback(self) -> dict[str, Any]:
        self._pinned_by_config()
        current = self.read_record(serving.SERVING)
        previous = self.read_record(serving.PREVIOUS)
        if previous is None:
            older = [
                v
                for v in self.versions()
                if v.status == APPROVED and (current is None or v.version != current.version)
            ]
            if not older:
                raise InvalidArgs(
                    "rollback", None, "no previous serving record and no other approved version"
                )
            previous = self.record_of(older[-1])
        self.ctx.report(f"rolling back from {current.label if current else 'bootstrap'} to {previous.label}")
        result = self._switch(previous, current, f"roll back to {previous.label}")
        if not result["took"]:
            raise DeliveryError(f"rollback to {previous.label} did not take: {result['outcome']}")
        return {"serving": previous.version, "label": previous.label, **result}

    # --- status --------------------------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        current = self.read_record(serving.SERVING)
        previous = self.read_record(serving.PREVIOUS)
        versions = self.versions()
        try:
            served = self.endpoint_model()
        except Exception as exc:  # status must answer even while the endpoint is missing
            served = {"error": f"{type(exc).__name__}: {exc}"}
        approved = [v.number for v in versions if v.status == APPROVED]
        return {
            "serving": current.__dict__ if current else None,
            "previous": previous.__dict__ if previous else None,
            "endpoint": served,
            "in_canary": served.get("status") == "Updating",
            "latest_approved": approved[-1] if approved else None,
            "versions": flows.version_rows(versions),
        }

    def expected_label(self) -> str | None:
        record = self.read_record(serving.SERVING)
        return record.label if record else None

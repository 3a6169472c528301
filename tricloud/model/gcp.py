"""Model delivery on Vertex AI with `google-cloud-aiplatform` (the v1 API clients) and Cloud Storage.

Custom jobs with the stack's settings (machine type, spot strategy, timeout, hyperparameters as `--hp`), versions
of one Vertex Model Registry entry (`model_registry`; the first `register` creates it with that id), and the
endpoint's traffic split as the truth about what serves: a rollout deploys the approved version next to the serving
one with `canary_percent` of the traffic, sends held-out listings through the endpoint for `canary_wait_minutes`,
judges the answers of the canary with the Observability thresholds, then moves all traffic and undeploys the old
model (Vertex bills every deployed replica), or moves the traffic back and undeploys the canary.
Verified offline only against a faked HTTP layer and a GCS emulator (tests/model/test_gcp_delivery.py).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.serve.contracts import VERTEX
from components.errors import InvalidArgs
from tricloud.model import flows
from tricloud.model.aws import job_name
from tricloud.model.base import APPROVED, PENDING, REJECTED, Context, ModelVersion
from tricloud.model.managed import ManagedEndpoint

# app.container's command line in the image: `serve` on the Vertex contract (AIP_HTTP_PORT, AIP_*_ROUTE)
SERVING_ARGS = ["serve", "--contract", VERTEX.name]


def split_gs(uri: str) -> tuple[str, str]:
    if not uri.startswith("gs://"):
        raise InvalidArgs("uri", uri, "must be a gs:// URI")
    bucket, _, key = uri.removeprefix("gs://").partition("/")
    return bucket, key


def serving_container(v1: Any, image: str) -> Any:
    """The Vertex model's container: the image's entry point on the routes and port of app.serve's contract."""
    return v1.ModelContainerSpec(
        image_uri=image,
        args=SERVING_ARGS,
        predict_route=VERTEX.predict_route,
        health_route=VERTEX.health_route,
        ports=[v1.Port(container_port=VERTEX.port)],
    )


class GcpDelivery(ManagedEndpoint):
    def __init__(
        self,
        ctx: Context,
        *,
        credentials: Any = None,
        adapter: Any = None,
        storage_client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        bake_seconds: float | None = None,
    ) -> None:
        self.ctx, self.settings = ctx, ctx.config.delivery
        registry = ctx.output("model_registry")
        parts = registry.split("/")
        if len(parts) != 6 or parts[0] != "projects" or parts[2] != "locations" or parts[4] != "models":
            raise InvalidArgs(
                "outputs.model_registry", registry, "is not projects/<p>/locations/<r>/models/<id>"
            )
        self.registry, self.project, self.region, self.model_id = registry, parts[1], parts[3], parts[5]
        self.parent = f"projects/{self.project}/locations/{self.region}"
        self.endpoint_path = f"{self.parent}/endpoints/{ctx.output('endpoint_name')}"
        self._credentials, self._adapter, self._storage = credentials, adapter, storage_client
        self._clients: dict[str, Any] = {}
        self.sleep = sleep
        self.bake_seconds = (
            bake_seconds if bake_seconds is not None else ctx.config.endpoint.canary_wait_minutes * 60
        )

    # --- clients -------------------------------------------------------------------------------------------------

    def client(self, kind: str) -> Any:
        """Vertex v1 clients on the regional endpoint over REST (the same transport in the cloud and in tests)."""
        if kind not in self._clients:
            from google.cloud import aiplatform_v1 as v1

            cls = {
                "jobs": v1.JobServiceClient,
                "models": v1.ModelServiceClient,
                "endpoints": v1.EndpointServiceClient,
                "predict": v1.PredictionServiceClient,
            }[kind]
            c = cls(
                credentials=self._credentials,  # None: Application Default Credentials (OIDC in CI)
                transport="rest",
                client_options={"api_endpoint": f"{self.region}-aiplatform.googleapis.com"},
            )
            if self._adapter is not None:  # tests: a faked HTTP layer under the real REST transport
                c._transport._session.mount("https://", self._adapter)
            self._clients[kind] = c
        return self._clients[kind]

    def gcs(self) -> Any:
        if self._storage is None:
            from google.cloud import storage

            self._storage = storage.Client(project=self.project, credentials=self._credentials)
        return self._storage

    def scratch(self) -> contextlib.AbstractContextManager[Path]:
        return flows.scratch_dir(self.ctx)

    # --- storage -------------------------------------------------------------------------------------------------

    def names(self, uri: str) -> tuple[str, str, list[str]]:
        bucket, prefix = split_gs(uri)
        return bucket, prefix, [b.name for b in self.gcs().list_blobs(bucket, prefix=prefix or None)]

    def download_prefix(self, uri: str, dest: Path, suffixes: tuple[str, ...] = (".csv", ".parquet")) -> int:
        bucket, prefix, names = self.names(uri)
        count = 0
        for name in names:
            rel = name[len(prefix) :].lstrip("/")
            if rel and rel.lower().endswith(suffixes):
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                self.gcs().bucket(bucket).blob(name).download_to_filename(str(target))
                count += 1
        return count

    def latest_training_data(self, input_uri: str) -> str:
        base = input_uri.rstrip("/") + "/listings/"
        bucket, _, names = self.names(base)
        return f"gs://{bucket}/{flows.newest_run(names, base)}"

    # --- train ---------------------------------------------------------------------------------------------------

    def train(self, image_tag: str | None = None) -> dict[str, Any]:
        from google.cloud import aiplatform_v1 as v1
        from google.protobuf import duration_pb2

        ctx, training = self.ctx, self.ctx.config.training
        data_uri = self.latest_training_data(ctx.output("training_input_uri"))
        name = job_name(ctx.project, ctx.stack, ctx.git_commit)
        base = f"{ctx.output('training_output_uri').rstrip('/')}/{name}/"
        image = flows.image_ref(ctx.output("training_image_uri"), image_tag)
        hps = [a for k, v in sorted(training.hyperparameters.items()) for a in ("--hp", f"{k}={v}")]
        job = v1.CustomJob(
            display_name=name,
            labels={"stack": ctx.stack, "git-commit": ctx.git_commit[:63].lower()},
            job_spec=v1.CustomJobSpec(
                worker_pool_specs=[
                    v1.WorkerPoolSpec(
                        machine_spec=v1.MachineSpec(machine_type=ctx.output("training_instance_type")),
                        replica_count=1,  # app.train is single-node
                        container_spec=v1.ContainerSpec(
                            image_uri=image,
                            args=["train", "--train-data", data_uri, *hps],
                        ),
                    )
                ],
                # Vertex sets AIP_MODEL_DIR to <base>/model/: app.train writes the artifact there.
                base_output_directory=v1.GcsDestination(output_uri_prefix=base),
                service_account=ctx.output("training_role"),
                scheduling=v1.Scheduling(
                    timeout=duration_pb2.Duration(seconds=training.max_runtime_minutes * 60),
                    strategy=v1.Scheduling.Strategy.SPOT
                    if training.use_spot
                    else v1.Scheduling.Strategy.STANDARD,
                ),
            ),
        )
        created = self.client("jobs").create_custom_job(parent=self.parent, custom_job=job)
        ctx.report(
            f"custom job {created.name}: {ctx.output('training_instance_type')}, spot={training.use_spot}"
        )
        started = time.monotonic()

        def poll() -> tuple[str, str]:
            got = self.client("jobs").get_custom_job(name=created.name)
            return got.state.name, got.error.message

        state = flows.wait_for(
            poll,
            what=f"Vertex custom job {created.name}",
            done="JOB_STATE_SUCCEEDED",
            failed=("JOB_STATE_FAILED", "JOB_STATE_CANCELLED"),
            timeout_s=training.max_runtime_minutes * 60 + 1800,
            ctx=ctx,
            sleep=self.sleep,
        )
        return flows.train_result(
            ctx,
            name=name,
            artifact=f"{base}model/",
            image=image,
            data_uri=data_uri,
            status=state,
            started=started,
            job=created.name,
        )

    def custom_job(self, job: str) -> Any:
        """A custom job by resource name or by the display name `train` printed."""
        if job.startswith("projects/"):
            return self.client("jobs").get_custom_job(name=job)
        from google.cloud import aiplatform_v1 as v1

        request = v1.ListCustomJobsRequest(parent=self.parent, filter=f'display_name="{job}"')
        found = list(self.client("jobs").list_custom_jobs(request=request))
        if len(found) != 1:
            raise InvalidArgs(
                "--job", job, f"matches {len(found)} custom jobs in {self.parent}; give the resource name"
            )
        return found[0]

    # --- registry: versions of one Vertex model; our record is the version description (JSON) ---------------------

    def as_version(self, m: Any) -> ModelVersion:
        try:
            info = json.loads(m.version_description or "{}")
        except json.JSONDecodeError:
            info = {}
        labels = dict(m.labels)
        return ModelVersion(
            version=f"{self.registry}@{m.version_id}",
            number=str(m.version_id),
            status=labels.get("approval", PENDING),
            native_status=labels.get("approval", ""),
            artifact_uri=m.artifact_uri,
            artifact_sha256=info.get("artifact_sha256", ""),
            image=m.container_spec.image_uri,
            label=info.get("model_version", ""),
            metrics={k.removeprefix("metric."): float(v) for k, v in info.items() if k.startswith("metric.")},
            training_data_uri=info.get("training_data_uri", ""),
            training_data_sha256=info.get("training_data_sha256", ""),
            git_commit=info.get("git_commit", ""),
            training_job=info.get("training_job", ""),
            decision=info.get("decision", {}),
        )

    def versions(self) -> list[ModelVersion]:
        from google.api_core import exceptions

        try:
            found = list(self.client("models").list_model_versions(name=self.registry))
        except exceptions.NotFound:
            return []  # nothing registered yet
        return sorted((self.as_version(m) for m in found), key=lambda v: int(v.number))

    def find(self, version: str | None, *, status: str | None = None) -> ModelVersion:
        return flows.find_version(self.versions(), version, status, self.registry)

    def register(self, job: str | None = None, artifact: str | None = None) -> ModelVersion:
        from google.cloud import aiplatform_v1 as v1

        flows.one_source(job, artifact)
        image, data_uri, commit = self.ctx.output("training_image_uri"), "", self.ctx.git_commit
        if job is not None:
            j = self.custom_job(job)
            if j.state.name != "JOB_STATE_SUCCEEDED":
                raise InvalidArgs("--job", job, f"is {j.state.name}: only a succeeded job is registered")
            spec = j.job_spec
            artifact = spec.base_output_directory.output_uri_prefix.rstrip("/") + "/model/"
            container = spec.worker_pool_specs[0].container_spec
            image = container.image_uri
            args = list(container.args)
            data_uri = args[args.index("--train-data") + 1] if "--train-data" in args else ""
            commit = dict(j.labels).get("git-commit", commit)
        assert artifact is not None
        with self.scratch() as tmp:
            sha, metadata, metrics = flows.folder_artifact(self, artifact, tmp / "model")
        existing = flows.registered(self, sha)
        if existing:
            return existing
        info = flows.version_properties(sha, metadata, metrics, data_uri, commit, job)
        first = not self.versions()
        request = v1.UploadModelRequest(
            parent=self.parent,
            model=v1.Model(
                display_name=self.model_id,
                artifact_uri=artifact,
                version_description=json.dumps(info, sort_keys=True),
                labels={"approval": PENDING, "stack": self.ctx.stack},
                container_spec=serving_container(v1, image),
            ),
            **({"model_id": self.model_id} if first else {"parent_model": self.registry}),
        )
        result = self.client("models").upload_model(request=request).result(timeout=1800)
        return self.as_version(
            self.client("models").get_model(name=f"{result.model}@{result.model_version_id}")
        )

    def holdout_uri(self) -> str:
        return flows.holdout_uri(self.ctx)

    def fetch_artifact(self, v: ModelVersion, dest: Path) -> Path:
        return flows.fetch_folder(self, v, v.artifact_uri, dest)

    def approve(self, version: str | None = None) -> dict[str, Any]:
        current = self.serving()
        return flows.approve(self, version, current["version"] if current else None)

    def _update(self, v: ModelVersion, approval: str, decision: dict[str, Any], summary: str) -> None:
        from google.cloud import aiplatform_v1 as v1
        from google.protobuf import field_mask_pb2

        m = self.client("models").get_model(name=v.version)
        info = json.loads(m.version_description or "{}")
        info["decision"] = {**info.get("decision", {}), **decision, "summary": summary[:500]}
        labels = {**dict(m.labels), "approval": approval}
        self.client("models").update_model(
            request=v1.UpdateModelRequest(
                model=v1.Model(
                    name=v.version, labels=labels, version_description=json.dumps(info, sort_keys=True)
                ),
                update_mask=field_mask_pb2.FieldMask(paths=["labels", "version_description"]),
            )
        )

    def store_decision(self, v: ModelVersion, approved: bool, summary: str, record: dict[str, Any]) -> None:
        keep = {
            k: record[k]
            for k in ("approved", "challenger", "champion", "champion_version", "holdout", "floors")
        }
        self._update(v, APPROVED if approved else REJECTED, keep, summary)

    def mark_refused(self, v: ModelVersion, summary: str) -> None:
        self._update(v, REJECTED, {"canary": summary[:300]}, summary)

    # --- serving: the endpoint's deployed models and traffic split ----------------------------------------------

    def endpoint(self) -> Any:
        return self.client("endpoints").get_endpoint(name=self.endpoint_path)

    def serving(self) -> dict[str, Any] | None:
        ep = self.endpoint()
        split = dict(ep.traffic_split)
        if not split or max(split.values()) == 0:
            return None
        deployed_id = max(split, key=lambda k: split[k])
        dm = next((d for d in ep.deployed_models if d.id == deployed_id), None)
        if dm is None:
            return None
        return {
            "deployed_model_id": deployed_id,
            "version": f"{dm.model}@{dm.model_version_id}",
            "number": str(dm.model_version_id),
        }

    def _resources(self) -> Any:
        from google.cloud import aiplatform_v1 as v1

        from components.model_endpoint.gcp import DEFAULT_INSTANCE_MACHINE, SERVERLESS_MACHINE
        from components.model_endpoint.spec import EndpointMode

        e = self.ctx.config.endpoint
        serverless = e.mode is EndpointMode.SERVERLESS
        return v1.DedicatedResources(
            machine_spec=v1.MachineSpec(
                machine_type=SERVERLESS_MACHINE
                if serverless
                else (e.instance_type or DEFAULT_INSTANCE_MACHINE)
            ),
            min_replica_count=1 if serverless else e.min_instances,
            max_replica_count=e.serverless_max_concurrency if serverless else e.max_instances,
        )

    def set_traffic(self, split: dict[str, int]) -> None:
        from google.cloud import aiplatform_v1 as v1
        from google.protobuf import field_mask_pb2

        self.client("endpoints").update_endpoint(
            request=v1.UpdateEndpointRequest(
                endpoint=v1.Endpoint(name=self.endpoint_path, traffic_split=split),
                update_mask=field_mask_pb2.FieldMask(paths=["traffic_split"]),
            )
        )
        self.ctx.report(f"traffic split {split}")

    def undeploy(self, deployed_model_id: str) -> None:
        self.client("endpoints").undeploy_model(
            endpoint=self.endpoint_path, deployed_model_id=deployed_model_id
        ).result(timeout=1800)

    def _send(self, rows: list[dict[str, Any]]) -> str:
        from google.protobuf import json_format, struct_pb2

        instances = [json_format.ParseDict(r, struct_pb2.Value()) for r in rows]
        return str(
            self.client("predict").predict(endpoint=self.endpoint_path, instances=instances).deployed_model_id
        )

    def _switch(self, target: ModelVersion, reason: str) -> dict[str, Any]:
        from google.cloud import aiplatform_v1 as v1

        current = self.serving()
        canary = self.ctx.config.endpoint.canary_percent
        split = {"0": canary, current["deployed_model_id"]: 100 - canary} if current else {"0": 100}
        self.ctx.report(f"{reason}: deploying version {target.number} with {split}")
        deployed = (
            self.client("endpoints")
            .deploy_model(
                endpoint=self.endpoint_path,
                deployed_model=v1.DeployedModel(
                    model=target.version,
                    display_name=f"v{target.number}",
                    dedicated_resources=self._resources(),
                ),
                traffic_split=split,
            )
            .result(timeout=3600)
            .deployed_model
        )
        stats = self.bake(self._send)
        problems = self.judge(stats, stats.answers.get(deployed.id, 0))
        if problems:
            if current:
                self.set_traffic({current["deployed_model_id"]: 100})
            self.undeploy(deployed.id)
            raise self.refuse(target, problems, stats, serving=current)
        if current:
            self.set_traffic({deployed.id: 100})
            self.undeploy(current["deployed_model_id"])  # every deployed model bills its replicas
        return {
            "version": target.number,
            "label": target.label,
            "deployed_model_id": deployed.id,
            "changed": True,
            "took": True,
            "traffic": stats.numbers(),
            "previous": current,
        }

    def rollback(self) -> dict[str, Any]:
        current = self.serving()
        older = self.other_approved(current)
        if not older:
            raise InvalidArgs("rollback", None, "no other approved version to roll back to")
        return self._switch(older[-1], f"roll back to version {older[-1].number}")

    def status(self) -> dict[str, Any]:
        ep = self.endpoint()
        versions = self.versions()
        approved = [v.number for v in versions if v.status == APPROVED]
        split = dict(ep.traffic_split)
        return {
            "serving": self.serving(),
            "endpoint": {
                "name": ep.name,
                "traffic_split": split,
                "deployed": {d.id: f"{d.model}@{d.model_version_id}" for d in ep.deployed_models},
            },
            "in_canary": sum(1 for v in split.values() if v > 0) > 1,
            "latest_approved": approved[-1] if approved else None,
            "versions": flows.version_rows(versions),
        }

"""Model delivery on Azure ML with `azure-ai-ml`: command jobs on the stack's cluster, versions in the workspace's
model container, the canary as a second deployment of the managed online endpoint.

The truth about what serves is the endpoint itself: the deployment holding the traffic and its model version (the
stack creates `blue` once and ignores later model changes). A rollout puts the approved version in the idle slot
(`green`, or `blue` again), gives it `canary_percent` of the traffic, sends held-out listings straight to it for
`canary_wait_minutes`, and judges it with the Observability thresholds (any error at or above
`endpoint_5xx_threshold`, p99 above `model_latency_p99_ms`) before moving all traffic or moving it back.
Verified offline only against a faked HTTP transport (tests/model/test_azure_delivery.py): the calls and their order.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.errors import InvalidArgs
from tricloud.model import flows
from tricloud.model.aws import job_name
from tricloud.model.base import APPROVED, PENDING, REJECTED, Context, DeliveryError, ModelVersion
from tricloud.model.managed import ManagedEndpoint

ARM_MODEL = re.compile(
    r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.MachineLearningServices/"
    r"workspaces/(?P<ws>[^/]+)/models/(?P<name>[^/]+)",
    re.IGNORECASE,
)
ABFSS = re.compile(r"abfss://(?P<fs>[^@]+)@(?P<account>[^.]+)\.dfs\.core\.windows\.net/(?P<path>.*)")
SLOTS = ("blue", "green")  # the stack's deployment and the canary slot
COMPUTE = "train"  # components/training_job/azure.py compute_name
ARTIFACTS_DATASTORE = "lake_artifacts"  # components/model_endpoint/azure.py LAKE_DATASTORE
TAG = "tricloud."  # our tags on model versions


@dataclass(frozen=True)
class Workspace:
    subscription: str
    resource_group: str
    workspace: str
    model_name: str


def workspace_of(model_registry: str) -> Workspace:
    m = ARM_MODEL.fullmatch(model_registry.rstrip("/"))
    if not m:
        raise InvalidArgs("outputs.model_registry", model_registry, "is not an Azure ML model container id")
    return Workspace(m["sub"], m["rg"], m["ws"], m["name"])


def datastore_path(abfss: str) -> str:
    """`abfss://artifacts@acct.dfs.core.windows.net/models/x/` -> `azureml://datastores/lake_artifacts/paths/models/x/`"""
    m = ABFSS.fullmatch(abfss)
    if not m:
        raise InvalidArgs("artifact", abfss, "must be an abfss:// URI of the lake's artifacts filesystem")
    return f"azureml://datastores/{ARTIFACTS_DATASTORE}/paths/{m['path']}"


class AzureDelivery(ManagedEndpoint):
    def __init__(
        self,
        ctx: Context,
        *,
        credential: Any = None,
        transport: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        bake_seconds: float | None = None,
        post: Callable[[str, bytes, dict[str, str]], tuple[int, bytes]] | None = None,
    ) -> None:
        self.ctx, self.settings = ctx, ctx.config.delivery
        self.ws = workspace_of(ctx.output("model_registry"))
        self.sleep = sleep
        self.bake_seconds = (
            bake_seconds if bake_seconds is not None else ctx.config.endpoint.canary_wait_minutes * 60
        )
        self._credential, self._transport = credential, transport
        self._post = post or _https_post
        self._ml: Any = None

    # --- clients -------------------------------------------------------------------------------------------------

    def credential(self) -> Any:
        if self._credential is None:
            from azure.identity import DefaultAzureCredential

            self._credential = DefaultAzureCredential()  # az login locally, the federated identity in CI
        return self._credential

    def ml(self) -> Any:
        if self._ml is None:
            from azure.ai.ml import MLClient

            extra = {"transport": self._transport} if self._transport is not None else {}
            self._ml = MLClient(
                self.credential(),
                self.ws.subscription,
                self.ws.resource_group,
                self.ws.workspace,
                enable_telemetry=False,
                **extra,
            )
        return self._ml

    def lake(self, account: str) -> Any:
        from azure.storage.filedatalake import DataLakeServiceClient

        extra = {"transport": self._transport} if self._transport is not None else {}
        return DataLakeServiceClient(
            f"https://{account}.dfs.core.windows.net", credential=self.credential(), **extra
        )

    def scratch(self) -> contextlib.AbstractContextManager[Path]:
        return flows.scratch_dir(self.ctx)

    # --- storage (the lake, ADLS Gen2) ---------------------------------------------------------------------------

    def _paths(self, uri: str) -> tuple[Any, str, list[str]]:
        m = ABFSS.fullmatch(uri)
        if not m:
            raise InvalidArgs(
                "uri", uri, "must be abfss://<filesystem>@<account>.dfs.core.windows.net/<path>"
            )
        fs = self.lake(m["account"]).get_file_system_client(m["fs"])
        prefix = m["path"].rstrip("/")
        names = [p.name for p in fs.get_paths(path=prefix or None, recursive=True) if not p.is_directory]
        return fs, prefix, names

    def download_prefix(self, uri: str, dest: Path, suffixes: tuple[str, ...] = (".csv", ".parquet")) -> int:
        fs, prefix, names = self._paths(uri)
        count = 0
        for name in names:
            rel = name[len(prefix) :].lstrip("/") if prefix else name
            if rel.lower().endswith(suffixes):
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(fs.get_file_client(name).download_file().readall())
                count += 1
        return count

    def latest_training_data(self, input_uri: str) -> str:
        base = input_uri.rstrip("/") + "/listings"
        _, _, names = self._paths(base)
        head = input_uri.split(".dfs.core.windows.net/", 1)[0] + ".dfs.core.windows.net/"
        return head + flows.newest_run(names, base)

    # --- train ---------------------------------------------------------------------------------------------------

    def train(self, image_tag: str | None = None) -> dict[str, Any]:
        from azure.ai.ml import Input, Output, command
        from azure.ai.ml.entities import Environment, ManagedIdentityConfiguration

        ctx, training = self.ctx, self.ctx.config.training
        data_uri = self.latest_training_data(ctx.output("training_input_uri"))
        name = job_name(ctx.project, ctx.stack, ctx.git_commit)
        output = f"{ctx.output('training_output_uri').rstrip('/')}/{name}/model/"
        hps = " ".join(f"--hp {k}={v}" for k, v in sorted(training.hyperparameters.items()))
        image = flows.image_ref(ctx.output("training_image_uri"), image_tag)
        job = command(
            name=name,
            display_name=name,
            experiment_name=f"{ctx.project}-{ctx.stack}",
            command="python -m app.train --train-data ${{inputs.train}} --model-output ${{outputs.model}} "
            + hps,
            environment=Environment(image=image),
            compute=COMPUTE,  # low priority when use_spot: the stack sets the cluster's VM priority
            inputs={"train": Input(type="uri_folder", path=data_uri)},
            outputs={"model": Output(type="uri_folder", path=datastore_path(output))},
            timeout=training.max_runtime_minutes * 60,
            # The cluster's identity (training_role) reads curated and writes models/; no user passthrough.
            identity=ManagedIdentityConfiguration(),
            tags={"git-commit": ctx.git_commit, "stack": ctx.stack},
        )
        self.ml().jobs.create_or_update(job)
        ctx.report(
            f"command job {name} on compute {COMPUTE} ({ctx.output('training_instance_type')}), image {image}"
        )
        started = time.monotonic()
        status = flows.wait_for(
            lambda: (_text(self.ml().jobs.get(name).status), "see the job's logs in the workspace studio"),
            what=f"Azure ML job {name}",
            done="Completed",
            failed=("Failed", "Canceled", "NotResponding"),
            timeout_s=training.max_runtime_minutes * 60 + 1800,
            ctx=ctx,
            sleep=self.sleep,
        )
        return flows.train_result(
            ctx, name=name, artifact=output, image=image, data_uri=data_uri, status=status, started=started
        )

    # --- registry ------------------------------------------------------------------------------------------------

    def as_version(self, m: Any) -> ModelVersion:
        tags = dict(m.tags or {})

        def tag(key: str) -> str:
            return str(tags.get(TAG + key, ""))

        return ModelVersion(
            version=f"azureml:{m.name}:{m.version}",
            number=str(m.version),
            status=tag("approval") or PENDING,
            native_status=tag("approval"),
            artifact_uri=str(m.path),
            artifact_sha256=tag("artifact_sha256"),
            image=tag("image"),
            label=tag("model_version"),
            metrics={
                k.removeprefix(TAG + "metric."): float(v)
                for k, v in tags.items()
                if k.startswith(TAG + "metric.")
            },
            training_data_uri=tag("training_data_uri"),
            training_data_sha256=tag("training_data_sha256"),
            git_commit=tag("git_commit"),
            training_job=tag("training_job"),
            decision={
                k.removeprefix(TAG + "decision."): v
                for k, v in tags.items()
                if k.startswith(TAG + "decision.")
            },
        )

    def versions(self) -> list[ModelVersion]:
        found = [self.as_version(m) for m in self.ml().models.list(name=self.ws.model_name)]
        return sorted(found, key=lambda v: int(v.number))

    def find(self, version: str | None, *, status: str | None = None) -> ModelVersion:
        return flows.find_version(self.versions(), version, status, self.ws.model_name)

    def artifact_to_abfss(self, path: str) -> str:
        """azureml://datastores/lake_artifacts/paths/<p> -> abfss URI on the lake (from training_output_uri)."""
        head = self.ctx.output("training_output_uri").split(".dfs.core.windows.net/", 1)[0]
        rel = path.split("/paths/", 1)[1] if "/paths/" in path else path
        return f"{head}.dfs.core.windows.net/{rel}"

    def register(self, job: str | None = None, artifact: str | None = None) -> ModelVersion:
        from azure.ai.ml.entities import Model

        flows.one_source(job, artifact)
        image, data_uri, commit = self.ctx.output("training_image_uri"), "", self.ctx.git_commit
        if job is not None:
            j = self.ml().jobs.get(job)
            if _text(j.status) != "Completed":
                raise InvalidArgs("--job", job, f"is {j.status}: only a completed job is registered")
            artifact = self.artifact_to_abfss(str(j.outputs["model"].path))
            data_uri = str(j.inputs["train"].path)
            image = str(getattr(j.environment, "image", None) or image)
            commit = str((j.tags or {}).get("git-commit", commit))
        assert artifact is not None
        with self.scratch() as tmp:
            sha, metadata, metrics = flows.folder_artifact(self, artifact, tmp / "model")
        existing = flows.registered(self, sha)
        if existing:
            return existing
        tags = {
            **flows.version_properties(sha, metadata, metrics, data_uri, commit, job),
            "image": image,
            "approval": PENDING,
        }
        model = Model(
            name=self.ws.model_name,
            path=datastore_path(artifact),
            type="custom_model",
            description=f"model {tags['model_version']} from {job or artifact}",
            tags={TAG + k: v for k, v in tags.items() if v},
        )
        return self.as_version(self.ml().models.create_or_update(model))

    def holdout_uri(self) -> str:
        return flows.holdout_uri(self.ctx)

    def fetch_artifact(self, v: ModelVersion, dest: Path) -> Path:
        return flows.fetch_folder(self, v, self.artifact_to_abfss(v.artifact_uri), dest)

    def approve(self, version: str | None = None) -> dict[str, Any]:
        serving = self.serving()
        return flows.approve(self, version, serving["version"] if serving else None)

    def store_decision(self, v: ModelVersion, approved: bool, summary: str, record: dict[str, Any]) -> None:
        m = self.ml().models.get(self.ws.model_name, version=v.number)
        decided = {
            "approval": APPROVED if approved else REJECTED,
            "decision.champion_version": str(record.get("champion_version") or "none"),
            "decision.holdout_sha256": record["holdout"]["sha256"],
            **{
                f"decision.{role}.{k}": f"{val:.6g}"
                for role in ("challenger", "champion")
                for k, val in (record.get(role) or {}).items()
            },
        }
        m.tags = {**(m.tags or {}), **{TAG + k: val for k, val in decided.items()}}
        m.description = summary[:1000]
        self.ml().models.create_or_update(m)

    def mark_refused(self, v: ModelVersion, summary: str) -> None:
        """A version the canary refused is rejected in the registry, so no later rollout or rollback picks it."""
        m = self.ml().models.get(self.ws.model_name, version=v.number)
        m.tags = {**(m.tags or {}), TAG + "approval": REJECTED, TAG + "decision.canary": summary[:250]}
        self.ml().models.create_or_update(m)

    # --- serving: the endpoint's deployments and traffic ---------------------------------------------------------

    def endpoint(self) -> Any:
        return self.ml().online_endpoints.get(self.ctx.output("endpoint_name"))

    def deployments(self) -> dict[str, Any]:
        name = self.ctx.output("endpoint_name")
        return {d.name: d for d in self.ml().online_deployments.list(name)}

    def serving(self) -> dict[str, Any] | None:
        traffic = dict(self.endpoint().traffic or {})
        slot = max(traffic, key=lambda k: traffic[k]) if traffic and max(traffic.values()) > 0 else None
        if slot is None:
            return None
        model = str(self.deployments()[slot].model)
        name, number = _model_ref(model)
        if name != self.ws.model_name:  # the stack's bootstrap model, not a registered version
            return {"slot": slot, "model": model, "version": None, "number": None}
        return {
            "slot": slot,
            "model": model,
            "version": f"azureml:{self.ws.model_name}:{number}",
            "number": number,
        }

    def set_traffic(self, traffic: dict[str, int]) -> None:
        ep = self.endpoint()
        ep.traffic = traffic
        self.ml().online_endpoints.begin_create_or_update(ep).result()
        self.ctx.report(f"traffic {traffic}")

    def _probe(self, slot: str) -> Callable[[list[dict[str, Any]]], str]:
        ep = self.endpoint()
        key = self.ml().online_endpoints.get_keys(ep.name).primary_key
        headers = {
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "azureml-model-deployment": slot,
        }

        def send(rows: list[dict[str, Any]]) -> str:
            status, body = self._post(str(ep.scoring_uri), json.dumps({"instances": rows}).encode(), headers)
            if status >= 400:
                raise RuntimeError(f"HTTP {status}: {body[:200]!r}")
            return slot

        return send

    def _deploy(self, slot: str, source: str | None, model: str) -> None:
        """The serving deployment's settings (instance type, count, environment, probes) with another model."""
        deployments = self.deployments()
        template = deployments.get(source or "") or deployments.get(SLOTS[0])
        if template is None:
            raise DeliveryError(
                f"endpoint {self.ctx.output('endpoint_name')} has no deployment to copy: run pulumi up"
            )
        template.name, template.model = slot, model
        self.ml().online_deployments.begin_create_or_update(template).result()

    def _switch(self, target: ModelVersion, reason: str) -> dict[str, Any]:
        current = self.serving()
        slot = next(s for s in SLOTS if current is None or s != current["slot"])
        self.ctx.report(f"{reason}: deploying version {target.number} to {slot}")
        self._deploy(slot, current["slot"] if current else None, target.version)
        canary = self.ctx.config.endpoint.canary_percent
        if current is not None:
            self.set_traffic({current["slot"]: 100 - canary, slot: canary})
        stats = self.bake(self._probe(slot))
        problems = self.judge(stats, stats.answers.get(slot, 0))
        if problems:
            if current is not None:
                self.set_traffic({current["slot"]: 100, slot: 0})
            raise self.refuse(target, problems, stats, slot=slot, serving=current)
        self.set_traffic({slot: 100, **({current["slot"]: 0} if current else {})})
        return {
            "version": target.number,
            "label": target.label,
            "slot": slot,
            "changed": True,
            "took": True,
            "traffic": stats.numbers(),
            "previous": current,
        }

    def rollback(self) -> dict[str, Any]:
        current = self.serving()
        deployments = self.deployments()
        approved = {v.number: v for v in self.versions() if v.status == APPROVED}
        for slot in SLOTS:  # the previous version still deployed at 0 %: move the traffic back at once
            if slot in deployments and (current is None or slot != current["slot"]):
                name, number = _model_ref(str(deployments[slot].model))
                if (
                    name == self.ws.model_name
                    and number in approved
                    and (current is None or number != current["number"])
                ):
                    self.set_traffic({slot: 100, **({current["slot"]: 0} if current else {})})
                    return {
                        "serving": approved[number].version,
                        "label": approved[number].label,
                        "slot": slot,
                        "took": True,
                    }
        older = self.other_approved(current)
        if not older:
            raise InvalidArgs("rollback", None, "no previous deployment and no other approved version")
        return self._switch(older[-1], f"roll back to version {older[-1].number}")

    def status(self) -> dict[str, Any]:
        current = self.serving()
        ep = self.endpoint()
        versions = self.versions()
        approved = [v.number for v in versions if v.status == APPROVED]
        traffic = dict(ep.traffic or {})
        return {
            "serving": current,
            "endpoint": {
                "name": ep.name,
                "traffic": traffic,
                "scoring_uri": ep.scoring_uri,
                "deployments": {n: str(d.model) for n, d in self.deployments().items()},
            },
            "in_canary": sum(1 for v in traffic.values() if v > 0) > 1,
            "latest_approved": approved[-1] if approved else None,
            "versions": flows.version_rows(versions),
        }


def _model_ref(model: str) -> tuple[str, str]:
    """(name, version) of `azureml:<name>:<v>` or `.../models/<name>/versions/<v>`."""
    if "/versions/" in model:
        head, version = model.rsplit("/versions/", 1)
        return head.rsplit("/", 1)[-1], version
    _, name, version = (["", *model.split(":")])[-3:]
    return name, version


def _text(value: Any) -> str:
    """An SDK enum (JobStatus.COMPLETED) or a string, as the service's word ("Completed")."""
    return str(getattr(value, "value", value))


def _https_post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()

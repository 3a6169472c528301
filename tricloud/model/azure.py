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
from tricloud.model import evaluate, flows
from tricloud.model.aws import job_name
from tricloud.model.base import APPROVED, PENDING, REJECTED, Context, DeliveryError, GateRefused, ModelVersion
from tricloud.model.traffic import Traffic, TrafficStats, holdout_requests

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


class AzureDelivery:
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
        runs = sorted(n.rsplit("/", 1)[0] for n in names if n.endswith("/_SUCCESS"))
        if not runs:
            raise InvalidArgs("training data", base, "holds no finished feature run (<run>/_SUCCESS)")
        head = input_uri.split(".dfs.core.windows.net/", 1)[0] + ".dfs.core.windows.net/"
        return f"{head}{runs[-1]}/"

    # --- train ---------------------------------------------------------------------------------------------------

    def image(self, image_tag: str | None) -> str:
        uri = self.ctx.output("training_image_uri")
        if image_tag is None:
            return uri
        repo = uri.split("@", 1)[0].rsplit(":", 1)[0] if "@" not in uri else uri.split("@", 1)[0]
        return f"{repo}@{image_tag}" if image_tag.startswith("sha256:") else f"{repo}:{image_tag}"

    def train(self, image_tag: str | None = None) -> dict[str, Any]:
        from azure.ai.ml import Input, Output, command
        from azure.ai.ml.entities import Environment, ManagedIdentityConfiguration

        ctx, training = self.ctx, self.ctx.config.training
        data_uri = self.latest_training_data(ctx.output("training_input_uri"))
        name = job_name(ctx.project, ctx.stack, ctx.git_commit)
        output = f"{ctx.output('training_output_uri').rstrip('/')}/{name}/model/"
        hps = " ".join(f"--hp {k}={v}" for k, v in sorted(training.hyperparameters.items()))
        image = self.image(image_tag)
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
        status = self.wait(name, timeout_s=training.max_runtime_minutes * 60 + 1800)
        return {
            "job_name": name,
            "artifact": output,
            "image": image,
            "training_data_uri": data_uri,
            "status": status,
            "spot": training.use_spot,
            "max_runtime_seconds": training.max_runtime_minutes * 60,
            "hyperparameters": dict(training.hyperparameters),
            "seconds": round(time.monotonic() - started, 2),
        }

    def wait(self, name: str, timeout_s: float) -> str:
        deadline, seen = time.monotonic() + timeout_s, ""
        while True:
            status = _text(self.ml().jobs.get(name).status)
            if status != seen:
                seen = status
                self.ctx.report(f"{name}: {status}")
            if status == "Completed":
                return status
            if status in ("Failed", "Canceled", "NotResponding"):
                raise DeliveryError(
                    f"Azure ML job {name} {status.lower()} (see its logs in the workspace studio)"
                )
            if time.monotonic() > deadline:
                raise DeliveryError(f"Azure ML job {name} still {status} after {timeout_s:.0f} s")
            self.sleep(15)

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

        if (job is None) == (artifact is None):
            raise InvalidArgs(
                "--job/--artifact", None, "give exactly one: the training job name or the artifact URI"
            )
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
            if not self.download_prefix(artifact, tmp / "model", (".json", ".joblib")):
                raise InvalidArgs("--artifact", artifact, "holds no model files")
            sha = evaluate.folder_sha256(tmp / "model")
            metadata, metrics = evaluate.read_artifact(evaluate.unpack(tmp / "model", tmp))
        existing = [v for v in self.versions() if v.artifact_sha256 == sha]
        if existing:
            self.ctx.report(
                f"artifact sha256 {sha[:12]} is already version {existing[0].number}: nothing registered"
            )
            return existing[0]
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
        return self.settings.holdout_uri or f"{self.ctx.output('curated_uri').rstrip('/')}/holdout/"

    def fetch_artifact(self, v: ModelVersion, dest: Path) -> Path:
        if not self.download_prefix(self.artifact_to_abfss(v.artifact_uri), dest, (".json", ".joblib")):
            raise ValueError(f"no model files under {v.artifact_uri}")
        got = evaluate.folder_sha256(dest)
        if got != v.artifact_sha256:
            raise ValueError(f"artifact sha256 {got} is not the registered {v.artifact_sha256}")
        return dest

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

    def judge(self, stats: TrafficStats) -> list[str]:
        """Why the canary fails, with the Observability alarms' thresholds (empty: it passed)."""
        obs, numbers = self.ctx.config.observability, stats.numbers()
        problems = []
        if stats.sent == 0:
            problems.append("no request reached the canary")
        if stats.errors >= obs.endpoint_5xx_threshold:
            problems.append(
                f"{stats.errors} errors (threshold {obs.endpoint_5xx_threshold}): {stats.last_error}"
            )
        if numbers["p99_ms"] is not None and numbers["p99_ms"] > obs.model_latency_p99_ms:
            problems.append(f"p99 {numbers['p99_ms']} ms > {obs.model_latency_p99_ms} ms")
        return problems

    def _bake(self, slot: str) -> TrafficStats:
        with self.scratch() as tmp:
            with contextlib.suppress(
                Exception
            ):  # no held-out CSV: generated listings still exercise the model
                self.download_prefix(self.holdout_uri(), tmp, (".csv",))
            rows = holdout_requests(tmp)
        traffic = Traffic(self._probe(slot), rows, self.settings.bake_requests_per_second).start()
        try:
            self.sleep(self.bake_seconds)
        finally:
            stats = traffic.stop()
        return stats

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
        stats = self._bake(slot)
        problems = self.judge(stats)
        if problems:
            if current is not None:
                self.set_traffic({current["slot"]: 100, slot: 0})
            summary = f"canary of version {target.number} rolled back: {'; '.join(problems)}"
            self.mark_refused(target, summary)
            raise GateRefused(
                summary,
                {"version": target.number, "slot": slot, "traffic": stats.numbers(), "serving": current},
            )
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

    def rollout(self, version: str | None = None) -> dict[str, Any]:
        target = self.find(version, status=None if version else APPROVED)
        if target.status != APPROVED:
            raise GateRefused(
                f"version {target.number} is {target.status}: only an approved version is rolled out",
                {"version": target.number, "status": target.status},
            )
        current = self.serving()
        if current is not None and current["number"] == target.number:
            return {"version": target.number, "label": target.label, "changed": False, "serving": current}
        return self._switch(target, f"roll out version {target.number}")

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
        older = [v for n, v in approved.items() if current is None or n != current["number"]]
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
            "versions": [
                {"number": v.number, "status": v.status, "label": v.label, "rmse": v.metrics.get("rmse")}
                for v in versions
            ],
        }

    def expected_label(self) -> str | None:
        current = self.serving()
        if current is None:
            return None
        return next((v.label for v in self.versions() if v.number == current["number"]), None)


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

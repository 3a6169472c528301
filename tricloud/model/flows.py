"""The verbs whose logic is the same on every cloud, over a small interface each cloud's delivery provides.

`approve`: pick the challenger (the given or newest pending version) and the champion (the serving version, else
the newest other approved one), score both on the held-out set with the serving code, decide, store the decision
with the challenger, refuse (exit 3) or approve.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from components.errors import InvalidArgs
from tricloud.model import evaluate
from tricloud.model.base import APPROVED, PENDING, Context, DeliveryError, GateRefused, ModelVersion
from tricloud.model.settings import DeliveryArgs


class Registry(Protocol):
    ctx: Context
    settings: DeliveryArgs

    def versions(self) -> list[ModelVersion]: ...
    def find(self, version: str | None, *, status: str | None = None) -> ModelVersion: ...
    def holdout_uri(self) -> str: ...
    def download_prefix(self, uri: str, dest: Path, suffixes: tuple[str, ...] = ...) -> int: ...
    def fetch_artifact(self, v: ModelVersion, dest: Path) -> Path: ...
    def store_decision(
        self, v: ModelVersion, approved: bool, summary: str, record: dict[str, Any]
    ) -> None: ...
    def scratch(self) -> contextlib.AbstractContextManager[Path]: ...


def one_source(job: str | None, artifact: str | None) -> None:
    if (job is None) == (artifact is None):
        raise InvalidArgs(
            "--job/--artifact", None, "give exactly one: the training job name or the artifact URI"
        )


def newest_run(names: list[str], where: str) -> str:
    """The newest finished run of the Spark feature job among object names (`<...>/<run>/_SUCCESS`), as its key
    prefix with a trailing slash; the run folders sort by their UTC timestamp."""
    runs = sorted(n[: -len("_SUCCESS")] for n in names if n.endswith("/_SUCCESS"))
    if not runs:
        raise InvalidArgs(
            "training data", where, "holds no finished feature run (<run>/_SUCCESS): run the Spark job"
        )
    return runs[-1]


def image_ref(uri: str, tag: str | None) -> str:
    """`training_image_uri` with another tag (`--image-tag v2`) or pinned to a digest (`--image-tag sha256:...`)."""
    if tag is None:
        return uri
    repo = uri.split("@", 1)[0] if "@" in uri else uri.rsplit(":", 1)[0]
    return f"{repo}@{tag}" if tag.startswith("sha256:") else f"{repo}:{tag}"


def holdout_uri(ctx: Context) -> str:
    """`tricloud:delivery.holdout_uri`, else `<curated zone>/holdout/`."""
    return ctx.config.delivery.holdout_uri or f"{ctx.output('curated_uri').rstrip('/')}/holdout/"


def train_result(
    ctx: Context,
    *,
    name: str,
    artifact: str,
    image: str,
    data_uri: str,
    status: str,
    started: float,
    **extra: Any,
) -> dict[str, Any]:
    """What `train` prints (the same keys on every cloud)."""
    import time

    training = ctx.config.training
    return {
        "job_name": name,
        "artifact": artifact,
        "image": image,
        "training_data_uri": data_uri,
        "status": status,
        "spot": training.use_spot,
        "max_runtime_seconds": training.max_runtime_minutes * 60,
        "hyperparameters": dict(training.hyperparameters),
        "seconds": round(time.monotonic() - started, 2),
        **extra,
    }


def wait_for(
    poll: Callable[[], tuple[str, str]],
    *,
    what: str,
    done: str,
    failed: tuple[str, ...],
    timeout_s: float,
    ctx: Context,
    sleep: Callable[[float], None],
    every_s: float = 15.0,
) -> str:
    """Poll a job until `done` (returned) or one of `failed` (DeliveryError with the cloud's reason), printing each
    new state; DeliveryError after `timeout_s`."""
    import time

    deadline, seen = time.monotonic() + timeout_s, ""
    while True:
        state, reason = poll()
        if state != seen:
            seen = state
            ctx.report(f"{what}: {state}")
        if state == done:
            return state
        if state in failed:
            raise DeliveryError(f"{what} {state.lower()}: {reason or 'no reason given'}")
        if time.monotonic() > deadline:
            raise DeliveryError(f"{what} still {state} after {timeout_s:.0f} s")
        sleep(every_s)


def folder_artifact(d: Any, uri: str, dest: Path) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(digest, metadata.json, metrics.json) of a model folder in the lake (Azure ML, Vertex)."""
    if not d.download_prefix(uri, dest, (".json", ".joblib")):
        raise InvalidArgs("artifact", uri, "holds no model files")
    metadata, metrics = evaluate.read_artifact(dest)
    return evaluate.folder_sha256(dest), metadata, metrics


def fetch_folder(d: Any, v: ModelVersion, uri: str, dest: Path) -> Path:
    """A registered model folder, checked against its recorded digest (ValueError when it changed)."""
    if not d.download_prefix(uri, dest, (".json", ".joblib")):
        raise ValueError(f"no model files under {v.artifact_uri}")
    got = evaluate.folder_sha256(dest)
    if got != v.artifact_sha256:
        raise ValueError(f"artifact sha256 {got} is not the registered {v.artifact_sha256}")
    return dest


def registered(d: Any, sha256: str) -> ModelVersion | None:
    """The version already holding this artifact (a registry never gets the same artifact twice)."""
    existing = [v for v in d.versions() if v.artifact_sha256 == sha256]
    if existing:
        d.ctx.report(
            f"artifact sha256 {sha256[:12]} is already version {existing[0].number}: nothing registered"
        )
    return existing[0] if existing else None


def version_properties(
    sha256: str,
    metadata: dict[str, Any],
    metrics: dict[str, Any],
    data_uri: str,
    commit: str,
    job: str | None,
) -> dict[str, str]:
    """What every registry records with a version (as flat strings: SageMaker metadata, Azure tags, Vertex JSON)."""
    return {
        "artifact_sha256": sha256,
        "model_version": str(metadata.get("version", "")),
        "training_data_uri": data_uri,
        "training_data_sha256": str(metadata.get("training_data_sha256", "")),
        "git_commit": commit,
        "training_job": job or "",
        **{f"metric.{k}": f"{float(metrics[k]):.6g}" for k in evaluate.METRIC_KEYS if k in metrics},
    }


def find_version(
    versions: list[ModelVersion], version: str | None, status: str | None, registry: str
) -> ModelVersion:
    """A version by number or id, or the newest with `status` (versions sorted oldest first)."""
    if version is not None:
        for v in versions:
            if version in (v.number, v.version):
                return v
        raise InvalidArgs("--version", version, f"is not a version of {registry} ({len(versions)} exist)")
    candidates = [v for v in versions if status is None or v.status == status]
    if not candidates:
        raise InvalidArgs("--version", None, f"no {status or ''} version in {registry}: give one")
    return candidates[-1]


def rollout_target(d: Any, version: str | None) -> ModelVersion:
    """The version to roll out (given, or the newest approved); only an approved one passes (exit 3 otherwise)."""
    target = d.find(version, status=None if version else APPROVED)
    if target.status != APPROVED:
        raise GateRefused(
            f"version {target.number} is {target.status}: only an approved version is rolled out",
            {"version": target.number, "status": target.status, "decision": target.decision},
        )
    return target


def version_rows(versions: list[ModelVersion]) -> list[dict[str, Any]]:
    """The registry as `status` shows it."""
    return [
        {"number": v.number, "status": v.status, "label": v.label, "rmse": v.metrics.get("rmse")}
        for v in versions
    ]


def approve(d: Registry, version: str | None, serving_version: str | None) -> dict[str, Any]:
    challenger = d.find(version, status=None if version else PENDING)
    approved = [v for v in d.versions() if v.status == APPROVED and v.version != challenger.version]
    champion = next((v for v in approved if v.version == serving_version), None)
    champion = champion or (approved[-1] if approved else None)
    with d.scratch() as tmp:
        uri = d.holdout_uri()
        if not d.download_prefix(uri, tmp / "holdout", (".csv", ".parquet")):
            raise InvalidArgs(
                "tricloud:delivery.holdout_uri",
                uri,
                "holds no .csv or .parquet held-out listings (upload some never used for training)",
            )
        holdout = evaluate.load_holdout(tmp / "holdout", uri)
        scores, errors = _score(d, {"challenger": challenger, "champion": champion}, holdout, tmp)
    if champion is not None and scores["champion"] is None:
        raise DeliveryError(
            f"the champion (version {champion.number}) cannot be scored: {errors['champion']}"
        )
    decision = evaluate.decide(
        scores["challenger"],
        scores["champion"],
        d.settings,
        holdout=holdout,
        champion_version=champion.number if champion else None,
        challenger_error=errors.get("challenger"),
    )
    record = {"version": challenger.number, **decision.as_dict()}
    d.store_decision(challenger, decision.approved, decision.summary(), record)
    d.ctx.report(f"version {challenger.number}: {decision.summary()}")
    if not decision.approved:
        raise GateRefused(f"version {challenger.number} {decision.summary()}", record)
    return record


def _score(
    d: Registry, roles: dict[str, ModelVersion | None], holdout: evaluate.Holdout, tmp: Path
) -> tuple[dict[str, dict[str, float] | None], dict[str, str]]:
    scores: dict[str, dict[str, float] | None] = {}
    errors: dict[str, str] = {}
    for role, v in roles.items():
        scores[role] = None
        if v is None:
            continue
        try:
            scores[role] = evaluate.score(d.fetch_artifact(v, tmp / role), holdout)
        except Exception as exc:  # a model that cannot load or predict is refused, with the reason
            errors[role] = f"{type(exc).__name__}: {exc}"
    return scores, errors


@contextlib.contextmanager
def scratch_dir(ctx: Context) -> Iterator[Path]:
    """A temporary folder for artifacts and held-out data (under ctx.workdir when set)."""
    import tempfile

    if ctx.workdir is not None:
        ctx.workdir.mkdir(parents=True, exist_ok=True)
        yield Path(tempfile.mkdtemp(dir=ctx.workdir))
    else:
        with tempfile.TemporaryDirectory(prefix="tricloud-model-") as tmp:
            yield Path(tmp)

"""The verbs whose logic is the same on every cloud, over a small interface each cloud's delivery provides.

`approve`: pick the challenger (the given or newest pending version) and the champion (the serving version, else
the newest other approved one), score both on the held-out set with the serving code, decide, store the decision
with the challenger, refuse (exit 3) or approve.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
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

"""Retraining started by a drift alarm, through the model-delivery pipeline and behind the loop guard.

`retrain` = guard check -> ledger record -> `tricloud model` train -> register -> reference -> approve -> rollout,
with the delivery's own Python functions (the same calls `tricloud model <verb>` makes), so an alarm-started
version passes the same gates (held-out floors, champion/challenger, canary) as one a person starts.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

from app.artifact import REFERENCE_FILE
from app.monitor.storage import S3Store, Store, join, store_for
from tricloud.model.base import Context, GateRefused, ModelVersion
from tricloud.monitor.guard import Ledger, decide

REFERENCES_PREFIX = "monitoring/references/"


def lake_store(ctx: Context, delivery: Any) -> Store:
    """The store of the stack's lake: the delivery's own S3 client on AWS (the emulator's offline)."""
    if ctx.cloud == "aws":
        return S3Store(delivery.s3())
    return store_for(ctx.output("artifacts_uri"))


def reference_uri(ctx: Context, label: str) -> str:
    return join(ctx.output("artifacts_uri"), REFERENCES_PREFIX, f"{label}.json")


def publish_reference(ctx: Context, delivery: Any, version: ModelVersion) -> str:
    """Copy the version's reference.json (inside its artifact) to where the drift job looks for it."""
    with tempfile.TemporaryDirectory(prefix="tricloud-reference-") as tmp:
        folder = Path(delivery.fetch_artifact(version, Path(tmp)))
        path = folder / REFERENCE_FILE
        if not path.is_file():
            raise GateRefused(
                f"version {version.number} ({version.label}) has no {REFERENCE_FILE}: it was trained before "
                "monitoring existed; retrain it",
                {"version": version.number},
            )
        data = path.read_bytes()
    json.loads(data)  # a corrupt profile must not reach the job
    uri = reference_uri(ctx, version.label)
    lake_store(ctx, delivery).write(uri, data, "application/json")
    ctx.report(f"reference of {version.label} -> {uri}")
    return uri


def publish_reference_file(ctx: Context, delivery: Any, label: str, data: bytes) -> str:
    uri = reference_uri(ctx, label)
    lake_store(ctx, delivery).write(uri, data, "application/json")
    return uri


def retrain(
    ctx: Context,
    delivery: Any,
    *,
    reason: str,
    now: dt.datetime | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Guarded retrain; raises GateRefused (exit 3) when the guard says no, or a gate of the pipeline does."""
    settings = ctx.config.monitoring
    now = now or dt.datetime.now(dt.UTC)
    ledger = Ledger(lake_store(ctx, delivery), ctx.output("artifacts_uri"))
    decision = decide(
        ledger.started(), now, cooldown_hours=settings.retrain_cooldown_hours,
        max_retrains=settings.max_retrains, window_days=settings.retrain_window_days,
    )  # fmt: skip
    if not decision.allowed:
        raise GateRefused(f"retrain refused by the loop guard: {decision.reason}", decision.as_dict())
    entry = ledger.record(now, reason, {"status": "started", **(details or {})})
    ctx.report(f"retrain recorded in {entry} ({decision.started_in_window + 1} in the window)")
    steps: dict[str, Any] = {"guard": decision.as_dict(), "ledger": entry}
    try:
        trained = delivery.train(None)
        steps["train"] = {k: trained[k] for k in ("job_name", "artifact") if k in trained}
        version = delivery.register(job=trained["job_name"])
        steps["register"] = {"version": version.number, "label": version.label}
        steps["reference"] = publish_reference(ctx, delivery, version)
        approval = delivery.approve(version.number)
        steps["approve"] = {"approved": approval.get("approved", True), "reasons": approval.get("reasons")}
        rollout = delivery.rollout(version.number)
        steps["rollout"] = {k: rollout.get(k) for k in ("version", "label", "changed")}
    except Exception as exc:
        ledger.update(entry, status="failed", error=f"{type(exc).__name__}: {exc}"[:500])
        raise
    ledger.update(entry, status="rolled_out", version=version.number, label=version.label)
    return {
        **steps,
        "label": version.label,
        "summary": f"retrained: version {version.number} ({version.label}) serves",
    }

"""What Azure ML and Vertex AI rollouts share: the endpoint keeps two models during a canary, the command sends the
held-out traffic and judges the canary itself with the Observability alarms' thresholds, then shifts or reverts.

Subclasses provide `serving()` (what takes the traffic now: `{"number", "version", ...}` or None), `versions()`,
`find()`, `_switch(target, reason)` (deploy, bake, judge, shift or revert) and `mark_refused()`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from tricloud.model import flows
from tricloud.model.base import APPROVED, Context, GateRefused, ModelVersion
from tricloud.model.traffic import Send, Traffic, TrafficStats, holdout_requests


class ManagedEndpoint:
    ctx: Context
    bake_seconds: float
    sleep: Callable[[float], None]

    # provided by the cloud
    def serving(self) -> dict[str, Any] | None: ...
    def versions(self) -> list[ModelVersion]: ...
    def find(self, version: str | None, *, status: str | None = None) -> ModelVersion: ...
    def _switch(self, target: ModelVersion, reason: str) -> dict[str, Any]: ...
    def mark_refused(self, v: ModelVersion, summary: str) -> None: ...
    def download_prefix(self, uri: str, dest: Any, suffixes: tuple[str, ...] = ...) -> int: ...
    def holdout_uri(self) -> str: ...

    def rollout(self, version: str | None = None) -> dict[str, Any]:
        target = flows.rollout_target(self, version)
        current = self.serving()
        if current is not None and current["number"] == target.number:
            return {"version": target.number, "label": target.label, "changed": False, "serving": current}
        return self._switch(target, f"roll out version {target.number}")

    def bake(self, send: Send) -> TrafficStats:
        """Held-out listings through `send` at the configured rate for the canary's wait, every outcome kept."""
        with flows.scratch_dir(self.ctx) as tmp:
            with contextlib.suppress(
                Exception
            ):  # no held-out CSV: generated listings still exercise the model
                self.download_prefix(self.holdout_uri(), tmp, (".csv",))
            rows = holdout_requests(tmp)
        traffic = Traffic(send, rows, self.ctx.config.delivery.bake_requests_per_second).start()
        try:
            self.sleep(self.bake_seconds)
        finally:
            stats = traffic.stop()
        return stats

    def judge(self, stats: TrafficStats, canary_answers: int) -> list[str]:
        """Why the canary fails, with the Observability alarms' thresholds (empty: it passed)."""
        obs, numbers = self.ctx.config.observability, stats.numbers()
        problems = []
        if canary_answers == 0 and stats.errors == 0:
            problems.append("no request reached the canary")
        if stats.errors >= obs.endpoint_5xx_threshold:
            problems.append(
                f"{stats.errors} errors (threshold {obs.endpoint_5xx_threshold}): {stats.last_error}"
            )
        if numbers["p99_ms"] is not None and numbers["p99_ms"] > obs.model_latency_p99_ms:
            problems.append(f"p99 {numbers['p99_ms']} ms > {obs.model_latency_p99_ms} ms")
        return problems

    def refuse(
        self, target: ModelVersion, problems: list[str], stats: TrafficStats, **numbers: Any
    ) -> GateRefused:
        summary = f"canary of version {target.number} rolled back: {'; '.join(problems)}"
        self.mark_refused(target, summary)
        return GateRefused(summary, {"version": target.number, "traffic": stats.numbers(), **numbers})

    def expected_label(self) -> str | None:
        current = self.serving()
        if current is None:
            return None
        return next((v.label for v in self.versions() if v.number == current["number"]), None)

    def other_approved(self, current: dict[str, Any] | None) -> list[ModelVersion]:
        return [
            v
            for v in self.versions()
            if v.status == APPROVED and (current is None or v.number != current["number"])
        ]

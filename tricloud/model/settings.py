"""`tricloud:delivery`: the gates of `tricloud model` (approval floors, champion/challenger margin, canary traffic,
smoke latency), read from the stack config like every other setting. Dataclass only: the config loader imports it."""

from __future__ import annotations

from dataclasses import dataclass

from components.errors import in_range, require
from components.spec_base import Args


@dataclass(frozen=True, kw_only=True)
class DeliveryArgs(Args):
    min_r2: float = 0.8  # absolute floor on the held-out set: below it no version is approved
    max_mape: float = 0.2  # absolute ceiling of mean absolute percentage error on the held-out set
    max_rmse_increase_percent: float = 0.0  # how much worse than the champion's RMSE a challenger may be
    holdout_uri: str | None = None  # None: <curated zone>/holdout/ (listings never used for training)
    bake_requests_per_second: int = 2  # real held-out rows sent during the canary bake, so the alarms judge
    smoke_max_latency_ms: int = 3000  # end-to-end through the API, cold start included
    smoke_requests: int = 5  # requests the smoke test sends (all must pass)

    def validate(self) -> None:
        in_range("min_r2", self.min_r2, -1.0, 1.0)
        in_range("max_mape", self.max_mape, 0.0, 10.0)
        in_range("max_rmse_increase_percent", self.max_rmse_increase_percent, 0.0, 100.0)
        in_range("bake_requests_per_second", self.bake_requests_per_second, 1, 50)
        in_range("smoke_max_latency_ms", self.smoke_max_latency_ms, 10, 60_000)
        in_range("smoke_requests", self.smoke_requests, 1, 100)
        if self.holdout_uri is not None:
            require(
                "://" in self.holdout_uri,
                "holdout_uri",
                self.holdout_uri,
                "must be a URI such as s3://b/holdout/",
            )

"""Serverless SQL over the curated zone (part of the DataLake spec): Athena, Synapse serverless SQL, BigQuery."""

from __future__ import annotations

from dataclasses import dataclass

from components.errors import in_range
from components.spec_base import Args

ATHENA_MIN_CUTOFF_BYTES = 10 * 1024**2  # Athena refuses a per-query cutoff below 10 MB


@dataclass(frozen=True, kw_only=True)
class LakeQueryArgs(Args):
    max_scan_gb_per_query: int = 10  # one runaway query cannot scan (and bill) more than this (Athena cutoff)
    max_scan_tb_per_day: int = 1  # all queries of a day together (BigQuery quota, Synapse serverless limit)

    def validate(self) -> None:
        in_range("max_scan_gb_per_query", self.max_scan_gb_per_query, 1, 1024 * 1024)
        in_range("max_scan_tb_per_day", self.max_scan_tb_per_day, 1, 1024)

    @property
    def max_scan_bytes_per_query(self) -> int:
        return self.max_scan_gb_per_query * 1024**3

"""DataLake spec (cloud-neutral).

AWS: S3 buckets + KMS + Glue catalog/crawler + Athena workgroup. Azure: ADLS Gen2 account + filesystems + Key Vault
key. GCP: GCS buckets + CMEK + BigQuery dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from components.data_lake.query_spec import LakeQueryArgs
from components.errors import in_range, matches, positive, require
from components.spec_base import Args, Concept


class Zone(StrEnum):
    RAW = "raw"  # landed as received; never edited
    CURATED = "curated"  # validated, feature-engineered Parquet; the queryable tables
    ARTIFACTS = "artifacts"  # model artifacts, Spark logs, query results, data capture


# Output names every cloud registers. lake_uri is the curated zone: the data the platform queries and trains on.
# catalog, curated_table and query_endpoint are where SQL reaches it (components/data_lake/query_<cloud>.py).
OUTPUTS = (
    "lake_uri",
    "raw_uri",
    "curated_uri",
    "artifacts_uri",
    "encryption_key",
    "catalog",
    "curated_table",
    "query_endpoint",
)


@dataclass(frozen=True, kw_only=True)
class AzureLakeOptions(Args):
    allowed_ip_ranges: tuple[str, ...] = ()  # network rules default to deny; these CIDRs are let in
    customer_managed_key: bool = True  # Key Vault key instead of Microsoft-managed keys

    def validate(self) -> None:
        for cidr in self.allowed_ip_ranges:
            matches("allowed_ip_ranges", cidr, r"\d{1,3}(\.\d{1,3}){3}(/\d{1,2})?", "an IPv4 address or CIDR")


@dataclass(frozen=True, kw_only=True)
class DataLakeArgs(Args):
    versioning: bool = True  # recover from overwrites and deletes
    noncurrent_version_expiry_days: int = 30  # bounds the cost of versioning
    raw_cold_after_days: int = 30  # raw data is rarely re-read after features are built
    raw_expiry_days: int | None = None  # None keeps raw data forever (reprocessing needs it)
    access_logging: bool = True  # who read what, for audits
    force_destroy: bool = False  # a destroy must not delete data unless asked to
    key_rotation_days: int = 90  # at most 90 days (CIS GCP 1.10); every cloud's key service accepts 90
    azure: AzureLakeOptions = field(default_factory=AzureLakeOptions)
    query: LakeQueryArgs = field(default_factory=LakeQueryArgs)

    def validate(self) -> None:
        positive("noncurrent_version_expiry_days", self.noncurrent_version_expiry_days)
        positive("raw_cold_after_days", self.raw_cold_after_days)
        if self.raw_expiry_days is not None:
            require(
                self.raw_expiry_days > self.raw_cold_after_days,
                "raw_expiry_days",
                self.raw_expiry_days,
                f"must be greater than raw_cold_after_days ({self.raw_cold_after_days})",
            )
        in_range("key_rotation_days", self.key_rotation_days, 90, 2560)


class DataLake(Concept):
    name = "DataLake"
    outputs = OUTPUTS

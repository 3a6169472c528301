"""DataLake: raw, curated and artifacts zones with customer-managed encryption, a catalog and a query engine."""

from components.data_lake.spec import DataLakeArgs, Zone

__all__ = ["DataLakeArgs", "Zone"]

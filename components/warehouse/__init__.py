"""Warehouse: an optional, off-by-default warehouse loaded from the lake's curated zone (Redshift Serverless,
a Synapse dedicated SQL pool, a BigQuery native table)."""

from components.warehouse.spec import WarehouseArgs

__all__ = ["WarehouseArgs"]

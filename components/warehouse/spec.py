"""Warehouse spec (cloud-neutral): an optional warehouse holding a loaded copy of the lake's curated `listings`.

Off by default: unlike the lake's serverless SQL (billed per query, nothing while idle), a warehouse bills for its
own storage and, on Azure, for every hour its pool is online. AWS: Redshift Serverless in a private VPC. Azure: a
dedicated SQL pool in the lake's Synapse workspace. GCP: a BigQuery dataset whose native table a scheduled query
reloads from the lake's BigLake table. The table has the curated columns plus the partition column (`city`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from components.errors import LOG_RETENTION_DAYS, in_range, matches, one_of, require
from components.spec_base import Args, Concept

# Output names every cloud registers (when the warehouse is enabled; a disabled warehouse creates nothing).
OUTPUTS = (
    "warehouse_endpoint",  # where SQL clients connect: host:port, or the BigQuery API endpoint
    "warehouse_database",  # the Redshift database, the Synapse SQL pool, the BigQuery dataset
    "warehouse_table",  # the loaded `listings` table, fully qualified
    "warehouse_loader",  # the identity that reads the curated zone for the load (and only that zone)
)

TABLE = "listings"

# Base capacities Redshift Serverless accepts: 4 RPU, then 8 to 512 in steps of 8 (and up to 1024 in steps of 32
# in the largest regions, which this platform's regions are not).
RPU_STEPS = (4, *range(8, 513, 8))
# Dedicated SQL pool service levels (Gen2).
SYNAPSE_SKUS = (
    "DW100c",
    "DW200c",
    "DW300c",
    "DW400c",
    "DW500c",
    "DW1000c",
    "DW1500c",
    "DW2000c",
    "DW2500c",
    "DW3000c",
    "DW5000c",
    "DW6000c",
    "DW7500c",
    "DW10000c",
    "DW15000c",
    "DW30000c",
)


@dataclass(frozen=True, kw_only=True)
class AwsWarehouseOptions(Args):
    # The smallest base the service accepts: 4 RPU (64 GB of memory) holds up to 32 TB; raise it for bigger data.
    base_capacity_rpu: int = 4  # Redshift Serverless base capacity; it scales up from here while queries run
    max_rpu_hours_per_day: int = 24  # usage limit: user queries stop for the day once it is spent
    vpc_cidr: str = "10.40.0.0/16"  # the warehouse's own VPC: three private subnets, no route to the internet
    audit_log_retention_days: int = 365  # connection, user and query logs, and the VPC flow logs

    def validate(self) -> None:
        one_of("base_capacity_rpu", self.base_capacity_rpu, RPU_STEPS)
        in_range("max_rpu_hours_per_day", self.max_rpu_hours_per_day, 1, 24 * 512)
        try:
            net = ipaddress.ip_network(self.vpc_cidr, strict=True)
        except ValueError:
            net = None
        require(
            net is not None and net.version == 4 and 16 <= net.prefixlen <= 22 and net.is_private,
            "vpc_cidr",
            self.vpc_cidr,
            "must be a private IPv4 network from /16 to /22 (e.g. 10.40.0.0/16), its host bits zero",
        )
        one_of("audit_log_retention_days", self.audit_log_retention_days, LOG_RETENTION_DAYS)

    def subnet_cidrs(self) -> tuple[str, str, str]:
        """Three subnets, one per availability zone (Redshift Serverless needs three AZs): the first three
        quarters of the VPC, so each is large enough for the addresses a scaling workgroup takes."""
        net = ipaddress.ip_network(self.vpc_cidr)
        quarters = list(net.subnets(prefixlen_diff=2))
        return str(quarters[0]), str(quarters[1]), str(quarters[2])


@dataclass(frozen=True, kw_only=True)
class AzureWarehouseOptions(Args):
    sku: str = "DW100c"  # the smallest dedicated SQL pool; compute bills for every hour it is online
    pause_after_idle_minutes: int = 60  # a Logic App pauses the pool after this long without a query

    def validate(self) -> None:
        one_of("sku", self.sku, SYNAPSE_SKUS)
        # The check runs every 15 minutes (pausing and resuming take minutes), so shorter idle windows cannot be kept.
        in_range("pause_after_idle_minutes", self.pause_after_idle_minutes, 15, 1440)


@dataclass(frozen=True, kw_only=True)
class GcpWarehouseOptions(Args):
    load_every_hours: int = 24  # the scheduled query reloads the native table from the lake this often

    def validate(self) -> None:
        # BigQuery Data Transfer runs scheduled queries at most every 15 minutes; hourly granularity keeps it simple.
        in_range("load_every_hours", self.load_every_hours, 1, 24 * 7)


@dataclass(frozen=True, kw_only=True)
class WarehouseArgs(Args):
    enabled: bool = False  # off by default: a warehouse bills for its own storage and compute (docs/costs.md)
    database: str = "warehouse"  # Redshift database, Synapse SQL pool and BigQuery dataset name
    force_destroy: bool = False  # a destroy must not delete loaded data unless asked to
    aws: AwsWarehouseOptions = field(default_factory=AwsWarehouseOptions)
    azure: AzureWarehouseOptions = field(default_factory=AzureWarehouseOptions)
    gcp: GcpWarehouseOptions = field(default_factory=GcpWarehouseOptions)

    def validate(self) -> None:
        # The strictest of the three: a Redshift identifier, a Synapse pool name and a BigQuery dataset id at once.
        matches(
            "database",
            self.database,
            r"[a-z][a-z0-9_]{0,59}",
            "a lowercase letter then up to 59 lowercase letters, digits or underscores",
        )
        require(
            self.database not in RESERVED_DATABASES,
            "database",
            self.database,
            "is reserved by Redshift or Synapse (" + ", ".join(sorted(RESERVED_DATABASES)) + ")",
        )


# System databases of Redshift and SQL Server: a user database cannot take their names.
RESERVED_DATABASES = frozenset({"master", "padb_harvest", "template0", "template1", "tempdb"})


class Warehouse(Concept):
    name = "Warehouse"
    outputs = OUTPUTS

"""The Warehouse spec and its load statements: off by default, every bad value names its key, known SQL."""

from __future__ import annotations

import pytest

from components.data_lake import curated
from components.errors import InvalidArgs
from components.warehouse import schema
from components.warehouse.spec import AwsWarehouseOptions
from tricloud.config import parse, reference_markdown, with_optional_enabled

BASE = {"aws:region": "ap-south-1"}


def test_off_by_default_with_the_documented_defaults() -> None:
    cfg = parse("aws", BASE)
    wh = cfg.warehouse
    assert wh.enabled is False
    assert (wh.database, wh.force_destroy) == ("warehouse", False)
    # 4 RPU: the smallest base capacity Redshift Serverless accepts.
    assert (wh.aws.base_capacity_rpu, wh.aws.max_rpu_hours_per_day) == (4, 24)
    assert (wh.azure.sku, wh.azure.pause_after_idle_minutes) == ("DW100c", 60)
    assert wh.gcp.load_every_hours == 24


def test_enabled_from_config_keeps_the_other_keys() -> None:
    values = with_optional_enabled({**BASE, "tricloud:warehouse": {"database": "bi"}})
    assert values["tricloud:warehouse"] == {"database": "bi", "enabled": True}
    cfg = parse("aws", values)
    assert (cfg.warehouse.enabled, cfg.warehouse.database) == (True, "bi")


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ({"database": "Warehouse"}, "tricloud:warehouse.database", "Warehouse"),
        ({"database": "1warehouse"}, "tricloud:warehouse.database", "1warehouse"),
        ({"database": "w" * 61}, "tricloud:warehouse.database", "w" * 61),
        ({"database": "tempdb"}, "tricloud:warehouse.database", "tempdb"),
        ({"enabled": "yes"}, "tricloud:warehouse.enabled", "yes"),
        ({"aws": {"base_capacity_rpu": 12}}, "tricloud:warehouse.aws.base_capacity_rpu", 12),
        ({"aws": {"base_capacity_rpu": 520}}, "tricloud:warehouse.aws.base_capacity_rpu", 520),
        ({"aws": {"base_capacity_rpu": 2}}, "tricloud:warehouse.aws.base_capacity_rpu", 2),
        ({"aws": {"max_rpu_hours_per_day": 0}}, "tricloud:warehouse.aws.max_rpu_hours_per_day", 0),
        ({"aws": {"vpc_cidr": "10.40.0.0/24"}}, "tricloud:warehouse.aws.vpc_cidr", "10.40.0.0/24"),
        ({"aws": {"vpc_cidr": "10.40.0.1/16"}}, "tricloud:warehouse.aws.vpc_cidr", "10.40.0.1/16"),
        ({"aws": {"vpc_cidr": "8.8.0.0/16"}}, "tricloud:warehouse.aws.vpc_cidr", "8.8.0.0/16"),
        ({"aws": {"audit_log_retention_days": 100}}, "tricloud:warehouse.aws.audit_log_retention_days", 100),
        ({"azure": {"sku": "DW50c"}}, "tricloud:warehouse.azure.sku", "DW50c"),
        ({"azure": {"pause_after_idle_minutes": 5}}, "tricloud:warehouse.azure.pause_after_idle_minutes", 5),
        ({"gcp": {"load_every_hours": 0}}, "tricloud:warehouse.gcp.load_every_hours", 0),
        ({"gcp": {"schedule": "daily"}}, "tricloud:warehouse.gcp.schedule", "daily"),
    ],
)
def test_each_bad_value_names_its_key(section: dict, key: str, value: object) -> None:
    with pytest.raises(InvalidArgs) as err:
        parse("aws", {**BASE, "tricloud:warehouse": section})
    assert (err.value.field, err.value.value) == (key, value)
    assert key in str(err.value) and repr(value) in str(err.value)


@pytest.mark.parametrize("rpu", [4, 8, 16, 128, 512])
def test_every_base_capacity_the_service_takes_is_accepted(rpu: int) -> None:
    assert AwsWarehouseOptions(base_capacity_rpu=rpu).base_capacity_rpu == rpu


def test_validation_runs_even_when_disabled() -> None:
    """A bad value fails the config now, not on the day the warehouse is switched on."""
    with pytest.raises(InvalidArgs, match=r"tricloud:warehouse\.azure\.sku"):
        parse("aws", {**BASE, "tricloud:warehouse": {"enabled": False, "azure": {"sku": "DW1c"}}})


def test_three_subnets_are_the_first_three_quarters_of_the_vpc() -> None:
    assert AwsWarehouseOptions(vpc_cidr="10.40.0.0/16").subnet_cidrs() == (
        "10.40.0.0/18",
        "10.40.64.0/18",
        "10.40.128.0/18",
    )
    assert AwsWarehouseOptions(vpc_cidr="192.168.8.0/22").subnet_cidrs() == (
        "192.168.8.0/24",
        "192.168.9.0/24",
        "192.168.10.0/24",
    )


def test_the_config_reference_lists_the_warehouse_keys() -> None:
    ref = reference_markdown()
    assert "| `tricloud:warehouse.enabled` | `false` | off by default" in ref
    assert "| `tricloud:warehouse.aws.base_capacity_rpu` | `4` |" in ref
    assert "| `tricloud:warehouse.gcp.load_every_hours` | `24` |" in ref


def test_warehouse_table_is_the_curated_columns_then_city() -> None:
    names = [c.name for c in schema.columns()]
    assert names[-1] == "city" and names[:-1] == [c.name for c in curated.columns()]
    assert "city" not in [c.name for c in curated.columns()]  # the lake keeps it in folder names only
    bq = schema.bigquery_schema()
    assert bq[-1] == {
        "name": "city",
        "type": "STRING",
        "mode": "NULLABLE",
        "description": curated.partition_column().description,
    }


def test_redshift_load_copies_one_city_folder_at_a_time() -> None:
    sqls = schema.redshift_statements("s3://curated-bucket/", cities=("Pune", "Navi Mumbai"))
    # create table, temp stage, clear, then (copy, insert, clear stage) per city
    assert len(sqls) == 3 + 2 * 3
    assert sqls[0].startswith("CREATE TABLE IF NOT EXISTS public.listings (")
    assert "city VARCHAR(64)" in sqls[0] and sqls[0].endswith("SORTKEY (city)")
    assert sqls[2] == "DELETE FROM public.listings"
    assert sqls[3] == (
        "COPY listings_stage FROM 's3://curated-bucket/listings/city=Pune/' IAM_ROLE default FORMAT AS PARQUET"
    )
    assert sqls[4].startswith("INSERT INTO public.listings SELECT ") and sqls[4].endswith(
        ", 'Pune' FROM listings_stage"
    )
    assert "city=Navi Mumbai/" in sqls[6]


def test_load_statements_quote_a_city_with_an_apostrophe() -> None:
    sqls = schema.redshift_statements("s3://b", cities=("O'Hara",))
    assert "'s3://b/listings/city=O''Hara/'" in sqls[3]
    assert sqls[4].endswith(", 'O''Hara' FROM listings_stage")


def test_synapse_load_builds_a_copy_and_swaps_it_in() -> None:
    sql = schema.synapse_script("lakeacct", cities=("Pune",))
    assert (
        "COPY INTO dbo.listings_stage FROM "
        "'https://lakeacct.dfs.core.windows.net/curated/listings/city=Pune/*.parquet' "
        "WITH (FILE_TYPE = 'PARQUET', CREDENTIAL = (IDENTITY = 'Managed Identity'));"
    ) in sql
    lines = sql.splitlines()
    # the new copy is built first, the rename swap comes last: readers never see a half-loaded table
    assert lines.index("RENAME OBJECT dbo.listings_loading TO listings;") > max(
        i for i, line in enumerate(lines) if line.startswith("COPY INTO")
    )
    assert "BEGIN TRANSACTION" not in sql  # COPY INTO cannot run inside a user transaction


def test_bigquery_load_replaces_the_rows_in_one_transaction() -> None:
    q = schema.bigquery_load_query("p.lake.listings", "p.wh.listings")
    lines = q.splitlines()
    assert lines[0] == "BEGIN TRANSACTION;" and lines[-1] == "COMMIT TRANSACTION;"
    assert lines[1] == "DELETE FROM `p.wh.listings` WHERE TRUE;"
    assert lines[3].startswith("SELECT ") and lines[3].endswith(", city FROM `p.lake.listings`;")

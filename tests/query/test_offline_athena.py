"""`tricloud query aws`: Athena SQL over the emulated lake, with answers worked out by hand from conftest.ROWS.

ROWS: Mumbai prices 1000, 3000, 2000 (areas 10, 20, 40; bedrooms 1, 3, 2); Pune 100, 200 (areas 10, 10;
bedrooms 2, 2); Delhi 500 (area 5; bedrooms 3).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from query_support import Lake, listing_table

from components.data_lake import curated
from tricloud.query.catalog import session
from tricloud.query.demo import run_example
from tricloud.query.engine import CANCELLED_REASON, QueryFailed, java_double, result_csv


def run(lake: Lake, sql: str) -> list[list[object]]:
    return session(lake.emulator, lake.outputs).run(sql).rows


def test_the_saved_example_is_the_average_price_per_city(lake: Lake) -> None:
    sql, result = run_example(lake.emulator, lake.outputs)
    assert sql == curated.EXAMPLE_QUERIES[0].sql  # read back from the workgroup's saved (named) query
    # Mumbai (1000+3000+2000)/3 = 2000; Delhi 500/1; Pune (100+200)/2 = 150; most expensive first.
    assert result.rows == [["Mumbai", 3, 2000.0], ["Delhi", 1, 500.0], ["Pune", 2, 150.0]]
    assert result.columns == [("city", "varchar"), ("listings", "bigint"), ("avg_price_inr", "double")]


def test_partition_filter_and_integer_division_follow_trino(lake: Lake) -> None:
    # Pune only: bedrooms 2 + 2 = 4 over 2 rows; Trino's integer / integer is 2 (not 2.0).
    assert run(lake, "SELECT sum(bedrooms) / count(*) FROM listings WHERE city = 'Pune'") == [[2]]
    # All rows: bedrooms 1+3+2+2+2+3 = 13 over 6 rows = 2 in integer division (2.1666 in floating point).
    assert run(lake, "SELECT sum(bedrooms) / count(*) AS b FROM listings") == [[2]]
    # approx_percentile is translated (DuckDB's approx_quantile); Mumbai price per sqft: 100, 150, 50 -> median 100.
    rows = run(
        lake, "SELECT approx_percentile(price_inr / area_sqft, 0.5) FROM listings WHERE city IN ('Mumbai')"
    )
    assert rows == [[100.0]]


def test_qualified_names_ctes_and_joins_resolve_in_the_catalog(lake: Lake) -> None:
    db = lake.outputs["catalog"]
    sql = (
        f"WITH per_city AS (SELECT city, max(price_inr) AS top FROM awsdatacatalog.{db}.listings GROUP BY city) "
        "SELECT l.city, count(*) FROM listings l JOIN per_city p ON l.city = p.city AND l.price_inr = p.top "
        "GROUP BY l.city ORDER BY l.city"
    )
    # One listing per city holds its city's top price.
    assert run(lake, sql) == [["Delhi", 1], ["Mumbai", 1], ["Pune", 1]]


def test_results_are_written_where_the_workgroup_says_encrypted_with_the_lake_key(lake: Lake) -> None:
    before = set(lake.results())
    result = session(lake.emulator, lake.outputs).run(
        "SELECT city, count(*) AS n FROM listings GROUP BY city ORDER BY city"
    )
    written = set(lake.results()) - before
    key = f"athena-results/{result.query_execution_id}.csv"
    assert written == {key, key + ".metadata"}
    bucket = str(lake.outputs["artifacts_uri"]).removeprefix("s3://").rstrip("/")
    obj = lake.emulator.client("s3").get_object(Bucket=bucket, Key=key)
    assert obj["Body"].read().decode() == '"city","n"\n"Delhi","1"\n"Mumbai","3"\n"Pune","2"\n'
    assert obj["ServerSideEncryption"] == "aws:kms"
    assert obj["SSEKMSKeyId"] == lake.outputs["encryption_key"]


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("CREATE TABLE x AS SELECT 1", "NOT_SUPPORTED: CREATE statements"),
        ("INSERT INTO listings SELECT * FROM listings", "NOT_SUPPORTED: INSERT statements"),
        ("SELECT * FROM nowhere", "TABLE_NOT_FOUND: Table 'awsdatacatalog.tricloud_aws_qtest_lake.nowhere'"),
        ("SELECT FROM WHERE", "SYNTAX_ERROR"),
        ("SELECT no_such_column FROM listings", "COLUMN_NOT_FOUND"),
    ],
)
def test_statements_athena_would_not_run_here_fail_with_a_reason(lake: Lake, sql: str, reason: str) -> None:
    with pytest.raises(QueryFailed) as err:
        run(lake, sql)
    assert err.value.state == "FAILED"
    assert err.value.reason.startswith(reason), err.value.reason


def test_the_bytes_cutoff_refuses_before_running(lake: Lake) -> None:
    """10 MB is Athena's smallest cutoff. A Chennai file with 1.5M random doubles in price_inr holds ~12 MB of
    incompressible column chunk; its bedrooms column is one repeated value (a few bytes after dictionary/RLE)."""
    rng = np.random.default_rng(7)
    n = 1_500_000
    big = listing_table([(0.0, 1.0, 1)]).slice(0, 0)
    cols = {
        f.name: pa.array(np.zeros(n), f.type) if f.type == pa.float64() else pa.nulls(n, f.type)
        for f in big.schema
    }
    cols["price_inr"] = pa.array(rng.random(n))
    cols["bedrooms"] = pa.array(np.ones(n, dtype=np.int32))
    lake.put_parquet("Chennai", pa.table(cols, schema=big.schema), "part-big.parquet")
    athena = lake.emulator.client("athena")
    conf = athena.get_work_group(WorkGroup=str(lake.outputs["query_endpoint"]))["WorkGroup"]["Configuration"]
    # A second workgroup like the stack's, with the smallest cutoff (moto has no UpdateWorkGroup).
    athena.create_work_group(
        Name="cutoff-10mb", Configuration={**conf, "BytesScannedCutoffPerQuery": 10 * 1024**2}
    )
    small = {**lake.outputs, "query_endpoint": "cutoff-10mb"}
    try:
        before = lake.results()
        with pytest.raises(QueryFailed) as err:
            session(lake.emulator, small).run("SELECT avg(price_inr) FROM listings")
        assert (err.value.state, err.value.reason) == ("CANCELLED", CANCELLED_REASON)
        assert "cutoff-10mb allows 10,485,760" in err.value.detail
        assert lake.results() == before  # refused before running: no result file
        # The same table, read so that the big chunk is not scanned: by partition, by column, by metadata.
        pune = session(lake.emulator, small).run("SELECT avg(price_inr) FROM listings WHERE city = 'Pune'")
        assert pune.rows == [[150.0]]
        ones = session(lake.emulator, small).run("SELECT count(*) FROM listings WHERE bedrooms = 1")
        assert ones.rows == [[n + 1]]  # the Chennai rows and Mumbai's one-bedroom listing
        assert session(lake.emulator, small).run("SELECT count(*) FROM listings").rows == [[n + 6]]
    finally:
        athena.delete_work_group(WorkGroup="cutoff-10mb")
        bucket, _, prefix = lake.run_uri.removeprefix("s3://").partition("/")
        lake.emulator.client("s3").delete_object(Bucket=bucket, Key=f"{prefix}city=Chennai/part-big.parquet")


def test_registration_is_what_a_crawler_would_write(lake: Lake) -> None:
    glue = lake.emulator.client("glue")
    db, name = str(lake.outputs["curated_table"]).split(".")
    table = glue.get_table(DatabaseName=db, Name=name)["Table"]
    want = [
        (c.name, {"string": "string", "int": "int", "double": "double"}[c.kind]) for c in curated.columns()
    ]
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == want
    assert table["StorageDescriptor"]["Location"] == lake.run_uri
    assert table["PartitionKeys"][0]["Name"] == "city"
    assert table["Parameters"]["storage.location.template"] == lake.run_uri + "city=${city}/"
    assert table["Parameters"]["recordCount"] == "6"
    parts = glue.get_partitions(DatabaseName=db, TableName=name)["Partitions"]
    assert sorted((p["Values"][0], p["StorageDescriptor"]["Location"]) for p in parts) == [
        (c, f"{lake.run_uri}city={c}/") for c in ("Delhi", "Mumbai", "Pune")
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (14009583.0, "1.4009583E7"),
        (12345.0, "12345.0"),
        (0.001, "0.001"),
        (0.0001, "1.0E-4"),
        (-2.5e10, "-2.5E10"),
    ],
)
def test_doubles_are_written_as_athena_writes_them(value: float, text: str) -> None:
    assert java_double(value) == text


def test_result_csv_quotes_values_and_leaves_null_empty() -> None:
    got = result_csv([("a", "varchar"), ("b", "double")], [['say "hi"', None], ["x", 1.5]])
    assert got == '"a","b"\n"say ""hi""",\n"x","1.5"\n'

"""The catalogs declare exactly what the feature job writes: a real Spark run's Parquet schema against the Glue
table (AWS), the BigLake table (GCP) and the serverless SQL view (Azure) the stacks declare."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.data import generate, write_listings
from components.data_lake import curated
from components.data_lake.query_azure import setup_sql
from tricloud.inventory import build_inventory

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
# Parquet (Arrow) type of each catalog's column type, for the three vocabularies.
GLUE = {"int": pa.int32(), "double": pa.float64(), "string": pa.string()}
BIGQUERY = {"INTEGER": (pa.int32(), pa.int64()), "FLOAT": (pa.float64(),), "STRING": (pa.string(),)}


@pytest.fixture(scope="module")
def spark_schema(tmp_path_factory: pytest.TempPathFactory) -> pa.Schema:
    """The schema of the curated Parquet a real (local) Spark run of app.features writes."""
    pyspark = pytest.importorskip("pyspark", reason="the spark extra (pyspark) is not installed")
    from app.features.job import run

    root: Path = tmp_path_factory.mktemp("curated")
    raw = write_listings(generate(300, seed=5, malformed_fraction=0.05), root / "raw.csv")
    spark = (
        pyspark.sql.SparkSession.builder.master("local[1]")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )
    run(spark, str(raw), str(root / "out"), str(root / "quarantine"))
    files = sorted((root / "out").glob(f"{curated.PARTITION_COLUMN}=*/*.parquet"))
    assert files, "the feature job wrote no partition folders"
    schemas = {str(pq.read_schema(f)) for f in files}
    assert len(schemas) == 1, "the partitions disagree on their schema"
    return pq.read_schema(files[0])


@pytest.fixture(scope="module")
def inventories() -> dict[str, Any]:
    return {cloud: build_inventory(cloud) for cloud in ("aws", "gcp")}


def one(inv: dict[str, Any], typ: str) -> dict[str, Any]:
    (r,) = [r for r in inv["resources"] if r["type"] == typ]
    return dict(r["inputs"])


def test_glue_table_declares_the_spark_output(spark_schema: pa.Schema, inventories: dict[str, Any]) -> None:
    table = one(inventories["aws"], "aws:glue/catalogTable:CatalogTable")
    declared = [(c["name"], GLUE[c["type"]]) for c in table["storageDescriptor"]["columns"]]
    assert declared == [(f.name, f.type) for f in spark_schema]
    assert [k["name"] for k in table["partitionKeys"]] == [curated.PARTITION_COLUMN]
    assert curated.PARTITION_COLUMN not in spark_schema.names  # it lives in the folder names only


def test_bigquery_table_declares_the_spark_output(
    spark_schema: pa.Schema, inventories: dict[str, Any]
) -> None:
    table = one(inventories["gcp"], "gcp:bigquery/table:Table")
    declared = json.loads(table["externalDataConfiguration"]["schema"])
    assert [c["name"] for c in declared] == spark_schema.names
    for c, f in zip(declared, spark_schema, strict=True):
        assert f.type in BIGQUERY[c["type"]], (c, f)


def test_synapse_view_declares_the_spark_output(spark_schema: pa.Schema) -> None:
    sql = setup_sql("account", 1)
    body = sql.split(") WITH (", 1)[1].split(") AS r;", 1)[0]
    declared = [line.strip().rstrip(",").split(" ", 1) for line in body.strip().splitlines()]
    synapse = {"INT": pa.int32(), "FLOAT": pa.float64()}
    assert [name for name, _ in declared] == spark_schema.names
    for (name, typ), f in zip(declared, spark_schema, strict=True):
        assert synapse.get(typ.split(" ")[0], pa.string()) == f.type, name

"""The curated `listings` table, defined once for every catalog: Glue (AWS), Synapse serverless SQL (Azure) and
BigQuery (GCP), the offline query engine and the tests.

The columns are what `app.features.job` writes: the validated listing fields (integers cast to int, numbers to
double), then the `f_*` features (a feature that copies a column keeps its type, every other is a double). The
partition column (`city`) lives in the folder names (`city=Pune/`), not in the files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.features.definitions import FEATURES
from app.schema import CITIES, TRAINING_FIELDS

Kind = Literal["string", "int", "double"]

TABLE = "listings"
PREFIX = (
    "listings/"  # under the curated zone: app.features writes <curated>/listings/city=<city>/part-*.parquet
)
PARTITION_COLUMN = (
    "city"  # app.features.job.PARTITION_COLUMN (that module needs pyspark, so it is not imported)
)
PARTITION_VALUES: tuple[str, ...] = CITIES  # the schema admits these cities only: the partitions are known
FEATURE_PREFIX = "f_"  # app.features.job.FEATURE_PREFIX

# Column types in each catalog's vocabulary.
GLUE_TYPES: dict[Kind, str] = {"string": "string", "int": "int", "double": "double"}
BIGQUERY_TYPES: dict[Kind, str] = {"string": "STRING", "int": "INTEGER", "double": "FLOAT"}
# Serverless SQL reads Parquet strings as UTF-8 only with a _UTF8 collation (else a warning and mojibake).
SYNAPSE_TYPES: dict[Kind, str] = {
    "string": "VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8",
    "int": "INT",
    "double": "FLOAT",
}
_FIELD_KINDS: dict[str, Kind] = {"string": "string", "integer": "int", "number": "double"}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    description: str


def columns() -> tuple[Column, ...]:
    """The data columns of the curated Parquet files, in file order (the partition column is not one)."""
    fields = {f.name: f for f in TRAINING_FIELDS}
    cols = [
        Column(f.name, _FIELD_KINDS[f.kind], f.description + (f" ({f.unit})" if f.unit else ""))
        for f in TRAINING_FIELDS
        if f.name != PARTITION_COLUMN
    ]
    for name, expr in FEATURES:
        # A feature that copies a typed column keeps its type; every computed feature is cast to double.
        copied = fields.get(expr.args[0]) if expr.op == "col" else None
        kind: Kind = _FIELD_KINDS[copied.kind] if copied is not None else "double"
        cols.append(Column(FEATURE_PREFIX + name, kind, f"model feature {name}"))
    return tuple(cols)


def partition_column() -> Column:
    return Column(PARTITION_COLUMN, "string", "City of the listing (partition: the folder city=<value>/)")


@dataclass(frozen=True)
class ExampleQuery:
    name: str
    description: str
    sql: str  # Athena (Trino) dialect; the same text runs offline through `tricloud query aws`


# The example queries of docs/query.md. The first is the one the demo prints after Spark and the one saved as an
# Athena named query in the workgroup.
EXAMPLE_QUERIES: tuple[ExampleQuery, ...] = (
    ExampleQuery(
        "avg-price-per-city",
        "Average sale price per city (INR), most expensive first",
        f"SELECT city, count(*) AS listings, round(avg(price_inr)) AS avg_price_inr\n"
        f"FROM {TABLE}\nGROUP BY city\nORDER BY avg_price_inr DESC",
    ),
    ExampleQuery(
        "price-per-sqft-by-tier",
        "Median price per square foot by locality tier in one city (one partition scanned)",
        f"SELECT locality_tier, approx_percentile(price_inr / area_sqft, 0.5) AS median_inr_per_sqft\n"
        f"FROM {TABLE}\nWHERE city = 'Mumbai'\nGROUP BY locality_tier\nORDER BY locality_tier",
    ),
    ExampleQuery(
        "bedrooms-mix",
        "Share of listings by bedroom count",
        f"SELECT bedrooms, count(*) AS listings,\n"
        f"       round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS percent\n"
        f"FROM {TABLE}\nGROUP BY bedrooms\nORDER BY bedrooms",
    ),
)

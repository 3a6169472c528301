"""The feature job: raw listings -> validated, featurised, partitioned Parquet.

Runs unchanged in local mode, on EMR Serverless, Dataproc Serverless and Databricks: it takes
the SparkSession it is given (or the one spark-submit created) and URIs; it never sets a master
or storage credentials, which belong to the platform (or the offline emulator).
Nothing is dropped silently: every input row ends up either in the curated output or in the
quarantine with its reasons, and the returned counts add up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column
from pyspark.sql import functions as F

from app.features.definitions import FEATURES, Expr
from app.schema import NUMBER_PATTERN, TRAINING_FIELDS, ErrorCode, Field

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

FEATURE_PREFIX = "f_"
ERRORS_COLUMN = "_errors"
PARTITION_COLUMN = "city"


def read_raw(spark: SparkSession, uri: str, fmt: str | None = None) -> DataFrame:
    fmt = fmt or ("csv" if uri.rstrip("/").lower().endswith(".csv") else "parquet")
    if fmt == "csv":
        # Every cell read as text: type errors become quarantine reasons, not parse failures.
        return spark.read.option("header", True).option("inferSchema", False).csv(uri)
    if fmt == "parquet":
        return spark.read.parquet(uri)
    raise ValueError(f"--format must be csv or parquet, got {fmt!r}")


def _text(name: str) -> Column:
    return F.trim(F.col(f"`{name}`").cast("string"))


def _parse(f: Field) -> tuple[Column, Column]:
    """(typed value, error code or NULL) for one field, mirroring ``app.schema.check_value``."""
    raw = _text(f.name)
    missing = raw.isNull() | (raw == "")
    if f.kind == "string":
        err = F.when(missing, ErrorCode.MISSING.value)
        if f.allowed is not None:
            err = err.when(~raw.isin(*f.allowed), ErrorCode.NOT_ALLOWED.value)
        return raw, err
    # try_cast stays NULL-on-failure even where ANSI mode is on (Databricks SQL warehouses).
    num = F.expr(f"try_cast(trim(CAST(`{f.name}` AS STRING)) AS DOUBLE)")
    # Text must be a plain decimal (same pattern as the Python validator); typed Parquet columns
    # stringify to such text, or to "1.0E7", which the pattern also accepts.
    bad_type = num.isNull() | ~raw.rlike(f"^{NUMBER_PATTERN}$") | F.isnan(num) | (F.abs(num) == float("inf"))
    if f.kind == "integer":
        bad_type = bad_type | (num != F.floor(num))
    out_of_range = F.lit(False)
    if f.minimum is not None:
        out_of_range = out_of_range | (num < F.lit(float(f.minimum)))
    if f.maximum is not None:
        out_of_range = out_of_range | (num > F.lit(float(f.maximum)))
    err = (
        F.when(missing, ErrorCode.MISSING.value)
        .when(bad_type, ErrorCode.WRONG_TYPE.value)
        .when(out_of_range, ErrorCode.OUT_OF_RANGE.value)
    )
    typed = num.cast("int") if f.kind == "integer" else num
    return typed, err


def to_spark(e: Expr) -> Column:
    """Compile a feature expression (app.features.definitions) to a Spark Column."""
    op, a = e.op, e.args
    if op == "col":
        return F.col(a[0])
    if op == "log":
        return F.log(to_spark(a[0]).cast("double"))
    if op == "log1p":
        return F.log1p(to_spark(a[0]).cast("double"))
    if op == "div":
        return to_spark(a[0]).cast("double") / to_spark(a[1]).cast("double")
    if op == "sub":
        return to_spark(a[0]).cast("double") - to_spark(a[1]).cast("double")
    if op == "least":
        return F.least(to_spark(a[0]).cast("double"), F.lit(a[1]))
    if op == "eq":
        return F.when(to_spark(a[0]) == F.lit(a[1]), 1.0).otherwise(0.0)
    if op == "lookup":
        table = dict(a[1])
        return F.create_map(*[F.lit(x) for kv in table.items() for x in kv])[to_spark(a[0])].cast("double")
    raise ValueError(f"unknown feature op {op!r}")


def validate(raw: DataFrame) -> DataFrame:
    """Typed columns plus an array of ``field:code`` reasons (empty for a valid row)."""
    missing_cols = [f.name for f in TRAINING_FIELDS if f.name not in raw.columns]
    if missing_cols:
        raise ValueError(f"input is missing columns {missing_cols}; found {raw.columns}")
    typed: list[Column] = []
    reasons: list[Column] = []
    for f in TRAINING_FIELDS:
        value, err = _parse(f)
        typed.append(value.alias(f.name))
        reasons.append(F.when(err.isNotNull(), F.concat(F.lit(f"{f.name}:"), err)))
    raw_text = [F.col(f"`{c}`").cast("string").alias(f"raw_{c}") for c in raw.columns]
    errors = F.filter(F.array(*reasons), lambda x: x.isNotNull()).alias(ERRORS_COLUMN)
    return raw.select(*typed, *raw_text, errors)


def featurize(valid: DataFrame) -> DataFrame:
    return valid.select(
        *[F.col(f.name) for f in TRAINING_FIELDS],
        *[to_spark(e).alias(FEATURE_PREFIX + name) for name, e in FEATURES],
    )


def run(
    spark: SparkSession,
    input_uri: str,
    output_uri: str,
    quarantine_uri: str,
    *,
    input_format: str | None = None,
) -> dict[str, Any]:
    """Run the job; returns counts: input_rows, valid_rows, quarantined_rows, reasons{field:code}."""
    checked = validate(read_raw(spark, input_uri, input_format)).persist()
    try:
        is_bad = F.size(F.col(ERRORS_COLUMN)) > 0
        quarantined = checked.where(is_bad).select(
            *[c for c in checked.columns if c.startswith("raw_")],
            F.col(ERRORS_COLUMN).alias("reasons"),
            F.current_timestamp().alias("quarantined_at"),
        )
        quarantined.write.mode("overwrite").parquet(quarantine_uri)
        curated = featurize(checked.where(~is_bad))
        curated.write.mode("overwrite").partitionBy(PARTITION_COLUMN).parquet(output_uri)
        totals = checked.select(
            F.count(F.lit(1)).alias("input_rows"),
            F.sum(F.when(is_bad, 1).otherwise(0)).alias("quarantined_rows"),
        ).first()
        reason_rows = (
            checked.select(F.explode(F.col(ERRORS_COLUMN)).alias("reason"))
            .groupBy("reason")
            .count()
            .collect()
        )
    finally:
        checked.unpersist()
    input_rows = int(totals["input_rows"]) if totals else 0
    bad = int(totals["quarantined_rows"] or 0) if totals else 0
    reasons: Mapping[str, int] = {r["reason"]: int(r["count"]) for r in reason_rows}
    return {
        "input_rows": input_rows,
        "valid_rows": input_rows - bad,
        "quarantined_rows": bad,
        "reasons": dict(sorted(reasons.items())),
        "output_uri": output_uri,
        "quarantine_uri": quarantine_uri,
    }

"""After a Spark run: register the curated output in the Glue catalog as a crawler would, and open a session.

A Glue crawler over the run's folder would read the Parquet footers, set the table's columns to the files' schema,
its location to the folder, and add one partition per `city=<value>/` folder. The emulator never runs the
crawler, so `register_curated_table` does exactly that with the Glue API; the table declared by the stack
(components/data_lake/query_aws.py) keeps its partition projection, whose template is moved to the same folder.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from tricloud.query.engine import OfflineAthena
from tricloud.query.lake import (
    LakeError,
    arrow_to_hive,
    list_objects,
    parquet_schema,
    s3_filesystem,
    split_s3,
)


@dataclass(frozen=True)
class Registration:
    table: str  # database.table
    location: str
    columns: list[tuple[str, str]]
    partitions: dict[str, str]  # value -> location
    objects: int
    records: int


def _partition_folder(rel: str, key: str) -> str | None:
    head = rel.split("/", 1)[0]
    return head.split("=", 1)[1] if head.startswith(f"{key}=") and "/" in rel else None


def register_curated_table(
    glue: Any, s3: Any, fs: Any, *, database: str, table: str, location: str, partition_key: str
) -> Registration:
    """Columns from the Parquet schema, one partition per `<key>=<value>/` folder, location = this run's folder."""
    import pyarrow.parquet as pq

    location = location.replace("s3a://", "s3://", 1).rstrip("/") + "/"
    bucket, prefix = split_s3(location)
    by_value: dict[str, list[str]] = defaultdict(list)
    for path, _size in list_objects(s3, location):
        value = _partition_folder(path[len(bucket) + 1 + len(prefix) :], partition_key)
        if value is not None:
            by_value[value].append(path)
    if not by_value:
        raise LakeError(
            f"{location}: no Parquet under {partition_key}=<value>/ folders (did the Spark job run?)"
        )
    schemas = {path: parquet_schema(fs, path) for paths in by_value.values() for path in paths}
    first = next(iter(schemas.values()))
    for path, schema in schemas.items():
        if not schema.equals(first):
            # A crawler would split such files into separate tables; the curated zone must never hold them.
            raise LakeError(f"{path}: its Parquet schema differs from the other files of {location}")
    columns = [(f.name, arrow_to_hive(f.type, f"{location}{f.name}")) for f in first]
    records = sum(pq.ParquetFile(p, filesystem=fs).metadata.num_rows for p in schemas)
    try:
        current = glue.get_table(DatabaseName=database, Name=table)["Table"]
    except glue.exceptions.EntityNotFoundException:
        current = {"Name": table, "TableType": "EXTERNAL_TABLE", "Parameters": {"classification": "parquet"}}
    sd = dict(current.get("StorageDescriptor") or {})
    params = dict(current.get("Parameters") or {})
    params.update(
        {
            "classification": "parquet",
            "compressionType": "none",  # what crawlers record for Parquet (compression is per column chunk)
            "typeOfData": "file",
            "objectCount": str(len(schemas)),
            "recordCount": str(records),
        }
    )
    if "storage.location.template" in params:
        params["storage.location.template"] = f"{location}{partition_key}=${{{partition_key}}}/"
    comments = {c["Name"]: c.get("Comment") for c in sd.get("Columns", [])}
    sd["Columns"] = [
        {"Name": n, "Type": t, **({"Comment": comments[n]} if comments.get(n) else {})} for n, t in columns
    ]
    sd["Location"] = location
    sd.setdefault("InputFormat", "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat")
    sd.setdefault("OutputFormat", "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat")
    sd.setdefault(
        "SerdeInfo", {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"}
    )
    table_input = {
        "Name": table,
        "TableType": current.get("TableType", "EXTERNAL_TABLE"),
        "Parameters": params,
        "PartitionKeys": current.get("PartitionKeys") or [{"Name": partition_key, "Type": "string"}],
        "StorageDescriptor": sd,
        **({"Description": current["Description"]} if current.get("Description") else {}),
    }
    if "StorageDescriptor" in current:
        glue.update_table(DatabaseName=database, TableInput=table_input)
    else:
        glue.create_table(DatabaseName=database, TableInput=table_input)
    # Partitions of the previous run point at its folder: replace them all.
    old = [
        {"Values": p["Values"]}
        for page in glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table)
        for p in page.get("Partitions", [])
    ]
    for i in range(0, len(old), 25):
        glue.batch_delete_partition(
            DatabaseName=database, TableName=table, PartitionsToDelete=old[i : i + 25]
        )
    partitions = {value: f"{location}{partition_key}={value}/" for value in sorted(by_value)}
    inputs = [
        {"Values": [value], "StorageDescriptor": {**sd, "Location": loc}} for value, loc in partitions.items()
    ]
    for i in range(0, len(inputs), 100):
        glue.batch_create_partition(
            DatabaseName=database, TableName=table, PartitionInputList=inputs[i : i + 100]
        )
    return Registration(f"{database}.{table}", location, columns, partitions, len(schemas), records)


def session(emulator: Any, outputs: dict[str, Any], database: str | None = None) -> OfflineAthena:
    """An offline Athena session on the stack's workgroup (`query_endpoint`) and database (`catalog`)."""

    fs = s3_filesystem(emulator.url_for("s3"), emulator.region, *emulator.caller_keys("s3"))
    return OfflineAthena(
        glue=emulator.client("glue"),
        s3=emulator.client("s3"),
        athena=emulator.client("athena"),
        fs=fs,
        workgroup=str(outputs["query_endpoint"]),
        database=database or str(outputs["catalog"]),
    )

"""Reading the emulated lake as Athena does: Glue tables -> partitions -> Parquet objects in S3.

Tables, partitions and locations come from the Glue catalog in the emulator; the bytes are read through the
emulator's S3 endpoint with pyarrow's S3 filesystem (range reads of the Parquet footers and column chunks), so a
query reads exactly the objects an Athena query of that table would.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"

# Hive/Glue column types -> Arrow (what a Parquet column of that type holds).
_SIMPLE_HIVE: dict[str, pa.DataType] = {
    "tinyint": pa.int8(),
    "smallint": pa.int16(),
    "int": pa.int32(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "string": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}


class LakeError(Exception):
    """The catalog or the data cannot be read as a table (names the table and the reason)."""


def hive_to_arrow(hive_type: str, where: str) -> pa.DataType:
    t = hive_type.strip().lower()
    if t in _SIMPLE_HIVE:
        return _SIMPLE_HIVE[t]
    if re.fullmatch(r"(var)?char\(\d+\)", t):
        return pa.string()
    m = re.fullmatch(r"decimal\((\d+),\s*(\d+)\)", t)
    if m:
        return pa.decimal128(int(m.group(1)), int(m.group(2)))
    raise LakeError(f"{where}: column type {hive_type!r} is not supported offline")


def arrow_to_hive(t: pa.DataType, where: str) -> str:
    """What a Glue crawler writes for a Parquet column of this Arrow type."""
    for hive, arrow in _SIMPLE_HIVE.items():
        if hive not in ("integer",) and t == arrow:
            return hive
    if pa.types.is_large_string(t):
        return "string"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    raise LakeError(f"{where}: Parquet type {t} has no Glue column type here")


def split_s3(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    if parts.scheme not in ("s3", "s3a") or not parts.netloc:
        raise LakeError(f"location {uri!r} is not an s3:// URI")
    return parts.netloc, parts.path.lstrip("/")


def s3_filesystem(
    endpoint_url: str, region: str, access_key: str, secret_key: str, session_token: str | None = None
) -> pafs.S3FileSystem:
    url = urlsplit(endpoint_url)
    return pafs.S3FileSystem(
        access_key=access_key,
        secret_key=secret_key,
        session_token=session_token,
        region=region,
        scheme=url.scheme or "http",
        endpoint_override=url.netloc,
        connect_timeout=5,  # loopback: a slow answer means the emulator is gone
        request_timeout=60,
        retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=2),
    )


@dataclass(frozen=True)
class DataFile:
    path: str  # bucket/key, as pyarrow's S3 filesystem names it
    size: int
    partition: tuple[str, ...]  # partition values, in the table's partition-key order


@dataclass
class Table:
    database: str
    name: str
    columns: list[tuple[str, str]]  # (name, hive type) of the data columns
    partition_keys: list[tuple[str, str]]
    files: list[DataFile] = field(default_factory=list)

    @property
    def qualified(self) -> str:
        return f"{self.database}.{self.name}"

    def schema(self) -> pa.Schema:
        return pa.schema(
            [
                pa.field(n, hive_to_arrow(t, f"{self.qualified}.{n}"))
                for n, t in (*self.columns, *self.partition_keys)
            ]
        )

    def dataset(self, fs: pafs.FileSystem) -> ds.Dataset:
        """An Arrow dataset over the table's files; partition values come from the catalog, not the file."""
        keys = [k for k, _ in self.partition_keys]
        schema = self.schema()

        def expression(values: tuple[str, ...]) -> pc.Expression:
            # A conjunction of `key == value`: the form Arrow reads partition values back from.
            parts = [
                pc.field(key) == pa.scalar(value).cast(schema.field(key).type)
                for key, value in zip(keys, values, strict=True)
            ]
            expr = parts[0]
            for part in parts[1:]:
                expr = expr & part
            return expr

        return ds.FileSystemDataset.from_paths(
            [f.path for f in self.files],
            schema=schema,
            format=ds.ParquetFileFormat(),
            filesystem=fs,
            partitions=[expression(f.partition) for f in self.files] if keys else None,
        )


def _visible(key: str) -> bool:
    # Athena (Hive) ignores objects whose name starts with `_` or `.` (_SUCCESS, .crc) and folder markers.
    name = key.rsplit("/", 1)[-1]
    return bool(name) and not name.startswith(("_", "."))


def list_objects(s3: Any, uri: str) -> list[tuple[str, int]]:
    bucket, prefix = split_s3(uri)
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    out: list[tuple[str, int]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        out.extend(
            (f"{bucket}/{o['Key']}", int(o["Size"])) for o in page.get("Contents", []) if _visible(o["Key"])
        )
    return out


def projected_partitions(
    params: dict[str, str], keys: list[str], where: str
) -> list[tuple[tuple[str, ...], str]]:
    """Partition values and locations from Athena partition projection (enum projections only)."""
    template = params.get("storage.location.template")
    if not template:
        raise LakeError(
            f"{where}: partition projection without storage.location.template is not supported offline"
        )
    combos: list[tuple[tuple[str, ...], str]] = [((), template)]
    for key in keys:
        kind = params.get(f"projection.{key}.type")
        if kind != "enum":
            raise LakeError(
                f"{where}: projection type {kind!r} of {key} is not supported offline (enum only)"
            )
        values = [v.strip() for v in params.get(f"projection.{key}.values", "").split(",") if v.strip()]
        combos = [((*vals, v), loc.replace(f"${{{key}}}", v)) for vals, loc in combos for v in values]
    return combos


def load_table(glue: Any, s3: Any, database: str, name: str) -> Table:
    """The table as Athena would plan it: columns, partitions (projected or registered) and their objects."""
    where = f"{database}.{name}"
    try:
        t = glue.get_table(DatabaseName=database, Name=name)["Table"]
    except glue.exceptions.EntityNotFoundException:
        raise LakeError(f"TABLE_NOT_FOUND: Table 'awsdatacatalog.{where}' does not exist") from None
    sd = t.get("StorageDescriptor", {})
    serde = sd.get("SerdeInfo", {}).get("SerializationLibrary", "")
    params = {**t.get("Parameters", {})}
    if serde != PARQUET_SERDE and params.get("classification") != "parquet":
        raise LakeError(f"{where}: only Parquet tables are read offline (serde {serde or 'none'})")
    table = Table(
        database=database,
        name=name,
        columns=[(c["Name"].lower(), c["Type"]) for c in sd.get("Columns", [])],
        partition_keys=[(c["Name"].lower(), c["Type"]) for c in t.get("PartitionKeys", [])],
    )
    keys = [k for k, _ in table.partition_keys]
    if not keys:
        locations: Iterable[tuple[tuple[str, ...], str]] = [((), sd.get("Location", ""))]
    elif params.get("projection.enabled", "").lower() == "true":
        locations = projected_partitions(params, keys, where)  # Athena ignores registered partitions then
    else:
        locations = [
            (tuple(p["Values"]), p["StorageDescriptor"]["Location"])
            for page in glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=name)
            for p in page.get("Partitions", [])
        ]
    for values, location in locations:
        table.files.extend(DataFile(path, size, values) for path, size in list_objects(s3, location))
    return table


def parquet_schema(fs: pafs.FileSystem, path: str) -> pa.Schema:
    return pq.read_schema(path, filesystem=fs)


def scan_bytes(fs: pafs.FileSystem, files: Iterable[DataFile], columns: set[str]) -> int:
    """Bytes a Parquet scan of `columns` reads: each file's footer plus those columns' compressed chunks."""
    total = 0
    for f in files:
        meta = pq.ParquetFile(f.path, filesystem=fs).metadata
        total += meta.serialized_size + 8  # footer + its length and magic
        names = [meta.schema.column(i).path.split(".")[0].lower() for i in range(meta.num_columns)]
        wanted = [i for i, n in enumerate(names) if n in columns]
        for rg in range(meta.num_row_groups):
            group = meta.row_group(rg)
            total += sum(group.column(i).total_compressed_size for i in wanted)
    return total

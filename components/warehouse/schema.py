"""The warehouse's `listings` table on each cloud, and the statements that load it from the lake.

The columns are the curated table's (components/data_lake/curated.py) plus the partition column: in the lake `city`
lives in folder names (`city=Pune/`), in a warehouse it is a stored column. Redshift's COPY and Synapse's COPY INTO
read Parquet files but not folder names, so both load one city folder at a time into a staging table and add the
city as a literal; BigQuery reads the lake's BigLake table, which already has the column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from components.data_lake import curated
from components.warehouse.spec import TABLE

STAGE = f"{TABLE}_stage"
REDSHIFT_SCHEMA = "public"
SYNAPSE_SCHEMA = "dbo"
STRING_LENGTH = 64  # the longest listing string (a locality name) is far below this

REDSHIFT_TYPES: Mapping[curated.Kind, str] = {
    "string": f"VARCHAR({STRING_LENGTH})",
    "int": "INTEGER",
    "double": "DOUBLE PRECISION",
}
# Dedicated SQL pools have no UTF-8 collations (serverless SQL has): Unicode strings are NVARCHAR.
SYNAPSE_TYPES: Mapping[curated.Kind, str] = {
    "string": f"NVARCHAR({STRING_LENGTH})",
    "int": "INT",
    "double": "FLOAT",
}


def columns() -> tuple[curated.Column, ...]:
    """The warehouse table's columns: the Parquet columns in file order, then the partition column."""
    return (*curated.columns(), curated.partition_column())


def _ddl(types: Mapping[curated.Kind, str], cols: Sequence[curated.Column]) -> str:
    return ",\n    ".join(f"{c.name} {types[c.kind]}" for c in cols)


def _data_names() -> str:
    return ", ".join(c.name for c in curated.columns())


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def redshift_statements(curated_root: str, cities: Sequence[str] = curated.PARTITION_VALUES) -> list[str]:
    """Statements for the Redshift Data API's BatchExecuteStatement (one transaction): create the table once,
    then replace its rows with the curated Parquet. `curated_root` is `s3://<curated bucket>/`."""
    root = curated_root.rstrip("/") + "/" + curated.PREFIX
    table = f"{REDSHIFT_SCHEMA}.{TABLE}"
    out = [
        f"CREATE TABLE IF NOT EXISTS {table} (\n    {_ddl(REDSHIFT_TYPES, columns())}\n)"
        f" DISTSTYLE AUTO SORTKEY ({curated.PARTITION_COLUMN})",
        f"CREATE TEMP TABLE {STAGE} (\n    {_ddl(REDSHIFT_TYPES, curated.columns())}\n)",
        f"DELETE FROM {table}",
    ]
    for city in cities:
        folder = f"{root}{curated.PARTITION_COLUMN}={city}/"
        out += [
            # IAM_ROLE default: the namespace's default role, which may read the curated listings only.
            f"COPY {STAGE} FROM {_sql_text(folder)} IAM_ROLE default FORMAT AS PARQUET",
            f"INSERT INTO {table} SELECT {_data_names()}, {_sql_text(city)} FROM {STAGE}",
            f"DELETE FROM {STAGE}",
        ]
    return out


def synapse_script(account: str, cities: Sequence[str] = curated.PARTITION_VALUES) -> str:
    """T-SQL for the dedicated SQL pool (`sqlcmd -G -d <pool> -i load.sql`): build a fresh copy of the table from
    the curated zone, then swap it in by renames (COPY INTO does not run inside a user transaction). The files are
    read by the workspace's managed identity, which holds Storage Blob Data Reader on the curated zone."""
    root = f"https://{account}.dfs.core.windows.net/curated/{curated.PREFIX}"
    table, loading, old = (f"{SYNAPSE_SCHEMA}.{TABLE}{s}" for s in ("", "_loading", "_old"))
    stage = f"{SYNAPSE_SCHEMA}.{STAGE}"
    lines = [
        "-- tricloud: (re)load the warehouse from the lake; run on the dedicated SQL pool as its Entra admin",
        *(f"IF OBJECT_ID('{t}') IS NOT NULL DROP TABLE {t};" for t in (loading, stage)),
        f"CREATE TABLE {loading} (\n    {_ddl(SYNAPSE_TYPES, columns())}\n)"
        " WITH (DISTRIBUTION = ROUND_ROBIN, CLUSTERED COLUMNSTORE INDEX);",
        f"CREATE TABLE {stage} (\n    {_ddl(SYNAPSE_TYPES, curated.columns())}\n)"
        " WITH (DISTRIBUTION = ROUND_ROBIN, HEAP);",
    ]
    for city in cities:
        folder = f"{root}{curated.PARTITION_COLUMN}={city}/*.parquet"
        lines += [
            f"COPY INTO {stage} FROM {_sql_text(folder)}"
            " WITH (FILE_TYPE = 'PARQUET', CREDENTIAL = (IDENTITY = 'Managed Identity'));",
            f"INSERT INTO {loading} SELECT {_data_names()}, {_sql_text(city)} FROM {stage};",
            f"TRUNCATE TABLE {stage};",
        ]
    lines += [
        f"DROP TABLE {stage};",
        f"IF OBJECT_ID('{old}') IS NOT NULL DROP TABLE {old};",
        f"IF OBJECT_ID('{table}') IS NOT NULL RENAME OBJECT {table} TO {TABLE}_old;",
        f"RENAME OBJECT {loading} TO {TABLE};",
        f"IF OBJECT_ID('{old}') IS NOT NULL DROP TABLE {old};",
        "",
    ]
    return "\n".join(lines)


def bigquery_schema() -> list[dict[str, str]]:
    """The native table's schema (BigQuery JSON form): the BigLake table's columns plus `city`."""
    return [
        {
            "name": c.name,
            "type": curated.BIGQUERY_TYPES[c.kind],
            "mode": "NULLABLE",
            "description": c.description,
        }
        for c in columns()
    ]


def bigquery_load_query(source_table: str, target_table: str) -> str:
    """The scheduled query: replace the native table's rows with the BigLake table's, in one transaction."""
    names = ", ".join(c.name for c in columns())
    return (
        "BEGIN TRANSACTION;\n"
        f"DELETE FROM `{target_table}` WHERE TRUE;\n"
        f"INSERT INTO `{target_table}` ({names})\nSELECT {names} FROM `{source_table}`;\n"
        "COMMIT TRANSACTION;\n"
    )

"""What the offline platform does with the lake after Spark: register the run's table, print the example query.

`tricloud/emulate/platform.py` calls `register_run` at the end of its Spark phase and the emulate CLI calls
`print_example` after it; both are here so the query feature stays in one package.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table as RichTable

from components.data_lake import curated
from tricloud.query.catalog import Registration, register_curated_table, session
from tricloud.query.engine import QueryResult, csv_value
from tricloud.query.lake import s3_filesystem


def register_run(emulator: Any, outputs: dict[str, Any], output_uri: str) -> Registration:
    """The Spark run's output becomes the curated table (columns, location, partitions), as a crawler would do."""

    database, table = str(outputs["curated_table"]).split(".", 1)
    fs = s3_filesystem(emulator.url_for("s3"), emulator.region, *emulator.caller_keys("s3"))
    return register_curated_table(
        emulator.client("glue"),
        emulator.client("s3"),
        fs,
        database=database,
        table=table,
        location=output_uri,
        partition_key=curated.PARTITION_COLUMN,
    )


def saved_query(emulator: Any, workgroup: str, name: str) -> str:
    """The SQL of a named query saved in the workgroup (the stack saves the examples there)."""
    athena = emulator.client("athena")
    for page in athena.get_paginator("list_named_queries").paginate(WorkGroup=workgroup):
        for qid in page.get("NamedQueryIds", []):
            q = athena.get_named_query(NamedQueryId=qid)["NamedQuery"]
            if q["Name"] == name:
                return str(q["QueryString"])
    raise LookupError(f"workgroup {workgroup} has no saved query named {name!r}")


def run_example(emulator: Any, outputs: dict[str, Any]) -> tuple[str, QueryResult]:
    example = curated.EXAMPLE_QUERIES[0]
    sql = saved_query(emulator, str(outputs["query_endpoint"]), example.name)
    return sql, session(emulator, outputs).run(sql)


def render(result: QueryResult, title: str = "") -> RichTable:
    table = RichTable(title=title or None, title_justify="left")
    for name, typ in result.columns:
        numeric = typ in ("tinyint", "smallint", "integer", "bigint", "real", "double") or typ.startswith(
            "decimal"
        )
        table.add_column(f"{name}\n[dim]{typ}[/]", justify="right" if numeric else "left")
    for row in result.rows:
        table.add_row(*("NULL" if v is None else csv_value(v) or "" for v in row))
    return table


def print_example(platform: Any, console: Console) -> None:
    """The demo's query step: the workgroup's saved example, run offline, printed with where its results went."""
    sql, result = run_example(platform.emulator, platform.outputs)
    console.print("[bold]lake query[/] (Athena SQL, run offline on the emulated lake):")
    console.print(sql, markup=False, highlight=False)
    console.print(render(result))
    console.print(
        f"[dim]{result.data_scanned_bytes:,} bytes scanned; results in {result.output_location}[/]\n"
        f"[bold]query it yourself[/]: tricloud emulate aws --serve, then in another terminal: "
        f'tricloud query aws "SELECT ..."',
        highlight=False,
    )

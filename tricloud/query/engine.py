"""Athena-dialect SQL over the emulated lake: sqlglot translates, DuckDB runs, the workgroup's settings apply.

One query, as Athena runs it in a workgroup with enforced settings:
1. parse the Athena (Trino) SQL; anything but a query (DDL, INSERT, UNLOAD, ...) is refused;
2. resolve each table in the Glue catalog (database from the query or the session), with its partitions
   (projected or registered) and their Parquet objects in S3;
3. estimate the bytes the scan reads (Parquet footers + the referenced columns' chunks of the partitions the WHERE
   clause leaves) and refuse, before running, a query above the workgroup's BytesScannedCutoffPerQuery;
4. run the translated SQL with DuckDB over Arrow datasets that read S3 through the emulator;
5. write `<id>.csv` and `<id>.csv.metadata` to the workgroup's result location, encrypted as it says.

Dialect differences handled: Trino's integer division (`5 / 2 = 2`, DuckDB's `integer_division`), function names
and argument orders (sqlglot's athena -> duckdb translation: approx_percentile, date_format, date_add, ...), and
`sum` of integers typed bigint (DuckDB's 128-bit sums are narrowed). Not emulated: approximate functions use
DuckDB's algorithms (approx_percentile may differ slightly from Trino's), and row order without ORDER BY.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa

from tricloud.query.lake import DataFile, LakeError, Table, load_table, scan_bytes, split_s3

CANCELLED_REASON = "Bytes scanned limit was exceeded"  # Athena's StateChangeReason for the per-query cutoff


class QueryFailed(Exception):
    """The query ended FAILED or CANCELLED; `reason` is what Athena's StateChangeReason would say."""

    def __init__(self, state: str, reason: str, detail: str = "", query_execution_id: str = "") -> None:
        self.state, self.reason, self.detail, self.query_execution_id = (
            state,
            reason,
            detail,
            query_execution_id,
        )
        super().__init__(f"{state}: {reason}" + (f" ({detail})" if detail else ""))


@dataclass(frozen=True)
class Workgroup:
    name: str
    output_location: str
    encryption_option: str | None  # SSE_S3 | SSE_KMS | CSE_KMS | None
    kms_key: str | None
    bytes_cutoff: int | None
    expected_bucket_owner: str | None
    engine_version: str

    @classmethod
    def read(cls, athena: Any, name: str) -> Workgroup:
        try:
            wg = athena.get_work_group(WorkGroup=name)["WorkGroup"]
        except athena.exceptions.InvalidRequestException:
            raise QueryFailed("FAILED", f"WorkGroup {name} is not found.") from None
        conf = wg.get("Configuration", {})
        result = conf.get("ResultConfiguration", {})
        enc = result.get("EncryptionConfiguration") or {}
        if not result.get("OutputLocation"):
            raise QueryFailed(
                "FAILED", f"workgroup {name} has no result location (ResultConfiguration.OutputLocation)"
            )
        return cls(
            name=name,
            output_location=str(result["OutputLocation"]).rstrip("/") + "/",
            encryption_option=enc.get("EncryptionOption"),
            kms_key=enc.get("KmsKey"),
            bytes_cutoff=int(conf["BytesScannedCutoffPerQuery"])
            if conf.get("BytesScannedCutoffPerQuery")
            else None,
            expected_bucket_owner=result.get("ExpectedBucketOwner"),
            engine_version=str((conf.get("EngineVersion") or {}).get("SelectedEngineVersion", "AUTO")),
        )


@dataclass
class QueryResult:
    query_execution_id: str
    workgroup: str
    database: str
    columns: list[tuple[str, str]]  # (name, Athena type)
    rows: list[list[Any]]
    data_scanned_bytes: int
    output_location: str
    engine_execution_ms: int
    translated_sql: str
    state: str = "SUCCEEDED"
    tables: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "QueryExecutionId": self.query_execution_id,
            "State": self.state,
            "WorkGroup": self.workgroup,
            "Database": self.database,
            "OutputLocation": self.output_location,
            "Statistics": {
                "DataScannedInBytes": self.data_scanned_bytes,
                "EngineExecutionTimeInMillis": self.engine_execution_ms,
            },
            "Columns": [{"Name": n, "Type": t} for n, t in self.columns],
            "Rows": [dict(zip((n for n, _ in self.columns), row, strict=True)) for row in self.rows],
        }


def athena_type(t: pa.DataType) -> str:
    names = {
        pa.int8(): "tinyint",
        pa.int16(): "smallint",
        pa.int32(): "integer",
        pa.int64(): "bigint",
        pa.float32(): "real",
        pa.float64(): "double",
        pa.bool_(): "boolean",
        pa.string(): "varchar",
        pa.large_string(): "varchar",
        pa.date32(): "date",
    }
    if t in names:
        return names[t]
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"array({athena_type(t.value_type)})"
    return str(t)


def java_double(x: float) -> str:
    """A double as Athena (Java's Double.toString) writes it in result CSVs: 12345.0, 1.2345678E7."""
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if str(x).startswith("-") else "0.0"
    if 1e-3 <= abs(x) < 1e7:
        text = format(Decimal(repr(x)), "f")
        return text if "." in text else text + ".0"
    sign, digits, exponent = Decimal(repr(x)).normalize().as_tuple()
    mantissa = "".join(map(str, digits))
    power = exponent + len(mantissa) - 1
    return f"{'-' if sign else ''}{mantissa[0]}.{mantissa[1:] or '0'}E{power}"


def csv_value(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return java_double(v)
    return str(v)


def result_csv(columns: list[tuple[str, str]], rows: list[list[Any]]) -> str:
    """Athena's result file: a header, every value double-quoted, NULL as an empty unquoted field."""
    buf = io.StringIO()
    buf.write(",".join(f'"{n}"' for n, _ in columns) + "\n")
    for row in rows:
        cells = []
        for v in row:
            text = csv_value(v)
            cells.append("" if text is None else '"' + text.replace('"', '""') + '"')
        buf.write(",".join(cells) + "\n")
    return buf.getvalue()


class OfflineAthena:
    """Runs Athena-dialect SELECT queries over the emulated lake, in one workgroup, with one default database."""

    def __init__(self, *, glue: Any, s3: Any, athena: Any, fs: Any, workgroup: str, database: str) -> None:
        self.glue, self.s3, self.athena, self.fs = glue, s3, athena, fs
        self.workgroup_name, self.database = workgroup, database

    # --- planning ---

    def parse(self, sql: str) -> Any:
        import sqlglot
        from sqlglot import exp

        try:
            statements = [s for s in sqlglot.parse(sql, read="athena") if s is not None]
        except sqlglot.errors.ParseError as err:
            raise QueryFailed(
                "FAILED", f"SYNTAX_ERROR: {err.errors[0]['description'] if err.errors else err}"
            ) from None
        if len(statements) != 1:
            raise QueryFailed("FAILED", f"SYNTAX_ERROR: expected one statement, got {len(statements)}")
        stmt = statements[0]
        if not isinstance(stmt, exp.Query):
            kind = type(stmt).__name__.upper()
            raise QueryFailed(
                "FAILED",
                f"NOT_SUPPORTED: {kind} statements are not run offline; `tricloud query` runs SELECT queries "
                "(the catalog is managed by the stack and the emulator)",
            )
        return stmt

    def table_nodes(self, stmt: Any) -> list[Any]:
        from sqlglot import exp

        ctes = {c.alias_or_name.lower() for c in stmt.find_all(exp.CTE)}
        return [t for t in stmt.find_all(exp.Table) if t.db or t.name.lower() not in ctes]

    def resolve(self, node: Any, cache: dict[tuple[str, str], Table]) -> Table:
        catalog = (node.catalog or "awsdatacatalog").lower()
        if catalog != "awsdatacatalog":
            raise QueryFailed("FAILED", f"CATALOG_NOT_FOUND: Catalog '{catalog}' does not exist")
        key = ((node.db or self.database).lower(), node.name.lower())
        if key not in cache:
            try:
                cache[key] = load_table(self.glue, self.s3, *key)
            except LakeError as err:
                raise QueryFailed("FAILED", str(err)) from None
        return cache[key]

    @staticmethod
    def partition_values(node: Any, key: str) -> set[str] | None:
        """Values of partition `key` the query keeps for this table reference (None: all of them).

        Only top-level AND-ed `key = 'v'` / `key IN ('v', ...)` of the SELECT reading the table prune, as they
        do in Athena's planner; anything else reads every partition (an upper bound of the scan).
        """
        from sqlglot import exp

        select = node.find_ancestor(exp.Select)
        where = select.args.get("where") if select is not None else None
        if where is None:
            return None
        names = {node.alias_or_name.lower(), node.name.lower()}
        conjuncts = list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]
        kept: set[str] | None = None

        def is_key(e: Any) -> bool:
            return (
                isinstance(e, exp.Column)
                and e.name.lower() == key
                and (not e.table or e.table.lower() in names)
            )

        for c in conjuncts:
            values: set[str] | None = None
            if isinstance(c, exp.EQ):
                col, lit = (c.this, c.expression) if is_key(c.this) else (c.expression, c.this)
                if is_key(col) and isinstance(lit, exp.Literal):
                    values = {lit.name}
            elif (
                isinstance(c, exp.In)
                and is_key(c.this)
                and all(isinstance(v, exp.Literal) for v in c.expressions)
            ):
                values = {v.name for v in c.expressions}
            if values is not None:
                kept = values if kept is None else kept & values
        return kept

    def scanned_files(
        self, stmt: Any, tables: dict[int, Table]
    ) -> dict[tuple[str, str], tuple[set[DataFile], set[str]]]:
        """Per table: the files the query reads and the columns it reads from them."""
        from sqlglot import exp

        referenced = {c.name.lower() for c in stmt.find_all(exp.Column)}
        star = any(not isinstance(s.parent, exp.Count) for s in stmt.find_all(exp.Star))
        out: dict[tuple[str, str], tuple[set[DataFile], set[str]]] = {}
        for node in self.table_nodes(stmt):
            table = tables[id(node)]
            data_cols = {n for n, _ in table.columns}
            cols = data_cols if star else data_cols & referenced
            files = set(table.files)
            for i, (key, _) in enumerate(table.partition_keys):
                kept = self.partition_values(node, key)
                if kept is not None:
                    files = {f for f in files if f.partition[i] in kept}
            prev_files, prev_cols = out.get((table.database, table.name), (set(), set()))
            out[(table.database, table.name)] = (prev_files | files, prev_cols | cols)
        return out

    # --- running ---

    def run(self, sql: str) -> QueryResult:
        from sqlglot import exp

        qid = str(uuid.uuid4())
        wg = Workgroup.read(self.athena, self.workgroup_name)
        stmt = self.parse(sql)
        cache: dict[tuple[str, str], Table] = {}
        nodes = self.table_nodes(stmt)
        tables = {id(n): self.resolve(n, cache) for n in nodes}
        scans = self.scanned_files(stmt, tables)
        scanned = sum(scan_bytes(self.fs, files, cols) for files, cols in scans.values())
        if wg.bytes_cutoff is not None and scanned > wg.bytes_cutoff:
            raise QueryFailed(
                "CANCELLED",
                CANCELLED_REASON,
                f"the query would scan {scanned:,} bytes; workgroup {wg.name} allows {wg.bytes_cutoff:,} per query",
                qid,
            )
        import duckdb

        started = time.perf_counter()
        con = duckdb.connect()
        try:
            con.execute("SET enable_progress_bar = false")
            con.execute("SET integer_division = true")  # Trino: integer / integer is integer division
            registered: dict[tuple[str, str], str] = {}
            for node in nodes:
                table = tables[id(node)]
                key = (table.database, table.name)
                if key not in registered:
                    registered[key] = f"__tricloud_t{len(registered)}"
                    con.register(registered[key], table.dataset(self.fs))
                alias = node.alias_or_name
                node.replace(exp.to_table(registered[key]).as_(alias))
            translated = stmt.sql(dialect="duckdb")
            try:
                rel = con.sql(translated)
                arrow = rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()
            except duckdb.Error as err:
                raise QueryFailed("FAILED", _athena_error(err), query_execution_id=qid) from None
        finally:
            con.close()
        engine_ms = int((time.perf_counter() - started) * 1000)
        arrow = _narrow_sums(arrow)
        columns = [(f.name, athena_type(f.type)) for f in arrow.schema]
        rows = [list(r.values()) for r in arrow.to_pylist()]
        output = self.write_results(wg, qid, columns, rows, scanned)
        return QueryResult(
            query_execution_id=qid,
            workgroup=wg.name,
            database=self.database,
            columns=columns,
            rows=rows,
            data_scanned_bytes=scanned,
            output_location=output,
            engine_execution_ms=engine_ms,
            translated_sql=translated,
            tables=sorted(f"{d}.{t}" for d, t in scans),
        )

    def write_results(
        self, wg: Workgroup, qid: str, columns: list[tuple[str, str]], rows: list[list[Any]], scanned: int
    ) -> str:
        """`<id>.csv` and `<id>.csv.metadata` under the workgroup's result location, encrypted as it requires."""
        if wg.encryption_option == "CSE_KMS":
            raise QueryFailed(
                "FAILED", "CSE_KMS result encryption (client-side) is not emulated offline", "", qid
            )
        bucket, prefix = split_s3(wg.output_location)
        extra: dict[str, Any] = {}
        if wg.encryption_option == "SSE_KMS":
            extra = {"ServerSideEncryption": "aws:kms", **({"SSEKMSKeyId": wg.kms_key} if wg.kms_key else {})}
        elif wg.encryption_option == "SSE_S3":
            extra = {"ServerSideEncryption": "AES256"}
        if wg.expected_bucket_owner:
            extra["ExpectedBucketOwner"] = wg.expected_bucket_owner
        key = f"{prefix}{qid}.csv"
        self.s3.put_object(
            Bucket=bucket, Key=key, Body=result_csv(columns, rows).encode(), ContentType="text/csv", **extra
        )
        # Athena's .metadata is a binary (protobuf) column description; offline it is the same facts as JSON.
        meta = {
            "columns": [{"name": n, "type": t} for n, t in columns],
            "rows": len(rows),
            "dataScannedInBytes": scanned,
        }
        self.s3.put_object(Bucket=bucket, Key=f"{key}.metadata", Body=json.dumps(meta).encode(), **extra)
        return f"s3://{bucket}/{key}"


def _narrow_sums(table: pa.Table) -> pa.Table:
    """DuckDB sums integers as 128-bit decimals; Trino types them bigint."""
    fields = []
    for f in table.schema:
        narrow = pa.types.is_decimal(f.type) and f.type.scale == 0 and f.type.precision == 38
        fields.append(pa.field(f.name, pa.int64() if narrow else f.type))
    return table.cast(pa.schema(fields))


def _athena_error(err: Exception) -> str:
    import duckdb

    text = str(err).splitlines()[0]
    if isinstance(err, duckdb.ParserException):
        return f"SYNTAX_ERROR: {text}"
    if isinstance(err, duckdb.CatalogException):
        return f"FUNCTION_NOT_FOUND: {text}" if "Function" in text else f"TABLE_NOT_FOUND: {text}"
    if isinstance(err, duckdb.BinderException):
        return f"COLUMN_NOT_FOUND: {text}" if "column" in text.lower() else f"TYPE_MISMATCH: {text}"
    return f"GENERIC_INTERNAL_ERROR: {text}"

"""The lake's query resources: the Glue table of the curated zone and the Athena named (saved) queries."""

from __future__ import annotations

from typing import Any

from tricloud.engine.handlers.base import Ctx, Handler, Replace, Resource, found, ignore_gone, register
from tricloud.engine.state import Entry


def _columns(cols: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    return [
        {"Name": c["name"], "Type": c["type"], **({"Comment": c["comment"]} if c.get("comment") else {})}
        for c in cols or []
    ]


def table_input(r: Resource) -> dict[str, Any]:
    """Glue's TableInput from the program's inputs (parameters keep their dotted keys, so no generic casing)."""
    sd = r.get("storageDescriptor", {})
    serde = sd.get("serDeInfo") or {}
    return {
        "Name": r.get("name"),
        "Description": r.get("description", ""),
        "TableType": r.get("tableType", "EXTERNAL_TABLE"),
        "Parameters": dict(r.get("parameters", {})),
        "PartitionKeys": _columns(r.get("partitionKeys")),
        "StorageDescriptor": {
            "Columns": _columns(sd.get("columns")),
            "Location": sd.get("location", ""),
            "InputFormat": sd.get("inputFormat", ""),
            "OutputFormat": sd.get("outputFormat", ""),
            "Compressed": bool(sd.get("compressed", False)),
            "SerdeInfo": {
                "SerializationLibrary": serde.get("serializationLibrary", ""),
                "Parameters": dict(serde.get("parameters") or {}),
            },
        },
    }


@register("aws:glue/catalogTable:CatalogTable", "glue")
class GlueTable(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        db, name = str(r.get("databaseName")), str(r.get("name"))
        ctx.client("glue").create_table(DatabaseName=db, TableInput=table_input(r))
        return f"{ctx.account}:{db}:{name}", {
            "name": name,
            "databaseName": db,
            "catalogId": ctx.account,
            "arn": ctx.arn("glue", f"table/{db}/{name}"),
        }

    def update(self, ctx: Ctx, r: Resource, old: Entry) -> tuple[str, dict[str, Any]]:
        if (r.get("databaseName"), r.get("name")) != (old.outputs["databaseName"], old.outputs["name"]):
            raise Replace  # a table's database and name are its identity
        ctx.client("glue").update_table(DatabaseName=old.outputs["databaseName"], TableInput=table_input(r))
        return old.id, old.outputs

    def delete(self, ctx: Ctx, e: Entry) -> None:
        ignore_gone(
            lambda: ctx.client("glue").delete_table(
                DatabaseName=e.outputs["databaseName"], Name=e.outputs["name"]
            )
        )

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return found(
            lambda: ctx.client("glue").get_table(
                DatabaseName=e.outputs["databaseName"], Name=e.outputs["name"]
            )
        )

    def locate(self, ctx: Ctx, r: Resource) -> list[Entry]:
        """A table a killed run created: found by its database and name (its identity), not the default name."""
        db, name = str(r.get("databaseName")), str(r.get("name"))
        e = Entry(self.type, r.name, f"{ctx.account}:{db}:{name}", {"name": name, "databaseName": db}, "")
        return [e] if self.exists(ctx, e) else []


@register("aws:athena/namedQuery:NamedQuery", "athena")
class AthenaNamedQuery(Handler):
    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "Name": r.get("name"),
            "Database": r.get("database"),
            "QueryString": r.get("query"),
        }
        if r.get("description"):
            kwargs["Description"] = r.get("description")
        if r.get("workgroup"):
            kwargs["WorkGroup"] = r.get("workgroup")
        qid = ctx.client("athena").create_named_query(**kwargs)["NamedQueryId"]
        return qid, {}

    def locate(self, ctx: Ctx, r: Resource) -> list[Entry]:
        """Saved queries have generated ids: a killed run's is found by its name in its workgroup."""
        athena = ctx.client("athena")
        kwargs = {"WorkGroup": r.get("workgroup")} if r.get("workgroup") else {}
        ids = athena.list_named_queries(**kwargs).get("NamedQueryIds", [])
        if not ids:
            return []
        # one GetNamedQuery per id: moto 5 has no BatchGetNamedQuery (a 500 from its server)
        queries = [athena.get_named_query(NamedQueryId=qid)["NamedQuery"] for qid in ids]
        return [
            Entry(self.type, r.name, q["NamedQueryId"], {}, "")
            for q in queries
            if q.get("Name") == r.get("name")
        ]

    def delete(self, ctx: Ctx, e: Entry) -> None:
        if not _moto_deletes_named_queries():
            # AWS deletes a workgroup's saved queries with the workgroup; moto 5 has no DeleteNamedQuery.
            e.deviations.append("moto cannot delete named queries: they stay until the emulator stops")
            return
        ignore_gone(lambda: ctx.client("athena").delete_named_query(NamedQueryId=e.id))


def _moto_deletes_named_queries() -> bool:
    from moto.athena.responses import AthenaResponse

    return hasattr(AthenaResponse, "delete_named_query")

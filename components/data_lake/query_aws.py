"""SQL over the curated zone on AWS: the Glue table of the curated listings and the Athena workgroup.

The table is declared, not crawled: its columns come from `components.data_lake.curated` (what app.features writes)
and its partitions from partition projection over the cities the schema admits, so Athena can query the first
Spark output at once, without a crawler run (and its DPU bill) or `MSCK REPAIR TABLE`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws.athena as athena
import pulumi_aws.glue as glue
import pulumi_aws.kms as kms

from components import aws_policy as pol
from components.data_lake import curated
from components.data_lake.query_spec import LakeQueryArgs
from components.data_lake.spec import Zone
from components.naming import physical_name

RESULTS_PREFIX = (
    "athena-results/"  # in the artifacts zone: results are lake data, encrypted with the lake key
)
ENGINE_VERSION = "Athena engine version 3"  # Trino SQL: the dialect `tricloud query aws` translates offline
PARQUET_SERDE = {
    "input_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "output_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "ser_de_info": {
        "serialization_library": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "parameters": {"serialization.format": "1"},
    },
}


@dataclass(frozen=True)
class LakeQueryAws:
    table: glue.CatalogTable
    workgroup: athena.Workgroup
    named_queries: tuple[athena.NamedQuery, ...]
    curated_table: pulumi.Output[str]
    query_endpoint: pulumi.Output[str]


def table_parameters(location: pulumi.Input[str]) -> dict[str, pulumi.Input[str]]:
    """Glue table parameters: Parquet, and partition projection over the known cities."""
    column = curated.PARTITION_COLUMN
    return {
        "classification": "parquet",
        "EXTERNAL": "TRUE",
        "parquet.compression": "SNAPPY",  # Spark's default codec for Parquet
        "projection.enabled": "true",
        f"projection.{column}.type": "enum",
        f"projection.{column}.values": ",".join(curated.PARTITION_VALUES),
        "storage.location.template": pulumi.Output.concat(location, f"{column}=${{{column}}}/"),
    }


def add_query(
    lake: pulumi.ComponentResource,
    name: str,
    args: LakeQueryArgs,
    *,
    database: glue.CatalogDatabase,
    key: kms.Key,
    ctx: pol.AwsContext,
    tags: dict[str, str],
    force_destroy: bool,
) -> LakeQueryAws:
    """The curated table, the workgroup and the example queries, as children of the DataLake `lake`."""
    child = pulumi.ResourceOptions(parent=lake)
    location = lake.uri(Zone.CURATED, curated.PREFIX)  # type: ignore[attr-defined]
    table = glue.CatalogTable(
        f"{name}-{curated.TABLE}",
        name=curated.TABLE,
        database_name=database.name,
        description="Curated listings Parquet written by app.features, partitioned by city",
        table_type="EXTERNAL_TABLE",  # dropping the table never deletes the lake's files
        parameters=table_parameters(location),
        partition_keys=[_column(curated.partition_column())],
        storage_descriptor={
            "location": location,
            "compressed": True,
            "columns": [_column(c) for c in curated.columns()],
            **PARQUET_SERDE,
        },
        opts=child,
    )
    project, stack = pulumi.get_project(), pulumi.get_stack()
    workgroup = athena.Workgroup(
        f"{name}-athena",
        name=physical_name("aws:generic", project, stack, "lake"),
        description="Serverless SQL over the curated zone; results encrypted in the artifacts zone",
        configuration={
            "enforce_workgroup_configuration": True,  # clients cannot opt out of encrypted results or the cutoff
            "publish_cloudwatch_metrics_enabled": True,
            "bytes_scanned_cutoff_per_query": args.max_scan_bytes_per_query,
            "engine_version": {"selected_engine_version": ENGINE_VERSION},
            "requester_pays_enabled": False,
            "result_configuration": {
                "output_location": lake.uri(Zone.ARTIFACTS, RESULTS_PREFIX),  # type: ignore[attr-defined]
                "encryption_configuration": {"encryption_option": "SSE_KMS", "kms_key_arn": key.arn},
                # Results are written only if the bucket is still ours (a deleted, re-registered name is not).
                "expected_bucket_owner": ctx.account_id,
            },
        },
        force_destroy=force_destroy,
        tags=tags,
        opts=child,
    )
    named = tuple(
        athena.NamedQuery(
            f"{name}-query-{q.name}",
            name=q.name,
            description=q.description,
            database=database.name,
            workgroup=workgroup.id,
            query=q.sql,
            opts=child,
        )
        for q in curated.EXAMPLE_QUERIES
    )
    return LakeQueryAws(
        table=table,
        workgroup=workgroup,
        named_queries=named,
        curated_table=pulumi.Output.concat(database.name, ".", table.name),
        query_endpoint=workgroup.name,
    )


def _column(c: curated.Column) -> dict[str, str]:
    return {"name": c.name, "type": curated.GLUE_TYPES[c.kind], "comment": c.description}

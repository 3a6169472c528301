"""SQL over the curated zone on GCP: a BigLake table over the curated Parquet and a daily cap on bytes scanned.

BigLake, not a plain external table: queries read GCS through the connection's own service account (read-only,
curated `listings/` prefix only), so analysts need BigQuery roles on the table and never any access to the bucket;
row/column security and data masking then apply to the table as to a native one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_gcp.bigquery as bigquery
import pulumi_gcp.cloudquota as cloudquota
import pulumi_gcp.projects as projects
import pulumi_gcp.storage as storage

from components.data_lake import curated
from components.data_lake.query_spec import LakeQueryArgs

MIB_PER_TB = 1024 * 1024  # the QueryUsagePerDay quota is counted in MiB
QUERY_ENDPOINT = "https://bigquery.googleapis.com/bigquery/v2/projects/{project}/queries"


@dataclass(frozen=True)
class LakeQueryGcp:
    connection: bigquery.Connection
    reader: storage.BucketIAMMember
    table: bigquery.Table
    daily_cap: cloudquota.SQuotaPreference
    curated_table: pulumi.Output[str]
    query_endpoint: pulumi.Output[str]


def bigquery_schema() -> list[dict[str, str]]:
    """The table's columns in BigQuery's JSON schema form; the partition column comes from the path."""
    return [
        {
            "name": c.name,
            "type": curated.BIGQUERY_TYPES[c.kind],
            "mode": "NULLABLE",
            "description": c.description,
        }
        for c in curated.columns()
    ]


def add_query(
    lake: pulumi.ComponentResource,
    name: str,
    args: LakeQueryArgs,
    *,
    project: pulumi.Input[str],
    region: str,
    dataset: bigquery.Dataset,
    bucket: storage.Bucket,
    labels: dict[str, str],
    force_destroy: bool,
) -> LakeQueryGcp:
    """The BigLake connection, its read grant, the `listings` table and the daily quota, as children of `lake`."""
    from components.data_lake.gcp import prefix_condition  # gcp.py imports this module: import at call time

    child = pulumi.ResourceOptions(parent=lake)
    apis = {
        svc: projects.Service(
            f"{name}-api-{svc.split('.')[0]}",
            service=svc,
            disable_on_destroy=False,  # other workloads of the project may use the API too
            disable_dependent_services=False,
            opts=child,
        )
        for svc in ("bigqueryconnection.googleapis.com", "cloudquotas.googleapis.com")
    }
    connection = bigquery.Connection(
        f"{name}-biglake",
        connection_id="lake",
        location=region,  # the dataset's region: BigLake tables need a connection in the same location
        friendly_name="tricloud curated zone",
        description="BigLake: reads the curated listings Parquet on behalf of the table's readers",
        cloud_resource={},  # Google creates the connection's service account
        opts=pulumi.ResourceOptions(parent=lake, depends_on=[apis["bigqueryconnection.googleapis.com"]]),
    )
    reader = storage.BucketIAMMember(
        f"{name}-biglake-curated-read",
        bucket=bucket.name,
        role="roles/storage.objectViewer",
        member=connection.cloud_resource.apply(
            lambda c: f"serviceAccount:{c.service_account_id if c else ''}"
        ),
        # Only the table's files: the connection cannot read the rest of the curated zone.
        condition=prefix_condition(bucket, curated.PREFIX, "biglake-listings-read"),
        opts=child,
    )
    column = curated.PARTITION_COLUMN
    table = bigquery.Table(
        f"{name}-{curated.TABLE}",
        dataset_id=dataset.dataset_id,
        table_id=curated.TABLE,
        description="Curated listings Parquet written by app.features, partitioned by city (BigLake)",
        external_data_configuration=bigquery.TableExternalDataConfigurationArgs(
            source_format="PARQUET",
            connection_id=connection.name,
            # An explicit schema, not autodetect: the table exists before the feature job has written any file,
            # and schema detection needs one.
            autodetect=False,
            schema=json.dumps(bigquery_schema()),
            source_uris=bucket.name.apply(lambda b: [f"gs://{b}/{curated.PREFIX}*"]),
            hive_partitioning_options=bigquery.TableExternalDataConfigurationHivePartitioningOptionsArgs(
                mode="CUSTOM",
                source_uri_prefix=bucket.name.apply(
                    lambda b: f"gs://{b}/{curated.PREFIX}{{{column}:STRING}}"
                ),
            ),
        ),
        deletion_protection=not force_destroy,
        labels=labels,
        opts=pulumi.ResourceOptions(parent=lake, depends_on=[reader]),
    )
    # BigQuery has no per-query cap a resource can set (clients pass maximum_bytes_billed); the project-wide
    # daily quota is the server-side ceiling. Lowering a quota needs no approval.
    daily_cap = cloudquota.SQuotaPreference(
        f"{name}-query-daily-cap",
        parent=pulumi.Output.concat("projects/", project),
        service="bigquery.googleapis.com",
        quota_id="QueryUsagePerDay",
        quota_config={"preferred_value": str(args.max_scan_tb_per_day * MIB_PER_TB)},
        justification="tricloud: bound the data scanned (and billed) by on-demand queries per day",
        opts=pulumi.ResourceOptions(parent=lake, depends_on=[apis["cloudquotas.googleapis.com"]]),
    )
    return LakeQueryGcp(
        connection=connection,
        reader=reader,
        table=table,
        daily_cap=daily_cap,
        curated_table=pulumi.Output.concat(dataset.project, ".", dataset.dataset_id, ".", table.table_id),
        query_endpoint=pulumi.Output.from_input(project).apply(lambda p: QUERY_ENDPOINT.format(project=p)),
    )

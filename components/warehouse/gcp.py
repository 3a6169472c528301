"""Warehouse on GCP: a BigQuery dataset with a native `listings` table, reloaded from the lake by a scheduled query.

A scheduled load, not a one-off load job definition: a `bigquery.Job` runs once at `pulumi up` (before any Spark
output exists, and never again), while a scheduled query (BigQuery Data Transfer Service) reloads the table every
`load_every_hours` with no client or credential outside Google. It reads the lake's BigLake table rather than the
Parquet files, so the `city` partition column comes for free and the loader needs BigQuery roles only: BigLake
reads the bucket as its connection, and the loader is never granted storage access.

- Dataset: default CMEK (the lake's key), no access entries beyond the project's IAM, contents kept on destroy
  unless `force_destroy`.
- Table: the curated columns plus `city`, clustered by city (a city filter reads that city's blocks), encrypted
  with the lake key, deletion protection unless `force_destroy`.
- Loader: a service account that may read the lake's `listings` table, write the warehouse dataset and run query
  jobs; the Data Transfer service agent may mint its tokens (and nobody else is granted that).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_gcp.bigquery as bigquery
import pulumi_gcp.projects as projects
import pulumi_gcp.serviceaccount as serviceaccount

from components.data_lake import curated
from components.data_lake.gcp import DataLake
from components.data_lake.query_gcp import QUERY_ENDPOINT
from components.naming import physical_name
from components.tags import component_tags
from components.warehouse import schema
from components.warehouse.spec import OUTPUTS, TABLE, WarehouseArgs
from components.warehouse.spec import Warehouse as Concept

TRANSFER_API = "bigquerydatatransfer.googleapis.com"


@dataclass(frozen=True)
class WarehouseNative:
    dataset: bigquery.Dataset
    table: bigquery.Table
    loader: serviceaccount.Account
    transfer: bigquery.DataTransferConfig


def schedule(hours: int) -> str:
    """Data Transfer's schedule syntax."""
    return "every 24 hours" if hours == 24 else f"every {hours} hours"


class Warehouse(pulumi.ComponentResource):
    OUTPUTS: ClassVar[tuple[str, ...]] = OUTPUTS  # the cloud-neutral outputs this class registers
    warehouse_endpoint: pulumi.Output[str]
    warehouse_database: pulumi.Output[str]
    warehouse_table: pulumi.Output[str]
    warehouse_loader: pulumi.Output[str]
    native: WarehouseNative

    def __init__(
        self, name: str, args: WarehouseArgs, *, lake: DataLake, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"tricloud:gcp:{Concept.name}", name, None, opts)
        args.validate()
        labels = component_tags("gcp", Concept.name, args.tags)
        project, stack = pulumi.get_project(), pulumi.get_stack()
        child = pulumi.ResourceOptions(parent=self)
        native = lake.native
        key = native.key.id
        region = native.dataset.location

        dataset = bigquery.Dataset(
            f"{name}-dataset",
            dataset_id=physical_name("gcp:bigquery_dataset", project, stack, args.database).lower(),
            location=region,  # the lake dataset's region: a query may only join tables of one location
            description="tricloud warehouse: native tables loaded from the lake",
            default_encryption_configuration={"kms_key_name": key},  # new tables under the lake key
            # No `accesses` entries: only the project's own IAM roles apply, never allUsers/allAuthenticatedUsers.
            delete_contents_on_destroy=args.force_destroy,
            labels=labels,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(native.agent_key_grants)),
        )
        table = bigquery.Table(
            f"{name}-{TABLE}",
            dataset_id=dataset.dataset_id,
            table_id=TABLE,
            description="Curated listings loaded from the lake's BigLake table by the scheduled query",
            schema=json.dumps(schema.bigquery_schema()),
            clusterings=[
                curated.PARTITION_COLUMN
            ],  # STRING columns cannot partition; clustering prunes by city
            encryption_configuration={"kms_key_name": key},
            deletion_protection=not args.force_destroy,
            labels=labels,
            opts=child,
        )

        loader = serviceaccount.Account(
            f"{name}-loader",
            account_id=physical_name("gcp:service_account", project, stack, "wh-loader"),
            display_name="tricloud warehouse loader (scheduled query)",
            opts=child,
        )
        member = loader.email.apply(lambda e: f"serviceAccount:{e}")
        lake_table = native.query.table
        bigquery.IamMember(
            f"{name}-loader-reads-lake",
            project=lake_table.project,
            dataset_id=lake_table.dataset_id,
            table_id=lake_table.table_id,
            role="roles/bigquery.dataViewer",  # the lake's listings only, not the rest of its dataset
            member=member,
            opts=child,
        )
        bigquery.DatasetIamMember(
            f"{name}-loader-writes",
            dataset_id=dataset.dataset_id,
            role="roles/bigquery.dataEditor",  # rows of the warehouse dataset only
            member=member,
            opts=child,
        )
        projects.IAMMember(
            f"{name}-loader-jobs",
            project=lake.project_id,
            role="roles/bigquery.jobUser",  # run query jobs (billed to the project); grants no data access
            member=member,
            opts=child,
        )
        api = projects.Service(
            f"{name}-api-transfer",
            service=TRANSFER_API,
            disable_on_destroy=False,  # other workloads of the project may use the API too
            disable_dependent_services=False,
            opts=child,
        )
        agent = projects.ServiceIdentity(
            f"{name}-transfer-agent",
            service=TRANSFER_API,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[api]),
        )
        # Data Transfer runs the query as the loader: its service agent mints the loader's tokens, on this account only.
        token_grant = serviceaccount.IAMMember(
            f"{name}-agent-acts-as-loader",
            service_account_id=loader.name,
            role="roles/iam.serviceAccountTokenCreator",
            member=agent.email.apply(lambda e: f"serviceAccount:{e}"),
            opts=child,
        )
        source = pulumi.Output.concat(
            lake_table.project, ".", lake_table.dataset_id, ".", lake_table.table_id
        )
        target = pulumi.Output.concat(dataset.project, ".", dataset.dataset_id, ".", table.table_id)
        transfer = bigquery.DataTransferConfig(
            f"{name}-load",
            display_name=physical_name("gcp:generic", project, stack, "warehouse-load"),
            location=region,
            data_source_id="scheduled_query",
            schedule=schedule(args.gcp.load_every_hours),
            service_account_name=loader.email,
            encryption_configuration={"kms_key_name": key},  # what the query writes stays under the lake key
            params={
                "query": pulumi.Output.all(source, target).apply(lambda st: schema.bigquery_load_query(*st))
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[api, token_grant]),
        )

        self.warehouse_endpoint = lake.project_id.apply(lambda p: QUERY_ENDPOINT.format(project=p))
        self.warehouse_database = pulumi.Output.concat(dataset.project, ".", dataset.dataset_id)
        self.warehouse_table = target
        self.warehouse_loader = loader.email
        self.native = WarehouseNative(dataset=dataset, table=table, loader=loader, transfer=transfer)
        self.register_outputs({k: getattr(self, k) for k in OUTPUTS})

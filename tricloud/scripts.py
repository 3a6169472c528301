"""``tricloud script ...``: the deploy-time bodies that are not cloud resources (Databricks cluster policy, Synapse
setup and load T-SQL, the Redshift load request), rendered from a stack's Pulumi.<stack>.yaml. Names are
deterministic, so no state is read. The components hold the pure renderers; reading a stack's config is the
toolkit's job (DESIGN.md 3: components never import tricloud)."""

from __future__ import annotations

import json

import typer
from rich.console import Console

from components.errors import InvalidArgs
from components.naming import physical_name
from tricloud.config import parse
from tricloud.inventory import project_name, stack_config

app = typer.Typer(
    help="Print the deploy-time bodies a stack needs beside `pulumi up` (policies, SQL, requests)."
)
err_console = Console(stderr=True)
STACK = typer.Option("dev", "--stack", help="the stack whose Pulumi.<stack>.yaml is read")


def _lake_account(stack: str) -> str:
    return physical_name("azure:storage_account", project_name("azure"), stack, "lake")


def databricks_policy(stack: str) -> dict[str, str]:
    """The `databricks cluster-policies create --json` body of an Azure stack."""
    from components.spark_cluster.azure import Concept, cluster_policy
    from components.tags import normalise, standard_tags

    cfg = parse("azure", stack_config("azure", stack))
    project = project_name("azure")
    tags = normalise(
        standard_tags(project=project, stack=stack, component=Concept.name, extra=cfg.spark.tags), "azure"
    )
    return {
        "name": physical_name("azure:generic", project, stack, "spark-policy"),
        "definition": json.dumps(cluster_policy(cfg.spark, tags), sort_keys=True),
    }


def synapse_setup_sql(stack: str) -> str:
    """The serverless SQL setup script of an Azure stack (database, external data source, the curated view)."""
    from components.data_lake.query_azure import setup_sql

    cfg = parse("azure", stack_config("azure", stack))
    return setup_sql(_lake_account(stack), cfg.lake.query.max_scan_tb_per_day)


def synapse_load_sql(stack: str) -> str:
    """The dedicated pool's table and load script of an Azure stack with the Warehouse."""
    from components.warehouse import schema

    stack_config("azure", stack)  # an unknown stack fails here, naming it
    return schema.synapse_script(_lake_account(stack))


def redshift_load(curated_uri: str, stack: str) -> dict[str, object]:
    """The Redshift Data API BatchExecuteStatement request (one transaction) that reloads the warehouse."""
    from components.warehouse import schema

    if not curated_uri.startswith("s3://"):
        raise InvalidArgs("curated_uri", curated_uri, "must be the stack's curated_uri output (s3://...)")
    cfg = parse("aws", stack_config("aws", stack))
    return {
        "WorkgroupName": physical_name("aws:redshift_serverless", project_name("aws"), stack, "warehouse"),
        "Database": cfg.warehouse.database,
        "Sqls": schema.redshift_statements(curated_uri),
        "StatementName": "tricloud-warehouse-load",
    }


def _run(render: object) -> None:
    try:
        text = render()  # type: ignore[operator]
    except InvalidArgs as exc:
        err_console.print(f"[red]error: {exc}[/]")
        raise typer.Exit(2) from None
    typer.echo(text if isinstance(text, str) else json.dumps(text, indent=2, sort_keys=True))


@app.command("databricks-policy")
def _databricks_policy(stack: str = STACK) -> None:
    """The Azure Databricks cluster policy (`databricks cluster-policies create --json "$(...)"`)."""
    _run(lambda: databricks_policy(stack))


@app.command("synapse-setup")
def _synapse_setup(stack: str = STACK) -> None:
    """The Azure lake's serverless SQL setup script (run it in the Synapse workspace)."""
    _run(lambda: synapse_setup_sql(stack))


@app.command("synapse-load")
def _synapse_load(stack: str = STACK) -> None:
    """The Azure Warehouse's dedicated-pool table and load script."""
    _run(lambda: synapse_load_sql(stack))


@app.command("redshift-load")
def _redshift_load(
    curated_uri: str = typer.Argument(
        ..., help="the stack's curated_uri output (pulumi stack output curated_uri)"
    ),
    stack: str = STACK,
) -> None:
    """The AWS Warehouse's load, as a Redshift Data API batch-execute-statement request."""
    _run(lambda: redshift_load(curated_uri, stack))

"""Pricers: one function per priced resource kind, turning a resource into cost components.

Each pricer reads sizing from the resource's inputs where the graph carries it and takes traffic
and data volumes from the usage profile. Which type token uses which pricer is the table in
tricloud/cost/mapping.py.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from tricloud.cost import units
from tricloud.cost.context import PricingContext, Resource, SparkCapacity
from tricloud.cost.model import CostComponent

Pricer = Callable[[Resource, PricingContext], list[CostComponent]]

HOURS_PER_MONTH = units.HOURS_PER_MONTH
# vCPUs of the Databricks node types the profile may name (the stack's policy allows Standard_D4ds_v5).
DATABRICKS_NODE_VCPU = {"Standard_D4ds_v5": 4, "Standard_DS3_v2": 4}
DATABRICKS_MIN_NODES = 2  # the cluster policy fixes min_workers at 1: a driver plus one worker

LOG_SINK_TYPES = (
    "aws:cloudwatch/logGroup:LogGroup",
    "azure-native:applicationinsights:Component",
    "azure-native:operationalinsights:Workspace",
)
AWS_BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")


def _share(total: float, parts: int) -> float:
    return total / parts if parts else 0.0


def capacity_number(value: object) -> float | None:
    """EMR Serverless capacity strings ('4 vCPU', '16 GB') -> number."""
    match = re.match(r"\s*([\d.]+)", str(value or ""))
    return float(match.group(1)) if match else None


def spark_size(ctx: PricingContext) -> SparkCapacity:
    """The job size this cloud is priced at: the shared capacity when the estimator set one."""
    spark = ctx.profile.spark
    return ctx.spark or SparkCapacity(vcpu=spark.vcpu, memory_gb=spark.memory_gb)


def _lake_gb(res: Resource, ctx: PricingContext, bucket_types: tuple[str, ...]) -> tuple[float, str]:
    """GB stored in one bucket/account: lake zones by name, else the profile's non-lake size."""
    zones = ctx.profile.lake.gb
    if res.concept != "DataLake":
        return ctx.profile.lake.other_storage_gb, "non-lake storage (lake.other_storage_gb)"
    for zone, gb in zones.items():
        if zone in res.name.lower():
            same_zone = sum(1 for r in ctx.resources if r.type in bucket_types and zone in r.name.lower())
            return _share(gb, same_zone), f"lake zone '{zone}'"
    if ctx.count(bucket_types, concept="DataLake") == 1:
        return sum(zones.values()), "all lake zones in one store"
    return (
        ctx.profile.lake.other_storage_gb,
        "lake store outside the zones, e.g. access logs (lake.other_storage_gb)",
    )


def _log_sinks(ctx: PricingContext) -> int:
    return ctx.count(LOG_SINK_TYPES) or 1


def log_ingestion(res: Resource, ctx: PricingContext, service: str, sku: str) -> list[CostComponent]:
    gb = _share(ctx.profile.observability.log_gb_per_month, _log_sinks(ctx))
    return [
        ctx.meter(
            res,
            "log ingestion",
            service=service,
            sku=sku,
            quantity=gb,
            unit="GB",
            usage_based=True,
            note="profile log GB split evenly across log sinks",
        )
    ]


# ------------------------------------------------------------------------------------------ AWS
def aws_lambda(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    api = ctx.profile.api
    memory_gb = float(res.get("memorySize", default=128)) / 1024
    arch = (res.get("architectures", 0, default="x86_64") or "x86_64").replace("-", "_")
    gb_seconds = api.requests_per_month * (api.mean_duration_ms / 1000) * memory_gb
    return [
        ctx.meter(res, "Lambda requests", service="AWSLambda", sku="requests", quantity=api.requests_per_month,
                  unit="request", usage_based=True),
        ctx.meter(res, f"Lambda duration ({arch})", service="AWSLambda", sku=f"duration-{arch}", quantity=gb_seconds,
                  unit="GB-second", usage_based=True,
                  note=f"{api.requests_per_month:g} req x {api.mean_duration_ms:g} ms x {memory_gb * 1024:g} MB"),
    ]  # fmt: skip


def aws_http_api(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    protocol = str(res.get("protocolType", default="HTTP")).upper()
    api = ctx.profile.api
    if protocol != "HTTP":
        return [ctx.meter(res, "messages", service="AmazonApiGateway", sku=f"{protocol.lower()}-messages",
                          quantity=api.requests_per_month, unit="message", usage_based=True)]  # fmt: skip
    # HTTP APIs meter each request in 512 KB increments.
    metered = api.requests_per_month * max(1, math.ceil(api.payload_kb / 512))
    return [
        ctx.meter(res, "HTTP API requests", service="AmazonApiGateway", sku="http-requests", quantity=metered,
                  unit="request", usage_based=True)
    ]  # fmt: skip


def aws_s3_bucket(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    gb, why = _lake_gb(res, ctx, AWS_BUCKETS)
    return [ctx.meter(res, "S3 storage (Standard)", service="AmazonS3", sku="storage-standard", quantity=gb,
                      unit="GB-month", usage_based=True, note=why)]  # fmt: skip


def aws_kms_key(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    keys = ctx.count(["aws:kms/key:Key"])
    note = "rotation adds $1/month per rotated backing key after each yearly rotation" if res.get(
        "enableKeyRotation", default=False) else ""  # fmt: skip
    return [
        ctx.meter(res, "KMS key", service="awskms", sku="key-month", quantity=1, unit="key-month", usage_based=False,
                  note=note),
        ctx.meter(res, "KMS requests", service="awskms", sku="requests",
                  quantity=_share(ctx.profile.security.kms_requests_per_month, keys), unit="request",
                  usage_based=True, note="profile KMS requests split across keys"),
    ]  # fmt: skip


def aws_sagemaker_endpoint_config(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    ep = ctx.profile.endpoint
    components: list[CostComponent] = []
    variants = res.get("productionVariants", default=[]) or [{}]
    for i, variant in enumerate(variants):
        label = variant.get("variantName") or f"variant {i}"
        serverless = variant.get("serverlessConfig")
        mode = ep.mode if ep.mode != "auto" else ("serverless" if serverless else "instance")
        if mode == "serverless":
            memory_mb = int((serverless or {}).get("memorySizeInMb", 2048))
            seconds = ctx.profile.api.requests_per_month * ctx.profile.api.predictions_per_request * (
                ep.mean_inference_ms / 1000)  # fmt: skip
            calls = ctx.profile.api.requests_per_month
            components.append(
                ctx.meter(
                    res,
                    f"{label} serverless inference ({memory_mb} MB)",
                    service="AmazonSageMaker",
                    sku=f"serverless-inference-{memory_mb}mb",
                    quantity=seconds,
                    unit="second",
                    usage_based=True,
                    note=f"predictions x {ep.mean_inference_ms:g} ms; max concurrency "
                    f"{(serverless or {}).get('maxConcurrency', 'n/a')}; scales to zero",
                )
            )
            components.append(ctx.meter(
                res, f"{label} serverless data processed", service="AmazonSageMaker",
                sku="serverless-inference-data-processed", quantity=calls * ctx.profile.api.payload_kb, unit="KB",
                usage_based=True, note="requests x api.payload_kb (data in and out)"))  # fmt: skip
        else:
            instance = variant.get("instanceType") or ep.instance.aws
            count = float(variant.get("initialInstanceCount") or ep.instance_count)
            components.append(ctx.meter(
                res, f"{label} instance ({instance})", service="AmazonSageMaker", sku=f"hosting-{instance}",
                quantity=count * ep.instance_hours_per_month, unit="hour", usage_based=False,
                note=f"{count:g} instance(s) x {ep.instance_hours_per_month:g} h"))  # fmt: skip
    return components


def aws_emr_serverless(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    size = spark_size(ctx)
    vcpu, memory = size.vcpu, size.memory_gb
    # The application's own ceiling still binds when the estimator was given no shared capacity.
    max_cpu = capacity_number(res.get("maximumCapacity", "cpu"))
    max_mem = capacity_number(res.get("maximumCapacity", "memory"))
    vcpu = vcpu if max_cpu is None else min(vcpu, max_cpu)
    memory = memory if max_mem is None else min(memory, max_mem)
    hours = ctx.profile.spark.job_hours_per_month
    note = f"{vcpu:g} vCPU x {hours:g} h; pre-initialized capacity, if configured, is billed while held (not modelled)"
    return [
        ctx.meter(res, "EMR Serverless vCPU-hours", service="ElasticMapReduce", sku="serverless-vcpu-hours", quantity=vcpu * hours,
                  unit="vCPU-hour", usage_based=True, note=note),
        ctx.meter(res, "EMR Serverless memory GB-hours", service="ElasticMapReduce", sku="serverless-memory-gb-hours",
                  quantity=memory * hours, unit="GB-hour", usage_based=True, note=f"{memory:g} GB x {hours:g} h"),
    ]  # fmt: skip


def aws_glue_crawler(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    crawlers = ctx.count(["aws:glue/crawler:Crawler"])
    dpu_hours = _share(ctx.profile.analytics.crawler_dpu_hours_per_month, crawlers)
    return [ctx.meter(res, "Glue crawler DPU-hours", service="AWSGlue", sku="crawler-dpu-hours", quantity=dpu_hours,
                      unit="DPU-hour", usage_based=True)]  # fmt: skip


def aws_athena_workgroup(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    groups = ctx.count(["aws:athena/workgroup:Workgroup"])
    tb = _share(ctx.profile.analytics.tb_scanned_per_month, groups)
    return [ctx.meter(res, "Athena data scanned", service="AmazonAthena", sku="data-scanned", quantity=tb, unit="TB",
                      usage_based=True)]  # fmt: skip


def aws_metric_alarm(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    metrics = res.get("metricQueries", default=[]) or []
    count = max(1, sum(1 for q in metrics if q.get("metric")))  # metric-math alarms bill per metric
    high_res = float(res.get("period", default=60)) < 60
    sku = "alarm-high-resolution-month" if high_res else "alarm-standard-month"
    return [ctx.meter(res, "CloudWatch alarm metrics", service="AmazonCloudWatch", sku=sku, quantity=count,
                      unit="alarm-month", usage_based=False)]  # fmt: skip


CAPTURE_BYTES_PER_ROW = (
    400  # one capture line (app.frontend.capture): ten fields, prediction, ids, ~350-400 bytes
)


def aws_firehose(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    """Capture delivery: Firehose bills ingested GB (each record rounded up to 5 KB; the log subscription sends
    batches of events, so the rounding is small), one line per predicted row."""
    api = ctx.profile.api
    gb = api.requests_per_month * api.predictions_per_request * CAPTURE_BYTES_PER_ROW / 1e9
    return [ctx.meter(res, "capture ingestion", service="AmazonKinesisFirehose", sku="ingestion", quantity=gb,
                      unit="GB", usage_based=True,
                      note=f"{CAPTURE_BYTES_PER_ROW} B per captured row, every request captured")]  # fmt: skip


def aws_dashboard(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    return [ctx.meter(res, "CloudWatch dashboard", service="AmazonCloudWatch", sku="dashboard-month", quantity=1,
                      unit="dashboard-month", usage_based=False)]  # fmt: skip


def aws_log_group(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    components = log_ingestion(res, ctx, "AmazonCloudWatch", "logs-ingestion")
    retention = res.get("retentionInDays")
    months = 12.0 if not retention else float(retention) / 30
    stored = components[0].monthly_quantity * months
    components.append(ctx.meter(
        res, "log storage", service="AmazonCloudWatch", sku="logs-storage", quantity=stored, unit="GB-month",
        usage_based=True,
        note=f"steady state: ingest x {months:g} months retention" + ("" if retention else " (no retention set: 12 assumed)")))  # fmt: skip
    return components


def aws_sns_topic(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    topics = ctx.count(["aws:sns/topic:Topic"])
    return [ctx.meter(res, "SNS notifications", service="AmazonSNS", sku="notifications",
                      quantity=_share(ctx.profile.observability.alert_notifications_per_month, topics),
                      unit="notification", usage_based=True)]  # fmt: skip


def aws_training(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    tr = ctx.profile.training
    return [ctx.meter(res, f"training ({tr.instance.aws})", service="AmazonSageMaker",
                      sku=f"training-{tr.instance.aws}", quantity=tr.hours_per_month, unit="hour",
                      usage_based=True, note="SageMaker training jobs launched by the pipeline")]  # fmt: skip


def image_repository(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    """ECR / Artifact Registry: stored image GB (the profile's non-lake storage size)."""
    service = "AmazonECR" if ctx.cloud == "aws" else "Artifact Registry"
    return [ctx.meter(res, "image storage", service=service, sku="storage", quantity=ctx.profile.lake.other_storage_gb,
                      unit="GB-month", usage_based=True, note="lake.other_storage_gb")]  # fmt: skip


# ---------------------------------------------------------------------------------------- Azure
def _vm_hours(res: Resource, ctx: PricingContext, name: str, vm_size: str, hours: float, usage_based: bool,
              note: str = "") -> CostComponent:  # fmt: skip
    return ctx.meter(res, name, service="Virtual Machines", sku=f"{vm_size}-linux", quantity=hours, unit="hour",
                     usage_based=usage_based, note=note)  # fmt: skip


def azure_storage_account(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    gb, why = _lake_gb(res, ctx, ("azure-native:storage:StorageAccount",))
    redundancy = str(res.get("sku", "name", default="Standard_LRS")).split("_")[-1]
    return [ctx.meter(res, f"Blob hot storage ({redundancy})", service="Storage", sku=f"hot-{redundancy.lower()}",
                      quantity=gb, unit="GB-month", usage_based=True, note=why)]  # fmt: skip


def azure_databricks(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    spark = ctx.profile.spark
    tier = str(res.get("sku", "name", default="premium")).lower()
    node_vcpu = DATABRICKS_NODE_VCPU.get(spark.databricks_vm_size, 4)
    nodes = max(DATABRICKS_MIN_NODES, math.ceil(spark_size(ctx).vcpu / node_vcpu))
    node_hours = spark.job_hours_per_month * nodes
    sizing = f"{nodes:g} x {spark.databricks_vm_size} ({node_vcpu} vCPU; at least a driver and one worker)"
    return [
        ctx.meter(res, f"jobs compute DBUs ({tier})", service="Azure Databricks", sku=f"jobs-compute-{tier}",
                  quantity=node_hours * spark.databricks_dbu_per_node_hour, unit="DBU-hour", usage_based=True,
                  note=f"{sizing}; {node_hours:g} node-hours x {spark.databricks_dbu_per_node_hour:g} DBU (profile assumption)"),
        _vm_hours(res, ctx, f"cluster VMs ({spark.databricks_vm_size})", spark.databricks_vm_size, node_hours, True,
                  f"{sizing}; job clusters terminate after each run"),
    ]  # fmt: skip


def azure_ml_compute(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    props = res.get("properties", default={}) or {}
    inner = props.get("properties") or {}
    vm_size = inner.get("vmSize") or ctx.profile.training.instance.azure
    # Low-priority nodes have their own (lower) meter.
    variant = vm_size + ("-lowpriority" if str(inner.get("vmPriority", "")).lower() == "lowpriority" else "")
    min_nodes = float((inner.get("scaleSettings") or {}).get("minNodeCount") or 0)
    parts = [_vm_hours(res, ctx, f"training nodes ({variant})", variant, ctx.profile.training.hours_per_month,
                       True, "compute cluster scales to zero between jobs")]  # fmt: skip
    if min_nodes:
        parts.append(_vm_hours(res, ctx, f"always-on nodes ({variant})", variant, min_nodes * HOURS_PER_MONTH,
                               False, f"minNodeCount={min_nodes:g}"))  # fmt: skip
    return parts


def azure_container_registry(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    sku = str(res.get("sku", "name", default="Basic"))
    return [ctx.meter(res, f"registry ({sku})", service="Container Registry", sku=f"{sku.lower()}-registry-day",
                      quantity=HOURS_PER_MONTH / 24, unit="registry-day", usage_based=False,
                      note="fixed daily fee per registry")]  # fmt: skip


def azure_online_deployment(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    ep = ctx.profile.endpoint
    # azure-native v3 names the block `properties`; v2 named it `onlineDeploymentProperties`.
    props = res.get("properties", default={}) or res.get("onlineDeploymentProperties", default={}) or {}
    vm_size = props.get("instanceType") or ep.instance.azure
    count = float(res.get("sku", "capacity", default=0) or (props.get("scaleSettings") or {}).get("minInstances", 0)
                  or ep.instance_count)  # fmt: skip
    return [_vm_hours(res, ctx, f"endpoint instances ({vm_size})", vm_size, count * ep.instance_hours_per_month,
                      False, f"{count:g} instance(s) x {ep.instance_hours_per_month:g} h (managed online endpoint)")]  # fmt: skip


def azure_function_app(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    kind = str(res.get("kind", default=""))
    if "functionapp" not in kind:
        return [ctx.meter(res, "web app", service="App Service", sku=f"webapp-{kind or 'app'}", quantity=0,
                          unit="hour", usage_based=False, note="billed through its App Service plan")]  # fmt: skip
    api = ctx.profile.api
    # Consumption bills observed memory rounded up to 128 MB.
    memory_gb = math.ceil(api.function_memory_mb / 128) * 128 / 1024
    gb_s = api.requests_per_month * (api.mean_duration_ms / 1000) * memory_gb
    return [
        ctx.meter(res, "Functions executions", service="Functions", sku="executions", quantity=api.requests_per_month,
                  unit="execution", usage_based=True),
        ctx.meter(res, "Functions execution time", service="Functions", sku="execution-time", quantity=gb_s, unit="GB-second",
                  usage_based=True, note=f"memory {memory_gb * 1024:g} MB from profile api.function_memory_mb"),
    ]  # fmt: skip


def azure_app_service_plan(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    sku = str(res.get("sku", "name", default="Y1"))
    if sku.upper().startswith("Y") or str(res.get("sku", "tier", default="")).lower() == "dynamic":
        return []  # consumption plan: no fixed fee, executions are billed on the Function App
    return [ctx.meter(res, f"plan ({sku})", service="App Service", sku=f"plan-{sku}", quantity=HOURS_PER_MONTH,
                      unit="hour", usage_based=False)]  # fmt: skip


def azure_apim(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    sku = str(res.get("sku", "name", default="Consumption"))
    if sku.lower() != "consumption":
        units = float(res.get("sku", "capacity", default=1) or 1)
        return [ctx.meter(res, f"{sku} units", service="API Management", sku=f"{sku.lower()}-unit",
                          quantity=units * HOURS_PER_MONTH, unit="unit-hour", usage_based=False)]  # fmt: skip
    return [ctx.meter(res, "API Management calls", service="API Management", sku="consumption-calls",
                      quantity=ctx.profile.api.requests_per_month, unit="call", usage_based=True)]  # fmt: skip


def azure_key_vault(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    vaults = ctx.count(["azure-native:keyvault:Vault"])
    ops = _share(ctx.profile.security.key_vault_operations_per_month, vaults)
    return [ctx.meter(res, "Key Vault operations", service="Key Vault", sku="standard-operations", quantity=ops,
                      unit="operation", usage_based=True)]  # fmt: skip


def azure_log_sink(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    return log_ingestion(res, ctx, "Log Analytics", "analytics-logs-ingestion")


def azure_synapse_workspace(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    """Synapse: the workspace is free; its built-in serverless SQL pool bills per TB processed."""
    workspaces = ctx.count(["azure-native:synapse:Workspace"])
    tb = _share(ctx.profile.analytics.tb_scanned_per_month, workspaces)
    return [ctx.meter(res, "serverless SQL data processed", service="Azure Synapse Analytics",
                      sku="serverless-sql-data-processed", quantity=tb, unit="TB", usage_based=True,
                      note="analytics.tb_scanned_per_month (the lake's ad-hoc SQL)")]  # fmt: skip


def azure_metric_alert(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    return [ctx.meter(res, "metric alert rule", service="Azure Monitor", sku="metric-alert-signal-month", quantity=1,
                      unit="signal-month", usage_based=False)]  # fmt: skip


def azure_action_group(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    groups = ctx.count(["azure-native:insights:ActionGroup", "azure-native:monitor:ActionGroup"])
    return [ctx.meter(res, "alert e-mails", service="Azure Monitor", sku="email-notifications",
                      quantity=_share(ctx.profile.observability.alert_notifications_per_month, groups),
                      unit="email", usage_based=True)]  # fmt: skip


# ------------------------------------------------------------------------------------------ GCP
def gcp_bucket(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    gb, why = _lake_gb(res, ctx, ("gcp:storage/bucket:Bucket",))
    storage_class = str(res.get("storageClass", default="STANDARD")).lower()
    return [ctx.meter(res, f"Cloud Storage ({storage_class})", service="Cloud Storage", sku=f"{storage_class}-storage",
                      quantity=gb, unit="GB-month", usage_based=True, note=why)]  # fmt: skip


def gcp_bigquery_dataset(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    if res.concept == "Warehouse":
        return gcp_warehouse_dataset(res, ctx)
    dataset = ["gcp:bigquery/dataset:Dataset"]
    warehouses = ctx.count(dataset, concept="Warehouse")
    datasets = ctx.count(dataset) - warehouses
    location = _bigquery_location(res, ctx)
    components = []
    if not warehouses:  # without a Warehouse, the profile's warehouse GB are tables of these datasets
        components.append(ctx.meter(
            res, "BigQuery active storage", service="BigQuery", sku="active-logical-storage",
            quantity=_share(ctx.profile.lake.warehouse_gb, datasets), unit="GB-month", usage_based=True,
            region=location, note="lake.warehouse_gb"))  # fmt: skip
    components.append(ctx.meter(
        res, "BigQuery on-demand queries", service="BigQuery", sku="on-demand-query",
        quantity=_share(ctx.profile.analytics.tb_scanned_per_month, datasets), unit="TB", usage_based=True,
        region=location, note="analytics.tb_scanned_per_month"))  # fmt: skip
    return components


def gcp_function(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    api = ctx.profile.api
    config = res.get("serviceConfig", default={}) or res.get("template", "containers", 0, "resources", "limits",
                                                              default={})  # fmt: skip
    memory_gib = units.memory_gib(
        config.get("availableMemory") or config.get("memory"), api.function_memory_mb
    )
    vcpu = float(config.get("availableCpu") or config.get("cpu") or api.function_vcpu)
    seconds = api.requests_per_month * api.mean_duration_ms / 1000
    return [
        ctx.meter(res, "Cloud Run requests", service="Cloud Run", sku="requests", quantity=api.requests_per_month,
                  unit="request", usage_based=True),
        ctx.meter(res, "Cloud Run CPU", service="Cloud Run", sku="cpu-request-based", quantity=seconds * vcpu,
                  unit="vCPU-second", usage_based=True, note=f"{vcpu:g} vCPU, CPU allocated during requests only"),
        ctx.meter(res, "Cloud Run memory", service="Cloud Run", sku="memory-request-based", quantity=seconds * memory_gib,
                  unit="GiB-second", usage_based=True, note=f"{memory_gib:.4g} GiB"),
    ]  # fmt: skip


def gcp_api_gateway(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    gateways = ctx.count(["gcp:apigateway/gateway:Gateway"])
    return [ctx.meter(res, "API Gateway calls", service="API Gateway", sku="calls",
                      quantity=_share(ctx.profile.api.requests_per_month, gateways), unit="call",
                      usage_based=True)]  # fmt: skip


def gcp_vertex_endpoint(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    ep = ctx.profile.endpoint
    machine = ep.instance.gcp
    return [ctx.meter(res, f"prediction nodes ({machine})", service="Vertex AI", sku=f"prediction-{machine}",
                      quantity=ep.instance_count * ep.instance_hours_per_month, unit="node-hour",
                      usage_based=False,
                      note="model deployed by the CD step; machine type and replicas from the profile")]  # fmt: skip


def gcp_kms_key(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    keys = ctx.count(["gcp:kms/cryptoKey:CryptoKey"])
    level = str(res.get("versionTemplate", "protectionLevel", default="SOFTWARE")).lower()
    return [
        ctx.meter(res, "KMS key version", service="Cloud KMS", sku=f"{level}-key-version-month", quantity=1,
                  unit="key-version-month", usage_based=False,
                  note="rotation keeps older versions active (each billed)"),
        ctx.meter(res, "KMS operations", service="Cloud KMS", sku=f"{level}-operations",
                  quantity=_share(ctx.profile.security.kms_requests_per_month, keys), unit="operation",
                  usage_based=True),
    ]  # fmt: skip


def gcp_pubsub_topic(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    topics = ctx.count(["gcp:pubsub/topic:Topic"])
    messages = _share(ctx.profile.observability.alert_notifications_per_month, topics)
    gib = messages * ctx.profile.api.payload_kb / 2**20
    return [ctx.meter(res, "Pub/Sub throughput", service="Pub/Sub", sku="message-delivery", quantity=gib,
                      unit="GiB", usage_based=True, note="alert notifications x payload size")]  # fmt: skip


def gcp_scheduler_job(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    """Cloud Scheduler bills each job per month, whatever it runs (the first jobs of a billing account are free)."""
    return [ctx.meter(res, "scheduler job", service="Cloud Scheduler", sku="job-month", quantity=1,
                      unit="job-month", usage_based=False)]  # fmt: skip


def gcp_secret(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    """Secret Manager bills active versions per replica location (one here: a user-managed regional replica)."""
    return [ctx.meter(res, "secret version", service="Secret Manager", sku="active-version-month", quantity=1,
                      unit="version-month", usage_based=False)]  # fmt: skip


def gcp_alert_policy(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    conditions = len(res.get("conditions", default=[]) or []) or 1
    return [ctx.meter(res, "alert conditions", service="Cloud Monitoring", sku="alert-condition-month",
                      quantity=conditions, unit="condition-month", usage_based=False)]  # fmt: skip


def gcp_spark(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    size, hours = spark_size(ctx), ctx.profile.spark.job_hours_per_month
    # DCU rule from the Dataproc Serverless pricing page: 0.6 per vCPU, 0.1 per GB up to 8 GB/vCPU,
    # 0.2 per GB above; every workload uses at least 12 DCUs.
    low_gb = min(size.memory_gb, 8 * size.vcpu)
    dcu = max(12.0, 0.6 * size.vcpu + 0.1 * low_gb + 0.2 * (size.memory_gb - low_gb))
    return [ctx.meter(res, "Spark batch DCU-hours", service="Dataproc Serverless", sku="dcu-hours-standard",
                      quantity=dcu * hours, unit="DCU-hour", usage_based=True,
                      note=f"{size.vcpu:g} vCPU / {size.memory_gb:g} GB = {dcu:g} DCU (12 DCU minimum) x {hours:g} h")]  # fmt: skip


def gcp_training(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    tr = ctx.profile.training
    return [ctx.meter(res, f"custom training ({tr.instance.gcp})", service="Vertex AI",
                      sku=f"training-{tr.instance.gcp}", quantity=tr.hours_per_month, unit="node-hour",
                      usage_based=True)]  # fmt: skip


def gcp_observability(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    return log_ingestion(res, ctx, "Cloud Logging", "logs-ingestion")


# ------------------------------------------------------------------------------------ Warehouse
# The optional Warehouse concept: compute hours and its own query bytes come from the profile's `warehouse`
# section, its storage from `lake.warehouse_gb` (the same GB on every cloud).
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
REDSHIFT_DEFAULT_BASE_RPU = 128.0  # what Redshift Serverless uses when a workgroup sets no base capacity
REDSHIFT_USAGE_LIMIT = "aws:redshiftserverless/usageLimit:UsageLimit"
LOGIC_APP_CHECKS_PER_HOUR = 4.0  # components/warehouse/azure.py: the pauser runs every 15 minutes
LOGIC_APP_ACTIONS_PER_RUN = 4.0  # trigger, read the pool, read its metric, the condition (a pause is rare)


def aws_redshift_workgroup(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    hours = ctx.profile.warehouse.compute_hours_per_month
    base = float(res.get("baseCapacity", default=REDSHIFT_DEFAULT_BASE_RPU))
    rpu_hours = base * hours
    note = f"{base:g} RPU base x {hours:g} h (warehouse.compute_hours_per_month); a 60 s minimum per query not modelled"
    caps = [float(r.get("amount", default=0)) for r in ctx.resources
            if r.type == REDSHIFT_USAGE_LIMIT and r.get("usageType") == "serverless-compute"
            and r.get("period") == "daily" and r.get("breachAction") == "deactivate"]  # fmt: skip
    if caps and rpu_hours > min(caps) * DAYS_PER_MONTH:
        rpu_hours = min(caps) * DAYS_PER_MONTH
        note += f"; capped by the daily usage limit ({min(caps):g} RPU-h x {DAYS_PER_MONTH:g} days)"
    return [ctx.meter(res, "Redshift Serverless compute", service="AmazonRedshift", sku="serverless-rpu-hours",
                      quantity=rpu_hours, unit="RPU-hour", usage_based=True, note=note)]  # fmt: skip


def aws_redshift_namespace(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    return [ctx.meter(res, "Redshift managed storage", service="AmazonRedshift", sku="rms-storage",
                      quantity=ctx.profile.lake.warehouse_gb, unit="GB-month", usage_based=True,
                      note="lake.warehouse_gb")]  # fmt: skip


def aws_vpc_endpoint(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    """Gateway endpoints (S3, DynamoDB) carry no charge; an interface endpoint bills per AZ-hour."""
    if str(res.get("vpcEndpointType", default="Gateway")) == "Gateway":
        return []
    zones = max(1, len(res.get("subnetIds", default=[]) or []))
    return [ctx.meter(res, "interface endpoint", service="AmazonVPC", sku="interface-endpoint-hours",
                      quantity=zones * HOURS_PER_MONTH, unit="hour", usage_based=False,
                      note=f"{zones} AZ(s) x {HOURS_PER_MONTH:g} h")]  # fmt: skip


def azure_sql_pool(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    """Synapse dedicated SQL pool: compute per hour online at its service level (a started hour is billed whole),
    storage per GB; paused, only storage bills."""
    sku = str(res.get("sku", "name", default="DW100c"))
    hours = ctx.profile.warehouse.compute_hours_per_month
    return [
        ctx.meter(res, f"dedicated SQL pool ({sku})", service="Azure Synapse Analytics",
                  sku=f"dedicated-sql-{sku.lower()}", quantity=hours, unit="hour", usage_based=True,
                  note=f"{hours:g} h online (warehouse.compute_hours_per_month); paused when idle"),
        ctx.meter(res, "dedicated SQL pool storage", service="Azure Synapse Analytics",
                  sku="dedicated-sql-storage", quantity=ctx.profile.lake.warehouse_gb, unit="GB-month",
                  usage_based=True, note="lake.warehouse_gb"),
    ]  # fmt: skip


def azure_logic_app(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    """Consumption Logic App: built-in action executions (the warehouse pauser's schedule)."""
    runs = LOGIC_APP_CHECKS_PER_HOUR * HOURS_PER_MONTH
    return [ctx.meter(res, "Logic App actions", service="Logic Apps", sku="consumption-actions",
                      quantity=runs * LOGIC_APP_ACTIONS_PER_RUN, unit="action", usage_based=False,
                      note=f"{runs:g} runs x {LOGIC_APP_ACTIONS_PER_RUN:g} built-in actions")]  # fmt: skip


def _bigquery_location(res: Resource, ctx: PricingContext) -> str:
    # A regional dataset is priced in the region set's region; US/EU multi-regions keep their own key.
    location = str(res.get("location", default="US"))
    return location if "-" not in location else ctx.region


def gcp_warehouse_dataset(res: Resource, ctx: PricingContext) -> list[CostComponent]:
    """The Warehouse's dataset: native table storage, the warehouse's own queries, and the scheduled loads (each
    reads the lake's curated listings through BigLake: on-demand bytes)."""
    location = _bigquery_location(res, ctx)
    loads = sum(HOURS_PER_MONTH / _every_hours(r.get("schedule")) for r in ctx.resources
                if r.type == BIGQUERY_TRANSFER and r.concept == "Warehouse")  # fmt: skip
    curated_gb = ctx.profile.lake.gb.get("curated", 0.0)
    wh = ctx.profile.warehouse
    return [
        ctx.meter(res, "BigQuery active storage", service="BigQuery", sku="active-logical-storage",
                  quantity=ctx.profile.lake.warehouse_gb, unit="GB-month", usage_based=True, region=location,
                  note="lake.warehouse_gb"),
        ctx.meter(res, "BigQuery on-demand queries", service="BigQuery", sku="on-demand-query",
                  quantity=wh.tb_scanned_per_month + loads * curated_gb / 1000, unit="TB", usage_based=True,
                  region=location,
                  note=f"warehouse.tb_scanned_per_month + {loads:g} scheduled loads x {curated_gb:g} GB curated"),
    ]  # fmt: skip


BIGQUERY_TRANSFER = "gcp:bigquery/dataTransferConfig:DataTransferConfig"


def _every_hours(schedule: object) -> float:
    """Hours between runs of a Data Transfer schedule ('every 24 hours', 'every 6 hours'); 24 if unreadable."""
    match = re.fullmatch(r"every (\d+) hours?", str(schedule or "").strip())
    return float(match.group(1)) if match and int(match.group(1)) > 0 else 24.0

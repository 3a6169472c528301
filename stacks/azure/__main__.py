"""tricloud on Azure: the platform's components, composed in dependency order; nothing else lives here."""

import tricloud.config

# Validate the whole configuration before anything is imported or created: a bad key fails with no resource.
cfg = tricloud.config.load("azure")

import pulumi  # noqa: E402

from components.api_frontend.azure import ApiFrontend  # noqa: E402
from components.ci_identity.azure import CiIdentity  # noqa: E402
from components.data_lake.azure import DataLake  # noqa: E402
from components.model_endpoint.azure import ModelEndpoint  # noqa: E402
from components.observability.azure import Observability  # noqa: E402
from components.spark_cluster.azure import SparkCluster  # noqa: E402
from components.training_job.azure import TrainingJob  # noqa: E402

observability = Observability("observability", cfg.observability)
lake = DataLake("lake", cfg.lake)
spark = SparkCluster("spark", cfg.spark, lake=lake)
training = TrainingJob("training", cfg.training, lake=lake)
endpoint = ModelEndpoint("endpoint", cfg.endpoint, lake=lake, training=training, observability=observability)
observability.watch_model(
    cfg.monitoring, lake=lake, training=training, github_repository=cfg.ci.github_repository
)
api = ApiFrontend(
    "api", cfg.api, endpoint=endpoint, observability=observability, lake=lake,
    capture_percent=cfg.monitoring.capture_percent,
)  # fmt: skip
ci = CiIdentity("ci", cfg.ci, lake=lake, endpoint=endpoint, training=training, api=api)

# Optional, off by default (it bills for its own storage and compute): a warehouse loaded from the lake.
warehouse = None
if cfg.warehouse.enabled:
    from components.warehouse.azure import Warehouse

    warehouse = Warehouse("warehouse", cfg.warehouse, lake=lake)

# The cloud-neutral outputs: the same names on every cloud (each concept's spec OUTPUTS).
for component in filter(None, (observability, lake, spark, training, endpoint, api, ci, warehouse)):
    for output in component.OUTPUTS:
        pulumi.export(output, getattr(component, output))
pulumi.export("region", cfg.region)

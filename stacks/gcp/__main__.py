"""tricloud on GCP: the platform's concepts composed from components; all settings come from `tricloud:*` config."""

import pulumi

from components.api_frontend.gcp import ApiFrontend
from components.ci_identity.gcp import CiIdentity
from components.data_lake.gcp import DataLake
from components.model_endpoint.gcp import ModelEndpoint
from components.observability.gcp import Observability
from components.spark_cluster.gcp import SparkCluster
from components.training_job.gcp import TrainingJob
from tricloud import config

cfg = config.load("gcp")

observability = Observability("observability", cfg.observability)
lake = DataLake("lake", cfg.lake)
spark = SparkCluster("spark", cfg.spark, lake=lake)
training = TrainingJob("training", cfg.training, lake=lake)
endpoint = ModelEndpoint("endpoint", cfg.endpoint, lake=lake, training=training, observability=observability)
api = ApiFrontend("api", cfg.api, endpoint=endpoint, observability=observability)
ci = CiIdentity("ci", cfg.ci, lake=lake, endpoint=endpoint)

pulumi.export("region", cfg.region)
pulumi.export("project", cfg.project_id)
for component in (lake, spark, training, endpoint, api, observability, ci):
    for output in type(component).__annotations__:
        if output != "native":
            pulumi.export(output, getattr(component, output))

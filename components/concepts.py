"""The concepts, once: their order in documents and reports, and the name each stack gives its component."""

from __future__ import annotations

from components.api_frontend.spec import ApiFrontend
from components.ci_identity.spec import CiIdentity
from components.data_lake.spec import DataLake
from components.model_endpoint.spec import ModelEndpoint
from components.observability.spec import Observability
from components.spark_cluster.spec import SparkCluster
from components.spec_base import Concept
from components.training_job.spec import TrainingJob
from components.warehouse.spec import Warehouse

# Component name in stacks/<cloud>/__main__.py (and the tricloud:<name> config key) -> concept.
STACK_COMPONENTS: dict[str, type[Concept]] = {
    "lake": DataLake,
    "spark": SparkCluster,
    "training": TrainingJob,
    "endpoint": ModelEndpoint,
    "api": ApiFrontend,
    "observability": Observability,
    "ci": CiIdentity,
    "warehouse": Warehouse,
}
# Concepts a stack creates only when their config enables them (`tricloud:<name>.enabled`), off by default (cost).
OPTIONAL_COMPONENTS: frozenset[str] = frozenset({"warehouse"})
CONCEPTS: tuple[type[Concept], ...] = tuple(STACK_COMPONENTS.values())
CONCEPT_NAMES: tuple[str, ...] = tuple(c.name for c in CONCEPTS)
OPTIONAL_CONCEPT_NAMES: frozenset[str] = frozenset(STACK_COMPONENTS[n].name for n in OPTIONAL_COMPONENTS)

"""TrainingJob spec (cloud-neutral).

AWS: SageMaker execution role + training settings + a SageMaker Model Registry group. Azure: Azure ML workspace +
compute cluster (min 0) + a model container in the workspace registry. GCP: Vertex service account + staging bucket +
Artifact Registry repository; the Vertex Model Registry entry is created by the first `tricloud model register`.

`model_registry` names where `tricloud model register` records versions: the model package group name (AWS), the
model container's resource id (Azure), the Vertex model resource name (GCP).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from components.errors import in_range, matches
from components.spec_base import Args, Concept

OUTPUTS = (
    "training_role",
    "training_image_uri",
    "training_instance_type",
    "training_input_uri",
    "training_output_uri",
    "model_registry",
)


@dataclass(frozen=True, kw_only=True)
class TrainingJobArgs(Args):
    image_uri: str | None = None  # None: the cloud's registry path for the app/Dockerfile image
    instance_type: str | None = None  # None: ml.m5.large / Standard_DS3_v2 / n1-standard-4
    max_instances: int = 1  # compute scales from 0 to this
    max_runtime_minutes: int = 60  # a runaway job stops instead of billing forever
    use_spot: bool = True  # training is restartable; spot is 60-90% cheaper
    hyperparameters: dict[str, str] = field(default_factory=dict)  # passed to app.train as strings

    def validate(self) -> None:
        in_range("max_instances", self.max_instances, 1, 100)
        in_range("max_runtime_minutes", self.max_runtime_minutes, 1, 28 * 24 * 60)
        if self.image_uri is not None:
            matches(
                "image_uri",
                self.image_uri,
                r"[a-z0-9.-]+(:\d+)?/[A-Za-z0-9._/-]+(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})",
                "a container image reference registry/repository:tag",
            )
        for k in self.hyperparameters:
            matches(
                "hyperparameters", k, r"[A-Za-z_][A-Za-z0-9_-]{0,255}", "keys of letters, digits, _ and -"
            )


class TrainingJob(Concept):
    name = "TrainingJob"
    outputs = OUTPUTS

"""The serving record: which registered model version an endpoint serves, pinned by digest.

One JSON document, written by `tricloud model rollout|rollback` and read by the stack program, so a later `pulumi up`
from any machine keeps the rolled-out model (and a preview after a rollout shows no change). On AWS it is the SSM
parameter `serving_parameter(project, stack)`; the stack reads it with `ssm.getParametersByPath`, which answers an
empty list on the first deploy instead of failing. No Pulumi import here: the `tricloud model` commands share it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from components.errors import InvalidArgs

SERVING = "serving"  # the record the endpoint serves
PREVIOUS = "previous"  # the record it served before: what `rollback` restores
DIGEST_IMAGE = re.compile(r"[a-z0-9.-]+(:\d+)?/[A-Za-z0-9._/-]+@sha256:[0-9a-f]{64}")
SHA256 = re.compile(r"[0-9a-f]{64}")


def parameter_path(project: str, stack: str) -> str:
    """SSM path holding the records of one stack (`/<project>/<stack>/model`)."""
    return f"/{project}/{stack}/model"


def parameter_name(project: str, stack: str, record: str = SERVING) -> str:
    return f"{parameter_path(project, stack)}/{record}"


@dataclass(frozen=True)
class ServingModel:
    version: str  # the registry's id of the version (model package ARN, model asset id, model resource name)
    model_data_uri: str  # the artifact the endpoint loads
    model_sha256: str  # sha256 of that artifact (model.tar.gz on AWS): checked before every rollout
    image: str  # registry/repository@sha256:<digest>: the exact image the version was trained and tested with
    label: str = ""  # the model's own version string (metadata.json), what the API answers as model_version

    def __post_init__(self) -> None:
        if not DIGEST_IMAGE.fullmatch(self.image):
            raise InvalidArgs(
                "image", self.image, "must be pinned by digest: registry/repository@sha256:<64 hex>"
            )
        if not SHA256.fullmatch(self.model_sha256):
            raise InvalidArgs("model_sha256", self.model_sha256, "must be 64 lowercase hex digits")
        if "://" not in self.model_data_uri:
            raise InvalidArgs("model_data_uri", self.model_data_uri, "must be a URI")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, where: str = "serving record") -> ServingModel:
        try:
            data: Any = json.loads(text)
            return cls(
                **{k: str(data[k]) for k in ("version", "model_data_uri", "model_sha256", "image")},
                label=str(data.get("label", "")),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InvalidArgs(where, text[:200], f"is not a serving record ({exc})") from None


def from_parameters(
    names: Sequence[str], values: Sequence[str], project: str, stack: str, record: str = SERVING
) -> ServingModel | None:
    """The record among `getParametersByPath` results, or None when nothing was rolled out yet."""
    wanted = parameter_name(project, stack, record)
    for name, value in zip(names, values, strict=True):
        if name == wanted:
            return ServingModel.from_json(value, wanted)
    return None

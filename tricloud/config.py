"""The one loader that turns `tricloud:*` stack config into typed Args, for every cloud's stack.

Config keys are objects named after the concepts (`tricloud:lake`, `tricloud:endpoint`, ...) whose keys are the Args
field names; `tricloud:owner`, `tricloud:costCenter` and `tricloud:tags` become tags on every component. The whole
config is validated before the stack creates anything, and an error names the key and the value.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components import constraints
from components.api_frontend.spec import ApiFrontendArgs
from components.ci_identity.spec import CiIdentityArgs
from components.data_lake.spec import DataLakeArgs
from components.errors import InvalidArgs, matches
from components.model_endpoint.spec import ModelEndpointArgs
from components.observability.spec import MonitoringArgs, ObservabilityArgs
from components.spark_cluster.spec import SparkClusterArgs
from components.spec_base import Args
from components.training_job.spec import TrainingJobArgs
from components.warehouse.spec import WarehouseArgs
from tricloud.model.settings import DeliveryArgs
from tricloud.policy.spec import PolicyArgs

NAMESPACE = "tricloud"
CLOUDS = ("aws", "azure", "gcp")

# Where each cloud's provider keeps its region, and what a region name looks like there.
REGION_KEYS = {"aws": "aws:region", "azure": "azure-native:location", "gcp": "gcp:region"}
REGION_PATTERNS = {
    "aws": (
        r"[a-z]{2}(-gov|-iso[a-z]?)?-(central|north|south|east|west|northeast|northwest|southeast|southwest)-\d",
        "an AWS region such as ap-south-1",
    ),
    "azure": (r"[a-z]+[a-z0-9]*", "an Azure location such as centralindia"),
    "gcp": (r"[a-z]+-[a-z]+\d+", "a GCP region such as asia-south1"),
}

# Concept config keys and their Args types, in composition order.
SECTIONS: dict[str, type[Args]] = {
    "lake": DataLakeArgs,
    "spark": SparkClusterArgs,
    "training": TrainingJobArgs,
    "endpoint": ModelEndpointArgs,
    "api": ApiFrontendArgs,
    "observability": ObservabilityArgs,
    "monitoring": MonitoringArgs,
    "ci": CiIdentityArgs,
    "warehouse": WarehouseArgs,  # optional: created only with `enabled: true`
}
# Sections read by the toolkit, not by a component: policy exceptions (`tricloud policy check`, the policy pack)
# and `tricloud model`'s gates.
TOOL_SECTIONS: dict[str, type[Args]] = {"policy": PolicyArgs, "delivery": DeliveryArgs}


@dataclass(frozen=True)
class PlatformConfig:
    cloud: str
    region: str
    tags: dict[str, str]
    lake: DataLakeArgs
    spark: SparkClusterArgs
    training: TrainingJobArgs
    endpoint: ModelEndpointArgs
    api: ApiFrontendArgs
    observability: ObservabilityArgs
    ci: CiIdentityArgs
    project_id: str | None = None  # GCP only: the project every resource lives in
    policy: PolicyArgs = dataclasses.field(default_factory=PolicyArgs)
    delivery: DeliveryArgs = dataclasses.field(default_factory=DeliveryArgs)
    warehouse: WarehouseArgs = dataclasses.field(default_factory=WarehouseArgs)
    monitoring: MonitoringArgs = dataclasses.field(default_factory=MonitoringArgs)


def _convert(hint: Any, value: Any, key: str) -> Any:
    """Coerce one config value to the Args field's annotated type (config may arrive as strings or floats)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _convert(options[0], value, key)
    if isinstance(hint, type) and issubclass(hint, Args):
        if not isinstance(value, Mapping):
            raise InvalidArgs(key, value, "must be an object")
        return build_args(hint, value, key)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError:
            raise InvalidArgs(key, value, "must be one of " + ", ".join(m.value for m in hint)) from None
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise InvalidArgs(key, value, "must be true or false")
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise InvalidArgs(key, value, "must be a number")
        try:
            number = float(value)
        except ValueError:
            raise InvalidArgs(key, value, "must be a number") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise InvalidArgs(key, value, "must be a finite number")
        return number
    if hint is int:
        if isinstance(value, bool):
            raise InvalidArgs(key, value, "must be a whole number")
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
        raise InvalidArgs(key, value, "must be a whole number")
    if hint is str:
        if isinstance(value, str):
            return value
        raise InvalidArgs(key, value, "must be a string")
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise InvalidArgs(key, value, "must be a list")
        (item,) = typing.get_args(hint)[:1]
        return tuple(_convert(item, v, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise InvalidArgs(key, value, "must be an object of strings")
        return {str(k): str(v) for k, v in value.items()}
    raise TypeError(f"{key}: unsupported Args field type {hint!r}")


def build_args(
    cls: type[Args], raw: Mapping[str, Any], prefix: str, tags: Mapping[str, str] | None = None
) -> Args:
    """Build `cls` from a config object; unknown keys and bad values raise InvalidArgs under `prefix`."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in names:
            raise InvalidArgs(
                f"{prefix}.{key}", value, "unknown key; known keys: " + ", ".join(sorted(names))
            )
        kwargs[key] = _convert(hints[key], value, f"{prefix}.{key}")
    if tags:
        kwargs["tags"] = {**tags, **kwargs.get("tags", {})}
    try:
        return cls(**kwargs)
    except InvalidArgs as err:
        raise err.under(prefix) from None


def parse(cloud: str, values: Mapping[str, Any]) -> PlatformConfig:
    """PlatformConfig from flat config values keyed like Pulumi's (`tricloud:lake`, `aws:region`, ...)."""
    if cloud not in CLOUDS:
        raise InvalidArgs("cloud", cloud, "must be one of " + ", ".join(CLOUDS))
    known = {f"{NAMESPACE}:{k}" for k in (*SECTIONS, *TOOL_SECTIONS, "owner", "costCenter", "tags")}
    for key, value in values.items():
        if key.startswith(f"{NAMESPACE}:") and key not in known:
            raise InvalidArgs(key, value, "unknown key; known keys: " + ", ".join(sorted(known)))

    region_key = REGION_KEYS[cloud]
    region = values.get(region_key)
    if region is None:
        raise InvalidArgs(
            region_key, None, "is required (set it with `pulumi config set " + region_key + " ...`)"
        )
    pattern, what = REGION_PATTERNS[cloud]
    matches(region_key, region, pattern, what)

    tags = dict(_convert(dict[str, str], values.get(f"{NAMESPACE}:tags", {}), f"{NAMESPACE}:tags"))
    for key, tag in (("owner", "owner"), ("costCenter", "cost-center")):
        if f"{NAMESPACE}:{key}" in values:
            tags[tag] = _convert(str, values[f"{NAMESPACE}:{key}"], f"{NAMESPACE}:{key}")

    sections = {
        name: build_args(cls, values.get(f"{NAMESPACE}:{name}") or {}, f"{NAMESPACE}:{name}", tags)
        for name, cls in SECTIONS.items()
    }
    for name, raw in ((n, values.get(f"{NAMESPACE}:{n}")) for n in (*SECTIONS, *TOOL_SECTIONS)):
        if raw is not None and not isinstance(raw, Mapping):
            raise InvalidArgs(f"{NAMESPACE}:{name}", raw, "must be an object")
    # What the cloud itself would refuse (components/constraints.py), before any resource exists.
    try:
        constraints.check(cloud, sections)
    except InvalidArgs as err:
        raise InvalidArgs(f"{NAMESPACE}:{err.field}", err.value, err.reason) from None
    tools = {
        name: build_args(cls, values.get(f"{NAMESPACE}:{name}") or {}, f"{NAMESPACE}:{name}")
        for name, cls in TOOL_SECTIONS.items()
    }
    _check_ci_session(sections)
    project_id = values.get("gcp:project") if cloud == "gcp" else None
    return PlatformConfig(cloud=cloud, region=region, tags=tags, project_id=project_id, **sections, **tools)  # type: ignore[arg-type]


CI_JOB_MARGIN_MINUTES = (
    30  # image build, registration, approval and the smoke test around training and the bake
)


def _check_ci_session(sections: Mapping[str, Any]) -> None:
    """The rollout job signs in once: its session must outlast training plus the canary bake."""
    ci, training, endpoint = sections["ci"], sections["training"], sections["endpoint"]
    needed = training.max_runtime_minutes + endpoint.canary_wait_minutes + CI_JOB_MARGIN_MINUTES
    if ci.session_minutes < needed:
        raise InvalidArgs(
            f"{NAMESPACE}:ci.session_minutes",
            ci.session_minutes,
            f"must cover training.max_runtime_minutes ({training.max_runtime_minutes}) + "
            f"endpoint.canary_wait_minutes ({endpoint.canary_wait_minutes}) + {CI_JOB_MARGIN_MINUTES}: at least {needed}",
        )


def with_optional_enabled(values: Mapping[str, Any]) -> dict[str, Any]:
    """Config values with every optional concept switched on (`tricloud:<name>.enabled: true`), other keys kept:
    what the concept matrix, the contract tests and the cost samples build to show them."""
    from components.concepts import OPTIONAL_COMPONENTS

    out = dict(values)
    for name in sorted(OPTIONAL_COMPONENTS):
        out[f"{NAMESPACE}:{name}"] = {**dict(out.get(f"{NAMESPACE}:{name}") or {}), "enabled": True}
    return out


def load(cloud: str) -> PlatformConfig:
    """Read the current Pulumi stack's config (real engine or mocks) and validate it."""
    import json

    from pulumi.runtime import config as runtime_config

    # Every key the engine passed, so a misspelt tricloud:* key is an error, not a silent default.
    raw_all = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    wanted = (REGION_KEYS[cloud], "gcp:project")
    values: dict[str, Any] = {}
    for key, raw in raw_all.items():
        if not (key.startswith(f"{NAMESPACE}:") or key in wanted):
            continue
        try:
            values[key] = json.loads(raw) if isinstance(raw, str) and raw[:1] in "{[" else raw
        except json.JSONDecodeError:
            raise InvalidArgs(key, raw, "is not valid JSON") from None
    return parse(cloud, values)


def _field_comments(cls: type) -> dict[str, str]:
    """The one-line reason written after each field in the spec source: the reference's 'meaning' column."""
    import inspect

    comments: dict[str, str] = {}
    for line in inspect.getsource(cls).splitlines():
        m = re.match(r"\s+(\w+): [^=]+=.*?#\s*(.+)$", line)
        if m:
            comments[m.group(1)] = m.group(2).strip()
    return comments


def reference_markdown() -> str:
    """Every `tricloud:*` key with its default and meaning, generated from the specs (README keeps a copy)."""
    rows = [
        "| key | default | meaning |",
        "|---|---|---|",
        "| `tricloud:owner` | `unassigned` | owner tag on every resource |",
        "| `tricloud:costCenter` | `unassigned` | cost-center tag on every resource |",
        "| `tricloud:tags` | `{}` | extra tags merged into every resource's tags |",
    ]

    def walk(cls: type[Args], prefix: str) -> None:
        comments = _field_comments(cls)
        for f in dataclasses.fields(cls):
            if f.name == "tags":
                continue
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            if isinstance(default, Args):
                walk(type(default), f"{prefix}.{f.name}")
                continue
            shown = default.value if isinstance(default, enum.Enum) else default
            shown = "null" if shown is None else json_compact(shown)
            rows.append(f"| `{prefix}.{f.name}` | `{shown}` | {comments.get(f.name, '')} |")

    for name, cls in {**SECTIONS, **TOOL_SECTIONS}.items():
        walk(cls, f"{NAMESPACE}:{name}")
    return "\n".join(rows) + "\n"


def json_compact(value: Any) -> str:
    import json

    if isinstance(value, bool | int | float | str):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return json.dumps(list(value) if isinstance(value, tuple) else value, separators=(",", ":"))

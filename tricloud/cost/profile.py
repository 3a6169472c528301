"""Usage profiles: the traffic and data volumes the inventory cannot know.

Profiles are YAML files (tricloud/cost/profiles/<name>.yaml, or any file a user passes). Loading
is strict: an unknown key or a bad value raises ProfileError naming the key path and the value.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml

PROFILE_DIR = Path(__file__).parent / "profiles"


class ProfileError(ValueError):
    """A usage profile is invalid; the message names the key and echoes the value."""


@dataclass(frozen=True)
class ApiUsage:
    requests_per_month: float = 0.0
    mean_duration_ms: float = 100.0
    payload_kb: float = 1.0
    predictions_per_request: float = 1.0
    # Used where the graph carries no memory size (Azure consumption bills observed memory).
    function_memory_mb: float = 256.0
    function_vcpu: float = 1.0


@dataclass(frozen=True)
class LakeUsage:
    gb: dict[str, float] = field(default_factory=dict)  # GB stored per zone: raw, curated, artifacts
    warehouse_gb: float = 0.0  # GB in warehouse tables (the Warehouse concept; BigQuery tables without one)
    other_storage_gb: float = 0.0  # per non-lake storage account or bucket (staging, function code)


@dataclass(frozen=True)
class InstanceByCloud:
    aws: str = "ml.m5.xlarge"
    azure: str = "Standard_DS3_v2"
    gcp: str = "n1-standard-4"


@dataclass(frozen=True)
class SparkUsage:
    job_hours_per_month: float = 0.0
    # Per job, driver plus executors. Every cloud is priced at this size within the stacks' lowest
    # Spark ceiling (spark.max_vcpu / max_memory_gb), so the three figures are like for like.
    vcpu: float = 4.0
    memory_gb: float = 16.0
    databricks_dbu_per_node_hour: float = 0.75  # assumption: DBU rating of the node VM size
    databricks_vm_size: str = "Standard_D4ds_v5"  # the node type the stack's cluster policy allows


@dataclass(frozen=True)
class TrainingUsage:
    hours_per_month: float = 0.0
    instance: InstanceByCloud = field(default_factory=InstanceByCloud)


@dataclass(frozen=True)
class EndpointUsage:
    mode: Literal["auto", "serverless", "instance"] = "auto"
    instance_hours_per_month: float = 730.0
    instance_count: float = 1.0
    mean_inference_ms: float = 50.0
    instance: InstanceByCloud = field(
        default_factory=lambda: InstanceByCloud(
            aws="ml.m5.xlarge", azure="Standard_DS3_v2", gcp="n1-standard-2"
        )
    )


@dataclass(frozen=True)
class AnalyticsUsage:
    tb_scanned_per_month: float = 0.0
    crawler_dpu_hours_per_month: float = 0.0


@dataclass(frozen=True)
class WarehouseUsage:
    """The optional Warehouse concept (priced only when a stack enables it); its storage is lake.warehouse_gb."""

    compute_hours_per_month: float = 0.0  # hours it computes: Redshift at base capacity, Synapse pool online
    tb_scanned_per_month: float = 0.0  # BigQuery on-demand TB its queries read (scheduled loads are derived)


@dataclass(frozen=True)
class ObservabilityUsage:
    log_gb_per_month: float = 0.0
    alert_notifications_per_month: float = 0.0


@dataclass(frozen=True)
class SecurityUsage:
    kms_requests_per_month: float = 0.0
    key_vault_operations_per_month: float = 0.0


@dataclass(frozen=True)
class FreeTierUsage:
    always_free: bool = True
    new_account: bool = False  # the account is in its first 12 months
    trials: bool = False  # short service trials (SageMaker's first 2 months); off for a steady-state month


@dataclass(frozen=True)
class UsageProfile:
    name: str
    description: str = ""
    api: ApiUsage = field(default_factory=ApiUsage)
    lake: LakeUsage = field(default_factory=LakeUsage)
    spark: SparkUsage = field(default_factory=SparkUsage)
    training: TrainingUsage = field(default_factory=TrainingUsage)
    endpoint: EndpointUsage = field(default_factory=EndpointUsage)
    analytics: AnalyticsUsage = field(default_factory=AnalyticsUsage)
    warehouse: WarehouseUsage = field(default_factory=WarehouseUsage)
    observability: ObservabilityUsage = field(default_factory=ObservabilityUsage)
    security: SecurityUsage = field(default_factory=SecurityUsage)
    free_tier: FreeTierUsage = field(default_factory=FreeTierUsage)
    # resource name -> cost component name -> monthly quantity (replaces the derived quantity)
    overrides: dict[str, dict[str, float]] = field(default_factory=dict)
    source: str = ""

    def override(self, resource: str, component: str) -> float | None:
        return self.overrides.get(resource, {}).get(component)


def _build(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise ProfileError(f"{path or 'profile'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.name != "source"}
    for key in data:
        if key not in names:
            raise ProfileError(f"unknown key '{_join(path, str(key))}' (value {data[key]!r})")
    kwargs = {key: _coerce(hints[key], value, _join(path, key)) for key, value in data.items()}
    return cls(**kwargs)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _coerce(hint: Any, value: Any, path: str) -> Any:
    origin = get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, path)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ProfileError(f"'{path}' must be a number >= 0, got {value!r}")
        return float(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ProfileError(f"'{path}' must be true or false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str) or not value:
            raise ProfileError(f"'{path}' must be a non-empty string, got {value!r}")
        return value
    if origin is Literal:
        if value not in get_args(hint):
            raise ProfileError(f"'{path}' must be one of {list(get_args(hint))}, got {value!r}")
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise ProfileError(f"'{path}' must be a mapping, got {value!r}")
        _, value_hint = get_args(hint)
        return {str(k): _coerce(value_hint, v, f"{path}.{k}") for k, v in value.items()}
    if origin in (types.UnionType, typing.Union):  # pragma: no cover - no optional fields today
        raise ProfileError(f"'{path}': unsupported type {hint}")
    raise ProfileError(f"'{path}': unsupported type {hint}")


def profile_from_dict(data: Any, source: str = "") -> UsageProfile:
    if not isinstance(data, dict):
        raise ProfileError(f"profile {source}: expected a mapping at top level, got {data!r}")
    if "name" not in data:
        raise ProfileError(f"profile {source}: missing key 'name'")
    profile = _build(UsageProfile, data, "")
    return dataclasses.replace(profile, source=source)


def builtin_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


def load_profile(name_or_path: str) -> UsageProfile:
    """A built-in profile by name (learner, startup, production) or a YAML file path."""
    path = Path(name_or_path)
    if not path.suffix:
        candidate = PROFILE_DIR / f"{name_or_path}.yaml"
        if not candidate.exists():
            raise ProfileError(
                f"profile '{name_or_path}': not a built-in profile ({', '.join(builtin_profiles())}) nor a file"
            )
        path = candidate
        source = f"builtin:{name_or_path}"
    else:
        if not path.exists():
            raise ProfileError(f"profile file '{name_or_path}' does not exist")
        source = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProfileError(f"profile '{name_or_path}': not valid YAML ({exc})") from exc
    return profile_from_dict(data, source=source)

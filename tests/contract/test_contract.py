"""One contract, three clouds: the same concepts, outputs, validation errors and standard tags everywhere.

Every test is parametrized over aws, azure and gcp (conftest `cloud`); a cloud whose stack is missing fails with
the reason. The stack programs run under the shared recording mocks, once per cloud per session.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import sys
from typing import Any

import pulumi
import pytest
from contract_support import platform
from taggable import NOT_TAGS, TAGGABLE

from components.concepts import CONCEPTS
from components.errors import InvalidArgs
from components.spec_base import Args
from components.tags import STANDARD_KEYS, normalise
from tricloud.config import CLOUDS, SECTIONS
from tricloud.inventory import run_program, stack_config
from tricloud.mocks import RecordingMocks, install

CONCEPT_MODULES = {
    "Observability": "observability",
    "DataLake": "data_lake",
    "SparkCluster": "spark_cluster",
    "TrainingJob": "training_job",
    "ModelEndpoint": "model_endpoint",
    "ApiFrontend": "api_frontend",
    "CiIdentity": "ci_identity",
    "Warehouse": "warehouse",
}
SECTION_OF = {cls: key for key, cls in SECTIONS.items()}


def concept_ids() -> list[str]:
    return [c.name for c in CONCEPTS]


# --- concepts and outputs --------------------------------------------------------------------------------------


def test_inventory_has_one_component_per_concept(cloud: str) -> None:
    components = platform(cloud).components()
    for concept in CONCEPTS:
        token = f"tricloud:{cloud}:{concept.name}"
        assert len(components.get(token, [])) == 1, (
            f"{cloud}: expected one {token}, found {components.get(token)}"
        )
    unknown = set(components) - {f"tricloud:{cloud}:{c.name}" for c in CONCEPTS}
    assert not unknown, f"{cloud}: component types outside the concept list: {sorted(unknown)}"


@pytest.mark.parametrize("concept", CONCEPTS, ids=concept_ids())
def test_component_registers_exactly_the_spec_outputs(cloud: str, concept: Any) -> None:
    p = platform(cloud)
    token = f"tricloud:{cloud}:{concept.name}"
    (name,) = p.components()[token]
    registered = p.registered_outputs.get((token, name))
    assert registered is not None, f"{cloud}: {token} {name} never called register_outputs"
    assert registered == set(concept.outputs), (
        f"{cloud}: {token} registered {sorted(registered)}, the spec says {sorted(concept.outputs)}"
    )


@pytest.mark.parametrize("concept", CONCEPTS, ids=concept_ids())
def test_component_class_exposes_the_spec_outputs(cloud: str, concept: Any) -> None:
    cls = component_class(cloud, concept.name)
    assert concept.outputs == cls.OUTPUTS
    own = inspect.get_annotations(cls)
    scope = vars(sys.modules[cls.__module__])
    for out in concept.outputs:
        hint = own.get(out)
        hint = eval(hint, scope) if isinstance(hint, str) else hint  # postponed annotations are strings
        assert hint == pulumi.Output[str], f"{cloud}: {cls.__qualname__}.{out} is annotated {hint!r}"
    assert "native" in own, f"{cloud}: {cls.__qualname__} has no `native` escape hatch"


def test_stack_exports_the_same_names_on_every_cloud(cloud: str) -> None:
    expected = {o for c in CONCEPTS for o in c.outputs} | {"region"}
    exported = set(platform(cloud).stack_outputs)
    assert exported == expected, (
        f"{cloud}: extra {sorted(exported - expected)}, missing {sorted(expected - exported)}"
    )
    empty = sorted(k for k, v in platform(cloud).stack_outputs.items() if v in (None, ""))
    assert not empty, f"{cloud}: outputs resolved to nothing under mocks: {empty}"


# The monitoring loop's outputs, named here (not read from the spec) so dropping one anywhere fails.
MONITORING = ("prediction_capture_uri", "drift_job", "drift_schedule", "drift_reports_uri", "drift_alarm",
              "drift_metrics_scope", "retrain_trigger")  # fmt: skip
# cloud -> (type of the drift schedule, its name input), (type of the drift alarm, the input the output names)
MONITORING_RESOURCES = {
    "aws": (("aws:scheduler/schedule:Schedule", "name"), ("aws:cloudwatch/metricAlarm:MetricAlarm", "name")),
    "azure": (
        ("azure-native:machinelearningservices:Schedule", "name"),
        ("azure-native:monitor:MetricAlert", "ruleName"),
    ),
    "gcp": (("gcp:cloudscheduler/job:Job", "name"), ("gcp:monitoring/alertPolicy:AlertPolicy", None)),
}
CAPTURE_SCHEME = {"aws": "s3://", "azure": "abfss://", "gcp": "gs://"}


def test_stack_exports_the_monitoring_outputs(cloud: str) -> None:
    p = platform(cloud)
    out = p.stack_outputs
    missing = [k for k in MONITORING if not out.get(k)]
    assert not missing, f"{cloud}: monitoring outputs missing or empty: {missing}"
    assert out["drift_reports_uri"] == out["artifacts_uri"] + "monitoring/drift/"
    assert out["prediction_capture_uri"].startswith(CAPTURE_SCHEME[cloud])
    (sched_type, sched_key), (alarm_type, alarm_key) = MONITORING_RESOURCES[cloud]
    schedules = [
        r for r in p.resources if r["type"] == sched_type and r["inputs"][sched_key] == out["drift_schedule"]
    ]
    assert len(schedules) == 1, f"{cloud}: drift_schedule {out['drift_schedule']!r} names no {sched_type}"
    if alarm_key is None:  # a GCP alert policy's name is given by the service: match it on its metric instead
        assert out["drift_alarm"].startswith("projects/") and "/alertPolicies/" in out["drift_alarm"]
        alarms = [
            r for r in p.resources if r["type"] == alarm_type and "DriftDetected" in json.dumps(r["inputs"])
        ]
    else:
        alarms = [
            r for r in p.resources if r["type"] == alarm_type and r["inputs"][alarm_key] == out["drift_alarm"]
        ]
    assert len(alarms) == 1, f"{cloud}: drift_alarm {out['drift_alarm']!r} names no single {alarm_type}"


def test_components_register_their_outputs_once(cloud: str) -> None:
    """A second register_outputs for one component is refused by the engine (pulumi/pulumi#2394)."""
    assert not platform(cloud).registered_twice, f"{cloud}: {platform(cloud).registered_twice}"


# --- validation --------------------------------------------------------------------------------------------------

# (config section, bad value for one Args field) -> the same field and reason on every cloud.
BAD_CONFIG: list[tuple[str, dict[str, Any]]] = [
    ("lake", {"raw_cold_after_days": 0}),
    ("lake", {"raw_cold_after_days": 60, "raw_expiry_days": 30}),
    ("lake", {"key_rotation_days": 30}),
    ("spark", {"max_vcpu": 32, "max_memory_gb": 16}),
    ("spark", {"mode": "always-on"}),
    ("training", {"image_uri": "not an image"}),
    ("endpoint", {"serverless_memory_mb": 1000}),
    ("endpoint", {"min_instances": 3, "max_instances": 2}),
    ("api", {"auth": "jwt"}),
    ("api", {"endpoint_timeout_ms": 20000, "timeout_seconds": 10}),
    ("observability", {"alert_email": "not-an-email"}),
    ("observability", {"log_retention_days": 31}),
    ("ci", {"github_repository": "no-slash"}),
    ("ci", {"unknown_key": 1}),
    ("warehouse", {"enabled": True, "database": "Bad-Name"}),
    ("warehouse", {"enabled": True, "aws": {"base_capacity_rpu": 12}}),
    ("warehouse", {"enabled": True, "azure": {"sku": "DW50c"}}),
]


def expected_error(section: str, bad: dict[str, Any]) -> InvalidArgs:
    """What the shared loader says about this config, independent of any cloud."""
    base = stack_config("aws")
    values = {k: v for k, v in base.items() if k.startswith("tricloud:")}
    values["aws:region"] = base["aws:region"]
    values[f"tricloud:{section}"] = {**(values.get(f"tricloud:{section}") or {}), **bad}
    from tricloud.config import parse

    with pytest.raises(InvalidArgs) as err:
        parse("aws", values)
    return err.value


@pytest.mark.parametrize(("section", "bad"), BAD_CONFIG, ids=[f"{s}-{'-'.join(b)}" for s, b in BAD_CONFIG])
def test_same_bad_config_same_error(cloud: str, section: str, bad: dict[str, Any]) -> None:
    platform(cloud)  # fails clearly when the stack is missing
    want = expected_error(section, bad)
    values = stack_config(cloud)
    values[f"tricloud:{section}"] = {**(values.get(f"tricloud:{section}") or {}), **bad}
    mocks = RecordingMocks(cloud, "r")
    with pytest.raises(InvalidArgs) as err:
        run_program(cloud, "dev", mocks, config=values)
    assert (err.value.field, err.value.reason) == (want.field, want.reason)
    assert str(err.value) == str(want)
    created = [r.name for r in mocks.resources]
    assert not created, f"{cloud}: bad config still created {created}"


def invalid_copy(args: Args, **changes: Any) -> Args:
    """A valid Args object with fields changed behind validation's back (as a caller mutating it could)."""
    clone = dataclasses.replace(args)
    for k, v in changes.items():
        object.__setattr__(clone, k, v)
    return clone


# (concept, field changes that make otherwise valid defaults invalid)
BAD_ARGS: list[tuple[str, dict[str, Any]]] = [
    ("Observability", {"period_seconds": 45}),
    ("DataLake", {"noncurrent_version_expiry_days": -1}),
    ("SparkCluster", {"idle_timeout_minutes": 0}),
    ("TrainingJob", {"max_instances": 0}),
    ("ModelEndpoint", {"canary_percent": 90}),
    ("ApiFrontend", {"throttle_burst": 0}),
    ("CiIdentity", {"allowed_refs": ("main",)}),
    ("Warehouse", {"database": "tempdb"}),
]


@pytest.mark.parametrize(("concept", "changes"), BAD_ARGS, ids=[c for c, _ in BAD_ARGS])
def test_component_validates_before_creating_anything(
    cloud: str, concept: str, changes: dict[str, Any]
) -> None:
    """Each cloud's component re-validates its Args first: same InvalidArgs, and no child resource."""
    platform(cloud)
    args_cls = next(cls for cls in SECTIONS.values() if cls.__name__ == f"{concept}Args")
    bad = invalid_copy(args_cls(), **changes)
    with pytest.raises(InvalidArgs) as want:
        bad.validate()
    mocks = install(RecordingMocks(cloud, "r"), project=f"tricloud-{cloud}", stack="dev")
    cls = component_class(cloud, concept)

    @pulumi.runtime.test
    def construct() -> pulumi.Output[Any]:
        with pytest.raises(InvalidArgs) as got:
            cls("x", bad, **{k: None for k in kw_only_components(cls)})
        assert (got.value.field, got.value.reason) == (want.value.field, want.value.reason)
        return pulumi.Output.from_input(got.value.field)

    construct()
    custom = [r.name for r in mocks.resources if r.custom]
    assert not custom, f"{cloud}: {concept} created {custom} before validating"


def test_clouds_take_the_same_component_arguments() -> None:
    """Same constructor keywords for each concept on every cloud (components take components)."""
    for concept in CONCEPTS:
        shapes = {c: kw_only_components(component_class(c, concept.name)) for c in CLOUDS}
        assert len(set(map(tuple, shapes.values()))) == 1, f"{concept.name}: {shapes}"


# --- tags --------------------------------------------------------------------------------------------------------


def test_every_resource_type_is_classified(cloud: str) -> None:
    types = {r["type"] for r in platform(cloud).resources if not r["type"].startswith("tricloud:")}
    missing = sorted(types - set(TAGGABLE[cloud]))
    assert not missing, (
        f"{cloud}: classify these types in tests/contract/taggable.py (tag input or None): {missing}"
    )


def test_standard_tags_on_every_taggable_resource(cloud: str) -> None:
    p = platform(cloud)
    # Parents are recorded by name; a component wins over a custom resource of the same name.
    parents = {r["name"]: r for r in p.resources if not r["type"].startswith("tricloud:")}
    parents.update({r["name"]: r for r in p.resources if r["type"].startswith("tricloud:")})
    wrong: list[str] = []
    for r in p.resources:
        key = TAGGABLE[cloud].get(r["type"])
        if key is None:
            continue
        tags = r["inputs"].get(key) or {}
        concept = concept_of(r, parents)
        want = normalise(
            {k: "x" for k in STANDARD_KEYS} | {"component": concept, "managed-by": "pulumi"}, cloud
        )
        missing = sorted(k for k in want if k not in tags)
        if missing:
            wrong.append(f"{r['type']} {r['name']}: {key} lacks {missing}")
            continue
        for fixed in ("component", "managed-by"):
            (nk,) = normalise({fixed: "x"}, cloud)
            if tags[nk] != want[nk]:
                wrong.append(f"{r['type']} {r['name']}: {nk} = {tags[nk]!r}, expected {want[nk]!r}")
    assert not wrong, f"{cloud}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("cloud_name", CLOUDS)
def test_taggable_table_matches_provider_schema(cloud_name: str) -> None:
    """Each row agrees with the SDK: the named input exists; None rows have no tag-like input (or a reason)."""
    wrong = []
    for type_, key in TAGGABLE[cloud_name].items():
        params = set(inspect.signature(sdk_class(type_)._internal_init).parameters)
        tag_like = {p for p in ("tags", "labels", "user_labels") if p in params}
        if key is not None and snake(key) not in params:
            wrong.append(f"{type_}: no input {key!r}")
        if key is None and tag_like - {p for (t, p) in NOT_TAGS if t == type_}:
            # pubsub Topic and NotificationChannel keep tag-like inputs that are not tags: they name userLabels/labels.
            wrong.append(f"{type_}: has {sorted(tag_like)} but the table says untaggable")
    assert not wrong, "\n".join(wrong)


# --- helpers -----------------------------------------------------------------------------------------------------


def component_class(cloud: str, concept: str) -> Any:
    module = importlib.import_module(f"components.{CONCEPT_MODULES[concept]}.{cloud}")
    return getattr(module, concept)


def kw_only_components(cls: Any) -> list[str]:
    """The components a constructor takes: keyword-only parameters annotated with a concept's class."""
    names = {c.name for c in CONCEPTS}
    params = inspect.signature(cls.__init__).parameters.values()
    return sorted(
        p.name
        for p in params
        if p.kind is p.KEYWORD_ONLY and str(p.annotation).removesuffix(" | None") in names
    )


def concept_of(resource: dict[str, Any], by_name: dict[str, dict[str, Any]]) -> str:
    """The concept whose component is this resource's nearest component ancestor."""
    r = resource
    while r.get("parent"):
        r = by_name[r["parent"]]
        if r["type"].startswith("tricloud:"):
            return str(r["type"].split(":")[2])
    raise AssertionError(f"{resource['type']} {resource['name']} has no component parent")


def snake(camel: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)


_PACKAGES = {"aws": "pulumi_aws", "azure-native": "pulumi_azure_native", "gcp": "pulumi_gcp"}


def sdk_class(type_token: str) -> Any:
    """`aws:s3/bucket:Bucket` -> pulumi_aws.s3.Bucket (Python modules add `_` to keywords: lambda_)."""
    provider, module, name = type_token.split(":")
    module = module.split("/")[0]
    try:
        mod = importlib.import_module(f"{_PACKAGES[provider]}.{module}")
    except ModuleNotFoundError:
        mod = importlib.import_module(f"{_PACKAGES[provider]}.{module}_")
    return getattr(mod, name)


def test_a_missing_stack_fails_with_the_missing_files() -> None:
    from contract_support import require_stack

    with pytest.raises(
        pytest.fail.Exception, match=r"the oci stack is incomplete: missing stacks/oci/__main__\.py"
    ):
        require_stack("oci")

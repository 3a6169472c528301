"""`Engine.apply(targets=...)`: `pulumi up --target` semantics in the local engine, on a fresh moto each.

What Pulumi does (its step generator; docs: targeted updates), and what each test pins down here:
- an untargeted resource keeps its old state and outputs with no provider call, and its pending change stays
  pending until an untargeted apply;
- an untargeted resource that would be created is skipped (not created, not in the state); a targeted resource
  that depends on it fails the apply;
- a resource the program dropped is deleted only when targeted; a targeted delete that an untargeted resource
  still depends on fails.
Expected values are the config values the tests write (30 -> 45 days, 2048 -> 3072 MB), not the engine's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tricloud.engine import Engine
from tricloud.engine.core import TargetError
from tricloud.engine.handlers import HANDLERS
from tricloud.engine.leftovers import leftovers
from tricloud.engine.state import State
from tricloud.inventory import stack_config
from tricloud.model.deploy import ENDPOINT_TYPES, endpoint_targets

pytestmark = pytest.mark.emulator

LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
SCALING_TARGET = "aws:appautoscaling/target:Target"
SCALING_POLICY = "aws:appautoscaling/policy:Policy"
METHODS = ("create", "update", "delete", "exists", "locate")


def config(**sections: dict[str, Any]) -> dict[str, Any]:
    """The dev stack's config with some `tricloud:<section>` keys replaced."""
    values = stack_config("aws", "dev")
    for name, value in sections.items():
        values[f"tricloud:{name}"] = {**(values.get(f"tricloud:{name}") or {}), **value}
    return values


@pytest.fixture()
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """Every handler call as (method, type, name): each one is an emulator call for that resource."""
    seen: list[tuple[str, str, str]] = []
    for handler in {id(h): h for h in HANDLERS.values()}.values():
        for method in METHODS:
            real = getattr(handler, method)

            def spy(ctx: Any, res: Any, *rest: Any, _m: str = method, _real: Any = real) -> Any:
                seen.append((_m, res.type, res.name.split("~")[0]))
                return _real(ctx, res, *rest)

            monkeypatch.setattr(handler, method, spy)  # an instance attribute: the class stays as it is
    return seen


def raw_lifecycle(emu: Any, state: Path) -> tuple[str, int]:
    """(state input hash, the raw zone's transition days in moto) of the raw bucket's lifecycle."""
    (entry,) = [e for e in State.load(state).ordered() if e.type == LIFECYCLE and "-raw-" in e.name]
    rules = emu.client("s3").get_bucket_lifecycle_configuration(Bucket=entry.id)["Rules"]
    days = {t["Days"] for r in rules for t in r.get("Transitions", [])}
    assert len(days) == 1, rules
    return entry.input_hash, days.pop()


def endpoint_variant(emu: Any, outputs: dict[str, Any]) -> dict[str, Any]:
    """The production variant of the configuration the endpoint runs, as moto holds it."""
    sm = emu.client("sagemaker")
    config_name = sm.describe_endpoint(EndpointName=outputs["endpoint_name"])["EndpointConfigName"]
    (variant,) = sm.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"]
    return variant


def serverless_memory(emu: Any, outputs: dict[str, Any]) -> int:
    return int(endpoint_variant(emu, outputs)["ServerlessConfig"]["MemorySizeInMB"])


def scaling_targets(emu: Any) -> list[dict[str, Any]]:
    return emu.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")[
        "ScalableTargets"
    ]


def keys(state: Path, typ: str) -> list[str]:
    return [e.key for e in State.load(state).ordered() if e.type == typ]


def test_targeted_apply_changes_only_the_targets_and_leaves_the_rest_pending(
    fresh_emulator, tmp_path, calls
) -> None:
    state = tmp_path / "s.json"
    base = Engine(fresh_emulator, state_path=state, config=config()).apply()
    assert raw_lifecycle(fresh_emulator, state)[1] == 30
    assert serverless_memory(fresh_emulator, base.outputs) == 2048
    hash_before = raw_lifecycle(fresh_emulator, state)[0]

    # A mistyped target (Pulumi: "could not be found in the stack"): refused, no resource touched.
    calls.clear()
    with pytest.raises(TargetError, match="aws:s3/bucket:Bucket::lake-nope"):
        Engine(fresh_emulator, state_path=state, config=config()).apply(
            targets=["aws:s3/bucket:Bucket::lake-nope"]
        )
    assert calls == []

    # Two edits at once: the endpoint's memory (targeted) and the raw zone's lifecycle (not targeted).
    edited = config(endpoint={"serverless_memory_mb": 3072}, lake={"raw_cold_after_days": 45})
    engine = Engine(fresh_emulator, state_path=state, config=edited)
    targets = endpoint_targets(engine.state)
    assert sorted(t.split("::")[0] for t in targets) == sorted(ENDPOINT_TYPES)
    calls.clear()
    res = engine.apply(targets=targets)

    touched = {typ for _, typ, _ in calls}
    assert touched and touched <= set(ENDPOINT_TYPES), sorted(set(calls))
    assert ("update", LIFECYCLE) not in {(m, t) for m, t, _ in calls}
    assert serverless_memory(fresh_emulator, res.outputs) == 3072
    assert raw_lifecycle(fresh_emulator, state) == (hash_before, 30)  # state and moto both still old
    assert [(t, w) for t, _, w in res.untargeted] == [(LIFECYCLE, "update")]
    assert res.count("skip") == base.count("create") - len(targets)  # every other resource, no call
    assert "1 update left for a full apply" in res.summary()

    calls.clear()
    again = Engine(fresh_emulator, state_path=state, config=edited).apply()  # untargeted: the pending change
    assert ("update", LIFECYCLE) in {(m, t) for m, t, _ in calls}
    assert raw_lifecycle(fresh_emulator, state)[1] == 45
    assert again.count("update") == 1 and again.count("skip") == 0 and again.untargeted == []
    assert serverless_memory(fresh_emulator, again.outputs) == 3072
    Engine(fresh_emulator, state_path=state).destroy()
    assert leftovers(fresh_emulator) == {}


def test_untargeted_creates_are_skipped_and_untargeted_deletes_kept(fresh_emulator, tmp_path, calls) -> None:
    """Instance mode adds the autoscaling target and policy (the policy depends on the target); back to serverless
    drops them."""
    state = tmp_path / "s.json"
    Engine(fresh_emulator, state_path=state, config=config()).apply()
    instance = config(endpoint={"mode": "instance"})

    # Untargeted creates: skipped, neither in moto nor in the state; the targeted endpoint changes.
    engine = Engine(fresh_emulator, state_path=state, config=instance)
    calls.clear()
    res = engine.apply(targets=endpoint_targets(engine.state))
    assert {(t, w) for t, _, w in res.untargeted} == {(SCALING_TARGET, "create"), (SCALING_POLICY, "create")}
    assert not any(t in (SCALING_TARGET, SCALING_POLICY) for _, t, _ in calls)
    assert scaling_targets(fresh_emulator) == [] and keys(state, SCALING_TARGET) == []
    variant = endpoint_variant(fresh_emulator, res.outputs)
    assert "InstanceType" in variant and "ServerlessConfig" not in variant

    # A targeted resource that depends on a skipped create: refused, nothing created.
    (policy,) = [f"{t}::{n}" for t, n, _ in res.untargeted if t == SCALING_POLICY]
    with pytest.raises(TargetError, match="scaling-target"):
        Engine(fresh_emulator, state_path=state, config=instance).apply(targets=[policy])
    assert scaling_targets(fresh_emulator) == [] and keys(state, SCALING_POLICY) == []

    # The untargeted apply creates both.
    full = Engine(fresh_emulator, state_path=state, config=instance).apply()
    assert full.count("create") == 2 and len(scaling_targets(fresh_emulator)) == 1

    # Back to serverless, targeted at the endpoint: the autoscaling resources stay (state and moto).
    engine = Engine(fresh_emulator, state_path=state, config=config())
    calls.clear()
    res = engine.apply(targets=endpoint_targets(engine.state))
    assert {(t, w) for t, _, w in res.untargeted} == {(SCALING_TARGET, "delete"), (SCALING_POLICY, "delete")}
    assert not any(t in (SCALING_TARGET, SCALING_POLICY) for _, t, _ in calls)
    assert len(scaling_targets(fresh_emulator)) == 1 and len(keys(state, SCALING_TARGET)) == 1
    assert "2 delete left for a full apply" in res.summary()

    # Deleting the target alone would orphan the untargeted policy that depends on it: refused, nothing deleted.
    (target_key,) = keys(state, SCALING_TARGET)
    with pytest.raises(TargetError, match="depends on"):
        Engine(fresh_emulator, state_path=state, config=config()).apply(targets=[target_key])
    assert len(scaling_targets(fresh_emulator)) == 1 and keys(state, SCALING_TARGET) == [target_key]

    # Both targeted: both deleted, nothing else touched.
    calls.clear()
    both = [target_key, *keys(state, SCALING_POLICY)]
    res = Engine(fresh_emulator, state_path=state, config=config()).apply(targets=both)
    assert res.count("delete") == 2 and res.untargeted == []
    assert {t for _, t, _ in calls} == {SCALING_TARGET, SCALING_POLICY}
    assert scaling_targets(fresh_emulator) == [] and keys(state, SCALING_TARGET) == []
    Engine(fresh_emulator, state_path=state).destroy()
    assert leftovers(fresh_emulator) == {}


def test_an_empty_target_list_is_refused(fresh_emulator, tmp_path) -> None:
    with pytest.raises(ValueError, match="at least one target"):
        Engine(fresh_emulator, state_path=tmp_path / "s.json").apply(targets=[])
    assert leftovers(fresh_emulator) == {}

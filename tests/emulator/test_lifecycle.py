"""Engine lifecycle on a fresh moto each: destroy leaves nothing, unknown types fail loudly, crashes converge."""

from __future__ import annotations

import json
import os

import pytest

from tricloud.engine import Engine, StaleState, UnhandledResourceType
from tricloud.engine.handlers import HANDLERS
from tricloud.engine.leftovers import leftovers

pytestmark = pytest.mark.emulator


def test_destroy_leaves_the_emulator_empty(fresh_emulator, tmp_path) -> None:
    state = tmp_path / "s.json"
    assert leftovers(fresh_emulator) == {}
    res = Engine(fresh_emulator, state_path=state).apply()
    made = leftovers(fresh_emulator)
    assert {
        "buckets",
        "roles",
        "lambda functions",
        "sagemaker endpoints",
        "http apis",
        "emr serverless apps",
    } <= set(made)
    out = Engine(fresh_emulator, state_path=state).destroy()
    assert out.count("delete") == res.count("create")
    assert leftovers(fresh_emulator) == {}
    assert not state.exists()


def test_unhandled_type_is_an_error_naming_it(fresh_emulator, tmp_path, monkeypatch) -> None:
    monkeypatch.delitem(HANDLERS, "aws:sns/topic:Topic")
    state = tmp_path / "s.json"
    with pytest.raises(UnhandledResourceType) as err:
        Engine(fresh_emulator, state_path=state).apply()
    assert "aws:sns/topic:Topic" in str(err.value) and "observability-alerts" in str(err.value)
    monkeypatch.undo()
    Engine(fresh_emulator, state_path=state).destroy()
    assert leftovers(fresh_emulator) == {}


def test_fault_mid_apply_then_rerun_converges(fresh_emulator, tmp_path) -> None:
    state = tmp_path / "s.json"

    def fault(action: str, typ: str, name: str) -> None:
        if typ == "aws:lambda/function:Function":
            raise RuntimeError("injected fault")

    with pytest.raises(RuntimeError, match="injected fault"):
        Engine(fresh_emulator, state_path=state, before_change=fault).apply()
    saved = json.loads(state.read_text())
    created = [r for r in saved["resources"] if r["custom"]]
    assert created and all(r["type"] != "aws:lambda/function:Function" for r in created)
    res = Engine(fresh_emulator, state_path=state).apply()
    assert res.count("unchanged") == len(created)
    assert res.count("create") >= 1
    again = Engine(fresh_emulator, state_path=state).apply()
    assert again.count("create") == 0 and again.count("unchanged") == len(created) + res.count("create")
    Engine(fresh_emulator, state_path=state).destroy()
    assert leftovers(fresh_emulator) == {}


def test_state_of_a_dead_in_process_emulator_is_refused(fresh_emulator, tmp_path) -> None:
    state = tmp_path / "s.json"
    state.write_text(
        json.dumps(
            {
                "version": 1,
                "emulator": {
                    "in_process": True,
                    "pid": os.getpid() + 100000,
                    "moto_url": "http://127.0.0.1:1",
                },
                "outputs": {},
                "resources": [
                    {
                        "type": "aws:s3/bucket:Bucket",
                        "name": "lake-raw",
                        "id": "b",
                        "outputs": {},
                        "input_hash": "x",
                    }
                ],
            }
        )
    )
    with pytest.raises(StaleState, match="ended with its process"):
        Engine(fresh_emulator, state_path=state).apply()


def test_other_modes_apply_and_destroy(fresh_emulator, tmp_path) -> None:
    """EMR on EC2, instance endpoints with autoscaling, JWT auth and an alert e-mail: every handler the stack's
    config can reach, applied and destroyed."""
    from tricloud.inventory import stack_config

    config = stack_config("aws", "dev")
    config["tricloud:spark"] = {**config["tricloud:spark"], "mode": "cluster"}
    config["tricloud:endpoint"] = {**config["tricloud:endpoint"], "mode": "instance"}
    config["tricloud:api"] = {
        **config["tricloud:api"],
        "auth": "jwt",
        "jwt_issuer": "https://login.example.com/",
        "jwt_audience": ["tricloud"],
    }
    config["tricloud:observability"] = {
        **(config.get("tricloud:observability") or {}),
        "alert_email": "ops@example.com",
    }
    state = tmp_path / "s.json"
    res = Engine(fresh_emulator, state_path=state, config=config).apply()
    types = {e.type for e in Engine(fresh_emulator, state_path=state, config=config).destroy_plan()}
    assert {
        "aws:emr/cluster:Cluster",
        "aws:appautoscaling/policy:Policy",
        "aws:apigatewayv2/authorizer:Authorizer",
        "aws:sns/topicSubscription:TopicSubscription",
    } <= types
    assert any("JWT authorizer" in m for _, _, m in res.deviations)
    Engine(fresh_emulator, state_path=state, config=config).destroy()
    assert leftovers(fresh_emulator) == {}


def test_every_handled_type_has_a_lister_or_a_documented_cascade() -> None:
    from tricloud.engine.leftovers import CASCADES, LISTERS, STATE_ONLY

    listed = {lister.type for lister in LISTERS.values()}
    missing = sorted(t for t in HANDLERS if t not in listed and t not in CASCADES and t not in STATE_ONLY)
    assert missing == [], f"no leftovers lister and no cascade for {missing}"
    assert all(owner in listed for owner, _ in CASCADES.values())


def test_a_destroy_that_skips_any_listed_type_is_noticed(fresh_emulator, tmp_path, monkeypatch) -> None:
    """Every mode on (so every type exists), then a destroy whose deletes of the listed types do nothing: each lister
    must report its kind. A lister that lists nothing, or misses its type, fails here."""
    from tricloud.engine.leftovers import LISTERS
    from tricloud.inventory import stack_config

    config = stack_config("aws", "dev")
    config["tricloud:spark"] = {**config["tricloud:spark"], "mode": "cluster"}
    config["tricloud:endpoint"] = {**config["tricloud:endpoint"], "mode": "instance"}
    config["tricloud:observability"] = {
        **(config.get("tricloud:observability") or {}),
        "alert_email": "ops@example.com",
    }
    config["tricloud:warehouse"] = {"enabled": True}
    state = tmp_path / "s.json"
    Engine(fresh_emulator, state_path=state, config=config).apply()
    applied = {e.type for e in Engine(fresh_emulator, state_path=state, config=config).destroy_plan()}
    for lister in LISTERS.values():
        monkeypatch.setattr(type(HANDLERS[lister.type]), "delete", lambda self, ctx, e: None)
    monkeypatch.setattr(Engine, "sweep", lambda self: None)
    Engine(fresh_emulator, state_path=state, config=config).destroy()
    left = leftovers(fresh_emulator)
    assert sorted(k for k, lister in LISTERS.items() if lister.type in applied and k not in left) == []
    assert len([k for k, lister in LISTERS.items() if lister.type in applied]) >= 25

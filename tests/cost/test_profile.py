"""Usage profiles: the shipped ones load; bad keys and values are errors naming key and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from tricloud.cost.profile import ProfileError, builtin_profiles, load_profile, profile_from_dict


def test_builtin_profiles_load_and_grow() -> None:
    assert builtin_profiles() == ["learner", "production", "startup"]
    learner, startup, production = (load_profile(n) for n in ("learner", "startup", "production"))
    assert learner.api.requests_per_month < startup.api.requests_per_month < production.api.requests_per_month
    assert production.lake.gb["raw"] == 5000
    assert learner.free_tier.new_account is True
    assert startup.source == "builtin:startup"


def test_profile_from_user_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\napi: {requests_per_month: 42}\noverrides: {api-handler: {requests: 7}}\n")
    prof = load_profile(str(path))
    assert prof.api.requests_per_month == 42.0
    assert prof.override("api-handler", "requests") == 7.0
    assert prof.override("api-handler", "other") is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "x", "api": {"reqests_per_month": 5}}, "unknown key 'api.reqests_per_month' (value 5)"),
        ({"name": "x", "colour": "red"}, "unknown key 'colour' (value 'red')"),
        (
            {"name": "x", "api": {"requests_per_month": -1}},
            "'api.requests_per_month' must be a number >= 0, got -1",
        ),
        ({"name": "x", "api": {"requests_per_month": "many"}}, "got 'many'"),
        ({"name": "x", "endpoint": {"mode": "always"}}, "'endpoint.mode' must be one of"),
        ({"name": "x", "lake": {"gb": {"raw": "big"}}}, "'lake.gb.raw' must be a number >= 0, got 'big'"),
        (
            {"name": "x", "free_tier": {"always_free": "yes"}},
            "'free_tier.always_free' must be true or false, got 'yes'",
        ),
        ({"name": "x", "overrides": {"r": {"c": True}}}, "'overrides.r.c' must be a number"),
        ({"api": {}}, "missing key 'name'"),
    ],
)
def test_invalid_profiles(data: dict, message: str) -> None:
    with pytest.raises(ProfileError) as info:
        profile_from_dict(data, source="t")
    assert message in str(info.value)


def test_unknown_profile_name_and_missing_file() -> None:
    with pytest.raises(ProfileError, match="not a built-in profile"):
        load_profile("enterprise")
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile("nowhere/mine.yaml")

"""Shared helpers for the cost tests: shipped catalog, fixture inventories, small profiles."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tricloud.cost.catalogs import Catalog, load_catalog
from tricloud.cost.profile import UsageProfile, profile_from_dict

FIXTURES = Path(__file__).parent / "fixtures"
RECORDED = FIXTURES / "recorded"


@pytest.fixture
def catalog() -> Catalog:
    return load_catalog()


def inventory(cloud: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"inventory_{cloud}.json").read_text(encoding="utf-8"))


def fixture_loader(cloud: str, stack: str) -> dict[str, Any]:
    return inventory(cloud)


def profile(**sections: Any) -> UsageProfile:
    """A profile with everything zero unless given, free tiers off unless given."""
    data: dict[str, Any] = {"name": "test", "free_tier": {"always_free": False, "new_account": False}}
    data.update(sections)
    return profile_from_dict(data, source="test")


def mini_inventory(cloud: str, *resources: dict[str, Any]) -> dict[str, Any]:
    return {"cloud": cloud, "stack": "dev", "region": "", "resources": list(resources), "outputs": {}}


def res(type_: str, name: str, parent: str | None = None, **inputs: Any) -> dict[str, Any]:
    return {"type": type_, "name": name, "parent": parent, "inputs": inputs}


@cache
def stack_inventory(cloud: str, stack: str = "dev") -> dict[str, Any]:
    """The real stack program's inventory (run under Pulumi mocks), built once per test session."""
    from tricloud.inventory import build_inventory

    return build_inventory(cloud, stack)

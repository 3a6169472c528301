"""The contract suite: the same assertions over the aws, azure and gcp stacks (see contract_support)."""

from __future__ import annotations

import pytest

from tricloud.config import CLOUDS


@pytest.fixture(params=CLOUDS)
def cloud(request: pytest.FixtureRequest) -> str:
    """Every contract test runs once per cloud; a missing stack fails (contract_support.require_stack)."""
    return str(request.param)

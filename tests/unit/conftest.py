"""Unit tests of the AWS components under the recording Pulumi mocks (no engine, no cloud)."""

from __future__ import annotations

import pytest

from tricloud.mocks import RecordingMocks, install

REGION = "ap-south-1"


@pytest.fixture
def mocks() -> RecordingMocks:
    """Fresh mocks per test: module-level set_mocks calls collide between test modules."""
    rec = install(RecordingMocks("aws", REGION), project="tricloud-aws", stack="dev")
    assert isinstance(rec, RecordingMocks)
    return rec

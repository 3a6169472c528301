"""`destroy` empties a versioned bucket of any size: deleting while paging past 1,000 versions once left some."""

from __future__ import annotations

import pytest

from tricloud.engine.handlers.storage import empty_bucket

pytestmark = pytest.mark.emulator


def test_a_bucket_with_more_than_a_page_of_versions_is_emptied(emulator) -> None:
    from moto.s3.models import s3_backends

    s3 = emulator.client("s3")
    bucket = "tricloud-test-many-versions"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": emulator.region})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    backend = s3_backends[emulator.account_id()][
        "aws"
    ]  # in-process moto: 1,100 versions without 1,100 requests
    for i in range(1100):
        backend.put_object(bucket, f"k/{i % 100}", b"x")
    for i in range(50):
        s3.delete_object(Bucket=bucket, Key=f"k/{i}")  # delete markers too
    assert empty_bucket(s3, bucket) == 1150
    left = s3.list_object_versions(Bucket=bucket)
    assert not left.get("Versions") and not left.get("DeleteMarkers")
    s3.delete_bucket(Bucket=bucket)

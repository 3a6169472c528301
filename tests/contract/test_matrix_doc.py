"""Generated docs stay current: the concept-by-cloud matrix (docs/equivalence.md), the config reference (docs/azure.md)."""

from __future__ import annotations

from contract_support import platform

from components.concepts import CONCEPTS
from tricloud import matrix
from tricloud.config import CLOUDS


def current_table() -> matrix.Matrix:
    return matrix.table_from_inventories({cloud: platform(cloud).resources for cloud in CLOUDS})


def test_every_concept_has_resources_on_every_cloud() -> None:
    table = current_table()
    for concept in CONCEPTS:
        for cloud in CLOUDS:
            assert table[concept.name][cloud], f"{concept.name} creates no resource on {cloud}"


def test_generated_docs_are_current() -> None:
    """docs/equivalence.md (matrix) and docs/azure.md (config reference) match what the code generates."""
    for path, expected in matrix.generated_docs(table=current_table()).items():
        assert path.read_text() == expected, (
            f"docs/{path.name} is stale: run `python -m tricloud.matrix --write` and commit the result"
        )


def test_splice_replaces_only_between_markers() -> None:
    doc = f"intro\n{matrix.START}\nold table\n{matrix.END}\noutro\n"
    assert matrix.splice(doc, "new\n") == f"intro\n{matrix.START}\nnew\n{matrix.END}\noutro\n"


def test_short_type_names() -> None:
    assert matrix.short_type("aws:s3/bucket:Bucket") == "s3.Bucket"
    assert matrix.short_type("azure-native:storage:StorageAccount") == "storage.StorageAccount"
    assert matrix.short_type("gcp:cloudfunctionsv2/function:Function") == "cloudfunctionsv2.Function"

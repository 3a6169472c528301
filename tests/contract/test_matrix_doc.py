"""docs/equivalence.md carries the current concept-by-cloud matrix (regenerated from the three inventories)."""

from __future__ import annotations

from contract_support import CONCEPTS, platform

from tricloud import matrix
from tricloud.config import CLOUDS


def current_table() -> matrix.Matrix:
    return matrix.table_from_inventories({cloud: platform(cloud).resources for cloud in CLOUDS})


def test_every_concept_has_resources_on_every_cloud() -> None:
    table = current_table()
    for concept in CONCEPTS:
        for cloud in CLOUDS:
            assert table[concept.name][cloud], f"{concept.name} creates no resource on {cloud}"


def test_equivalence_doc_matrix_is_current() -> None:
    doc = matrix.DOC.read_text()
    expected = matrix.splice(doc, matrix.render_markdown(current_table()))
    assert doc == expected, (
        "docs/equivalence.md is stale: run `python -m tricloud.matrix --write` and commit the result"
    )


def test_splice_replaces_only_between_markers() -> None:
    doc = f"intro\n{matrix.START}\nold table\n{matrix.END}\noutro\n"
    assert matrix.splice(doc, "new\n") == f"intro\n{matrix.START}\nnew\n{matrix.END}\noutro\n"


def test_short_type_names() -> None:
    assert matrix.short_type("aws:s3/bucket:Bucket") == "s3.Bucket"
    assert matrix.short_type("azure-native:storage:StorageAccount") == "storage.StorageAccount"
    assert matrix.short_type("gcp:cloudfunctionsv2/function:Function") == "cloudfunctionsv2.Function"

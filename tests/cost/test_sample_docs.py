"""The docs generator rewrites only the marked sections and lists every catalog entry."""

from __future__ import annotations

import pytest

from tricloud.cost.catalogs import Catalog
from tricloud.cost.sample_docs import DOC, catalog_table, generated_doc, replace_between

from .conftest import stack_inventory


def test_replace_between_keeps_the_rest() -> None:
    text = "intro\n<!-- x:start -->\nold\n<!-- x:end -->\noutro\n"
    assert replace_between(text, "x", "new") == "intro\n<!-- x:start -->\nnew\n<!-- x:end -->\noutro\n"
    with pytest.raises(ValueError, match="markers"):
        replace_between("no markers", "x", "new")


def test_catalog_table_has_every_entry_and_the_rate(catalog: Catalog) -> None:
    table = catalog_table(catalog)
    for entry_id in catalog.entries:
        assert f"`{entry_id}`" in table
    assert "88.0 INR per USD" in table


def test_shipped_doc_carries_both_marker_pairs() -> None:
    text = DOC.read_text(encoding="utf-8")
    for marker in ("cost-samples", "cost-catalog"):
        assert f"<!-- {marker}:start -->" in text and f"<!-- {marker}:end -->" in text


def test_shipped_doc_is_current(catalog: Catalog) -> None:
    """The samples and the catalog table in docs/costs.md are what the stacks, pricers and catalog give now."""
    current = DOC.read_text(encoding="utf-8")
    expected = generated_doc(current, catalog, loader=lambda cloud, stack: stack_inventory(cloud, stack))
    assert current == expected, "docs/costs.md is stale: run `python -m tricloud.cost.sample_docs` and commit"

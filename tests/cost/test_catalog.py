"""The shipped catalog is well formed and sourced; tier arithmetic; malformed files are rejected."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tricloud.cost.catalogs import Catalog, CatalogError, load_catalog


def test_every_entry_has_a_source_url_and_read_date(catalog: Catalog) -> None:
    assert len(catalog.entries) >= 30
    for entry in catalog.entries.values():
        assert entry.source.url.startswith("https://"), entry.id
        # The catalog was read on 2026-11-29; the Warehouse's Redshift Serverless rate on 2026-12-02.
        assert entry.read_date in ("2026-11-29", "2026-12-02"), entry.id
        assert entry.tiers[0].start == 0, entry.id


def test_both_region_sets_have_prices(catalog: Catalog) -> None:
    regions = {e.region for e in catalog.entries.values()}
    assert {"ap-south-1", "us-east-1", "eastus", "us-central1"} <= regions


def test_lambda_duration_tiers_hand_computed(catalog: Catalog) -> None:
    entry = catalog.find("aws", "us-east-1", "AWSLambda", "duration-x86_64")
    assert entry is not None
    # 7e9 GB-s: 6e9 at the first tier, 1e9 at the second.
    charge = entry.charge(7e9)
    assert charge.cost_usd == pytest.approx(6e9 * 0.0000166667 + 1e9 * 0.000015)
    assert charge.unpriced_quantity == 0
    # Exactly at the boundary nothing reaches the second tier.
    assert entry.charge(6e9).cost_usd == pytest.approx(6e9 * 0.0000166667)


def test_quantity_past_the_last_recorded_tier_stays_unpriced(catalog: Catalog) -> None:
    entry = catalog.find("aws", "ap-south-1", "AWSLambda", "duration-x86_64")
    assert entry is not None and entry.tiers[-1].end == 6e9
    charge = entry.charge(6.5e9)
    assert charge.priced_quantity == 6e9
    assert charge.unpriced_quantity == pytest.approx(0.5e9)


def test_global_entries_answer_any_region(catalog: Catalog) -> None:
    entry = catalog.find("gcp", "asia-south1", "API Gateway", "calls")
    assert entry is not None and entry.region == "global"
    assert (
        catalog.find("gcp", "asia-south2", "Cloud Run", "requests") is None
    )  # regional prices stay regional


def test_fx_override(catalog: Catalog) -> None:
    fx = catalog.with_fx(84.5, "2026-11-29").fx
    assert (fx.usd_inr, fx.as_of, fx.source) == (84.5, "2026-11-29", "command-line override")


def _copy(tmp_path: Path) -> Path:
    src = load_catalog().directory
    assert src is not None
    for name in ("aws.yaml", "azure.yaml", "gcp.yaml", "fx.yaml"):
        shutil.copy(src / name, tmp_path / name)
    return tmp_path


def _edit(path: Path, mutate) -> None:  # type: ignore[no-untyped-def]
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    mutate(doc)
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")


def _free_tier(**fields: object):  # type: ignore[no-untyped-def]
    return lambda d: d["entries"][0].update(free_tier={"quantity": 1, **fields})


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["entries"][0].update(tiers=[{"start": 5, "end": None, "usd": 1}]), "contiguous from 0"),
        (lambda d: d["entries"][0].update(tiers=[{"start": 0, "end": None, "usd": -1}]), "got -1"),
        (lambda d: d["entries"][0].update(colour="blue"), "unknown field 'colour' (value 'blue')"),
        (lambda d: d["entries"][0].update(source={"record_id": "x"}), "needs a 'url'"),
        (lambda d: d["entries"][0].update(free_tier={"quantity": 1, "kind": "forever"}), "got 'forever'"),
        (lambda d: d.update(currency="EUR"), "currency must be USD, got 'EUR'"),
        (_free_tier(kind="always_free", valued_at=1), "free_tier: unknown field 'valued_at' (value 1)"),
        (
            _free_tier(kind="always_free", closed_to_accounts_opened_from="2025-07-15"),
            "closed_to_accounts_opened_from: only for new_account_12_months, got kind 'always_free'",
        ),
        (
            _free_tier(kind="new_account_12_months", closed_to_accounts_opened_from="July"),
            "expected YYYY-MM-DD, got 'July'",
        ),
    ],
)
def test_malformed_catalog_names_field_and_value(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    directory = _copy(tmp_path)
    _edit(directory / "aws.yaml", mutate)
    with pytest.raises(CatalogError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_catalog(directory)


def test_wanted_meter_needs_a_refresh_record(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    wanted = {"region": "asia-south1", "service": "Cloud Run", "sku": "requests", "unit": "request"}
    _edit(directory / "gcp.yaml", lambda d: d.update(wanted=[wanted]))
    with pytest.raises(
        CatalogError, match=r"wanted\[0\]\.refresh: a wanted meter needs the price API record"
    ):
        load_catalog(directory)


def test_wanted_meters_are_not_prices(catalog: Catalog) -> None:
    assert catalog.wanted
    for w in catalog.wanted.values():
        assert catalog.find(w.cloud, w.region, w.service, w.sku) is None, w.id
    assert not set(catalog.wanted) & set(catalog.entries)

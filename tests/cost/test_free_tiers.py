"""Free-tier invariants across regions, clouds and profiles (on the real stacks and the shipped catalog)."""

from __future__ import annotations

import dataclasses
from collections import defaultdict

import pytest

from tricloud.cost.catalogs import Catalog
from tricloud.cost.estimator import CLOUDS, REGION_SETS, estimate_clouds
from tricloud.cost.profile import builtin_profiles, load_profile

from .conftest import stack_inventory


def test_a_meter_has_the_same_allowance_in_every_region(catalog: Catalog) -> None:
    """Free tiers are per account: a meter priced in several regions carries the same allowance in each.
    A Tier 2 discount is worth exactly the Tier 1 allowance at the Tier 1 price."""
    by_meter = defaultdict(list)
    for entry in catalog.entries.values():
        by_meter[(entry.cloud, entry.service, entry.sku)].append(entry)
    for meter, entries in by_meter.items():
        tiers = {e.region: e.free_tier for e in entries}
        if not any(tiers.values()) or len(entries) < 2:
            continue
        assert all(tiers.values()), f"{meter}: free tier in some regions only: {sorted(tiers)}"
        assert len({(t.kind, t.quantity) for t in tiers.values() if t}) == 1, meter
        for entry in entries:
            free = entry.free_tier
            if free and free.valued_at_usd is not None:
                plain = [e for e in entries if e.free_tier and e.free_tier.valued_at_usd is None]
                assert plain, f"{entry.id}: a discount valued at a price no region of the meter lists"
                assert {e.tiers[0].usd for e in plain} == {free.valued_at_usd}, entry.id


def test_cloud_run_tier2_discount_equals_the_tier1_allowance(catalog: Catalog) -> None:
    for sku, quantity, tier1 in (("requests", 2e6, 0.0000004), ("cpu-request-based", 180_000, 0.000024),
                                 ("memory-request-based", 360_000, 0.0000025)):  # fmt: skip
        us = catalog.find("gcp", "us-central1", "Cloud Run", sku)
        mumbai = catalog.find("gcp", "asia-south1", "Cloud Run", sku)
        assert us and mumbai and us.free_tier and mumbai.free_tier
        assert (us.free_tier.quantity, us.tiers[0].usd) == (quantity, tier1)
        assert mumbai.free_tier.quantity * mumbai.free_tier.valued_at_usd == pytest.approx(quantity * tier1)


def _estimates(catalog: Catalog, region_set: str, name: str, free: bool):  # type: ignore[no-untyped-def]
    prof = load_profile(name)
    prof = dataclasses.replace(
        prof, free_tier=dataclasses.replace(prof.free_tier, always_free=free, new_account=free)
    )
    return estimate_clouds(CLOUDS, region_set, catalog, prof, loader=lambda c, s: stack_inventory(c))


@pytest.mark.parametrize("profile_name", builtin_profiles())
@pytest.mark.parametrize("region_set", sorted(REGION_SETS))
def test_free_tiers_only_ever_lower_a_bill_and_never_exceed_the_allowance(
    catalog: Catalog, region_set: str, profile_name: str
) -> None:
    with_free = _estimates(catalog, region_set, profile_name, True)
    without = _estimates(catalog, region_set, profile_name, False)
    for est, full in zip(with_free, without, strict=True):
        assert est.total_usd <= full.total_usd + 1e-9, est.cloud
        assert est.prices_not_found == full.prices_not_found, (
            est.cloud
        )  # free tiers never hide a missing price
        used: dict[str, float] = defaultdict(float)
        for res in est.resources:
            for comp in res.components:
                assert comp.monthly_cost_usd is None or comp.monthly_cost_usd >= 0, (res.name, comp.name)
                assert comp.free_quantity <= comp.monthly_quantity + 1e-9, (res.name, comp.name)
                if comp.catalog_entry_id and comp.free_quantity:
                    entry = catalog.entries[comp.catalog_entry_id]
                    assert entry.free_tier is not None
                    value = entry.tiers[0].usd if entry.free_tier.valued_at_usd is not None else 1.0
                    used[comp.catalog_entry_id] += comp.free_quantity * value
        for entry_id, amount in used.items():
            free = catalog.entries[entry_id].free_tier
            assert free is not None
            allowance = free.quantity * (free.valued_at_usd if free.valued_at_usd is not None else 1.0)
            assert amount <= allowance * (1 + 1e-9), entry_id  # one pool per account, shared by resources


@pytest.mark.parametrize("region_set", sorted(REGION_SETS))
def test_closed_12_month_tiers_stay_closed_in_every_region(catalog: Catalog, region_set: str) -> None:
    aws = _estimates(catalog, region_set, "learner", True)[0]
    http = next(c for r in aws.resources for c in r.components if c.name == "HTTP API requests")
    assert http.free_quantity == 0 and http.monthly_cost_usd and http.monthly_cost_usd > 0

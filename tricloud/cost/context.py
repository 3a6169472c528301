"""What a pricer sees: one inventory resource and the pricing context of its cloud."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tricloud.cost import units
from tricloud.cost.catalogs import Catalog, FreeTier, PriceEntry
from tricloud.cost.model import CostComponent
from tricloud.cost.profile import UsageProfile


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    parent: str | None
    inputs: dict[str, Any]
    concept: str = "Other"

    def get(self, *path: str | int, default: Any = None) -> Any:
        """Nested input lookup that tolerates missing keys and short lists."""
        node: Any = self.inputs
        for key in path:
            if isinstance(key, int):
                if not isinstance(node, list) or len(node) <= key:
                    return default
                node = node[key]
            else:
                if not isinstance(node, dict) or key not in node:
                    return default
                node = node[key]
        return default if node is None else node


@dataclass(frozen=True)
class SparkCapacity:
    """The Spark capacity every cloud is priced at: the profile's job size within the stacks' lowest ceiling."""

    vcpu: float
    memory_gb: float
    note: str = ""


@dataclass
class PricingContext:
    cloud: str
    region: str
    catalog: Catalog
    profile: UsageProfile
    resources: list[Resource]
    always_free: bool = True
    new_account: bool = False
    trials: bool = False
    proxy_region: str | None = None  # opt-in: price meters missing in `region` from this region, marked
    spark: SparkCapacity | None = None
    free_remaining: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def count(self, types: Iterable[str], concept: str | None = None) -> int:
        wanted = set(types)
        return sum(
            1 for r in self.resources if r.type in wanted and (concept is None or r.concept == concept)
        )

    def note(self, text: str) -> None:
        """A report-level assumption (shown once per cloud)."""
        if text not in self.notes:
            self.notes.append(text)

    def _entry(self, service: str, sku: str, region: str) -> tuple[PriceEntry | None, str | None]:
        entry = self.catalog.find(self.cloud, region, service, sku)
        if entry is not None or not self.proxy_region or self.proxy_region == region:
            return entry, None
        proxied = self.catalog.find(self.cloud, self.proxy_region, service, sku)
        return proxied, None if proxied is None else proxied.region

    def _free_applies(self, free: FreeTier) -> tuple[bool, str]:
        """Whether this account gets the allowance, and why not when it does not."""
        if free.kind == "always_free":
            return self.always_free, "" if self.always_free else "always-free tier off (--no-free-tier)"
        if free.kind == "trial_first_2_months":
            return (
                self.trials,
                "" if self.trials else "first-2-months trial not applied (profile free_tier.trials)",
            )
        if not self.new_account:
            return False, "12-month new-account tier not applied (profile free_tier.new_account is false)"
        closed = free.closed_to_accounts_opened_from
        if closed:
            opened = date.fromisoformat(closed)
            last_day = opened.replace(year=opened.year + 1)
            if self.catalog.read_date and date.fromisoformat(self.catalog.read_date) >= last_day:
                return False, (
                    f"12-month free tier closed to accounts opened from {closed}: a new account now gets "
                    "free-plan credits instead (not deducted here)"
                )
        return True, ""

    def meter(
        self,
        resource: Resource,
        name: str,
        *,
        service: str,
        sku: str,
        quantity: float,
        unit: str,
        usage_based: bool,
        note: str = "",
        region: str | None = None,
    ) -> CostComponent:
        """One cost component: quantity (or the profile's override) priced from the catalog.

        The quantity is converted from the pricer's unit to the catalog entry's unit (units.convert), the
        account's free tier is taken from a pool shared by every resource on the same meter, and the tiers
        are applied to what remains. A meter the catalog does not hold is never priced at zero.
        """
        notes = [note] if note else []
        override = self.profile.override(resource.name, name)
        if override is not None:
            quantity = override
            notes.append("quantity from profile override")
        wanted_region = region or self.region
        entry, proxy = self._entry(service, sku, wanted_region)
        if entry is None:
            wanted = f"{self.cloud}/{wanted_region}/{service}/{sku}"
            notes.append(f"price not found in catalog: {wanted}")
            if wanted in self.catalog.wanted:
                notes.append("listed as wanted: `tricloud pricing refresh` reads it")
            return CostComponent(
                name=name,
                unit=unit,
                monthly_quantity=quantity,
                unit_price_usd=None,
                monthly_cost_usd=None,
                usage_based=usage_based,
                price_found=False,
                note="; ".join(notes),
            )
        try:
            billed = units.convert(quantity, unit, entry.unit)
        except units.UnitError as exc:
            raise units.UnitError(f"{entry.id}: {exc}") from exc
        if entry.unit != unit:
            notes.append(f"{quantity:.6g} {unit} = {billed:.6g} {entry.unit}")
        if proxy:
            notes.append(f"price from {proxy}: {wanted_region} has none in the catalog (--proxy-region)")
        cost, free_used, unpriced, free_note = self._charge(entry, billed)
        if free_note:
            notes.append(free_note)
        price_found = unpriced == 0
        if not price_found:
            notes.append(
                f"{unpriced:g} {entry.unit} beyond the last recorded tier of {entry.id} are unpriced"
            )
        priced = billed - free_used
        unit_price = cost / priced if priced > 0 and cost > 0 else entry.tiers[0].usd
        return CostComponent(
            name=name,
            unit=entry.unit,
            monthly_quantity=billed,
            unit_price_usd=unit_price,
            monthly_cost_usd=cost,
            usage_based=usage_based,
            price_found=price_found,
            catalog_entry_id=entry.id,
            source_url=entry.source.url,
            free_quantity=free_used,
            note="; ".join(notes),
            list_price_usd=entry.tiers[0].usd,
            proxy_region=proxy,
        )

    def _charge(self, entry: PriceEntry, billed: float) -> tuple[float, float, float, str]:
        """(cost after the free tier, free quantity used, unpriced quantity, note) for `billed` units."""
        free = entry.free_tier
        applies, why_not = (False, "") if free is None else self._free_applies(free)
        if free is None or not applies:
            charge = entry.charge(billed)
            return charge.cost_usd, 0.0, charge.unpriced_quantity, why_not
        if free.valued_at_usd is None:
            # Free tiers are per account: the pool is shared by every resource using this meter.
            remaining = self.free_remaining.setdefault(entry.id, free.quantity)
            used = min(billed, remaining)
            self.free_remaining[entry.id] = remaining - used
            charge = entry.charge(billed - used)
            return charge.cost_usd, used, charge.unpriced_quantity, ""
        # A spending discount worth the free quantity at another (Tier 1) price, taken off this meter's cost.
        key = f"{entry.id}#usd"
        credit = self.free_remaining.setdefault(key, free.quantity * free.valued_at_usd)
        charge = entry.charge(billed)
        gross = charge.cost_usd
        used_usd = min(gross, credit)
        self.free_remaining[key] = credit - used_usd
        equivalent = used_usd / entry.tiers[0].usd if entry.tiers[0].usd else 0.0
        note = (
            f"free tier as a ${free.quantity * free.valued_at_usd:.2f} discount at Tier 1 prices "
            f"({free.quantity:g} {entry.unit} x ${free.valued_at_usd:g}); ${used_usd:.4f} used"
        )
        return gross - used_usd, equivalent, charge.unpriced_quantity, note

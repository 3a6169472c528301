"""What a pricer sees: one inventory resource and the pricing context of its cloud."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tricloud.cost.catalogs import Catalog
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


@dataclass
class PricingContext:
    cloud: str
    region: str
    catalog: Catalog
    profile: UsageProfile
    resources: list[Resource]
    always_free: bool = True
    new_account: bool = False
    free_remaining: dict[str, float] = field(default_factory=dict)

    def count(self, types: Iterable[str], concept: str | None = None) -> int:
        wanted = set(types)
        return sum(
            1 for r in self.resources if r.type in wanted and (concept is None or r.concept == concept)
        )

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
        """One cost component: quantity (or the profile's override) priced from the catalog."""
        override = self.profile.override(resource.name, name)
        if override is not None:
            quantity = override
            note = (note + "; " if note else "") + "quantity from profile override"
        entry = self.catalog.find(self.cloud, region or self.region, service, sku)
        if entry is None:
            wanted = f"{self.cloud}/{region or self.region}/{service}/{sku}"
            hint = (
                "; listed as wanted: `tricloud pricing refresh` reads it"
                if wanted in self.catalog.wanted
                else ""
            )
            return CostComponent(
                name=name,
                unit=unit,
                monthly_quantity=quantity,
                unit_price_usd=None,
                monthly_cost_usd=None,
                usage_based=usage_based,
                price_found=False,
                note=(note + "; " if note else "") + f"price not found in catalog: {wanted}{hint}",
            )
        free_used = 0.0
        free = entry.free_tier
        if free and (
            (free.kind == "always_free" and self.always_free)
            or (free.kind != "always_free" and self.new_account)
        ):
            # Free tiers are per account: the pool is shared by every resource using this meter.
            remaining = self.free_remaining.setdefault(entry.id, free.quantity)
            free_used = min(quantity, remaining)
            self.free_remaining[entry.id] = remaining - free_used
        billable = quantity - free_used
        charge = entry.charge(billable)
        price_found = charge.unpriced_quantity == 0
        if not price_found:
            note = (note + "; " if note else "") + (
                f"{charge.unpriced_quantity:g} {unit} beyond the last recorded tier of {entry.id} are unpriced"
            )
        unit_price = (
            charge.cost_usd / charge.priced_quantity if charge.priced_quantity else entry.tiers[0].usd
        )
        return CostComponent(
            name=name,
            unit=unit,
            monthly_quantity=quantity,
            unit_price_usd=unit_price,
            monthly_cost_usd=charge.cost_usd,
            usage_based=usage_based,
            price_found=price_found,
            catalog_entry_id=entry.id,
            source_url=entry.source.url,
            free_quantity=free_used,
            note=note,
        )

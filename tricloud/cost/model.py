"""Result types of an estimate: cost components, resources, clouds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ResourceStatus = Literal["priced", "free", "component", "unmapped"]


def _sig(value: float | None) -> float | None:
    """Ten significant digits: drops float noise such as 0.05999999999999999 from derived prices."""
    return None if value is None else float(f"{value:.10g}")


@dataclass(frozen=True)
class CostComponent:
    name: str
    unit: str
    monthly_quantity: float
    unit_price_usd: float | None
    monthly_cost_usd: float | None
    usage_based: bool
    price_found: bool
    catalog_entry_id: str | None = None
    source_url: str | None = None
    free_quantity: float = 0.0
    note: str = ""
    list_price_usd: float | None = (
        None  # the catalog's first-tier price per unit (what "depends on usage" quotes)
    )
    proxy_region: str | None = None  # priced from this region because its own region has no price (opt-in)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "monthlyQuantity": _sig(self.monthly_quantity),
            "price": _sig(self.unit_price_usd),
            "listPrice": _sig(self.list_price_usd),
            "monthlyCost": None if self.monthly_cost_usd is None else round(self.monthly_cost_usd, 6),
            "usageBased": self.usage_based,
            "priceFound": self.price_found,
            "catalogEntryId": self.catalog_entry_id,
            "source": self.source_url,
            "freeQuantity": _sig(self.free_quantity),
            "proxyRegion": self.proxy_region,
            "note": self.note,
        }


@dataclass
class ResourceCost:
    name: str
    type: str
    concept: str
    status: ResourceStatus
    components: list[CostComponent] = field(default_factory=list)
    reason: str = ""  # why it is free, a component, or unmapped

    @property
    def monthly_cost_usd(self) -> float:
        return sum(c.monthly_cost_usd or 0.0 for c in self.components)

    @property
    def idle_cost_usd(self) -> float:
        return sum(c.monthly_cost_usd or 0.0 for c in self.components if not c.usage_based)

    @property
    def prices_not_found(self) -> int:
        missing = sum(1 for c in self.components if not c.price_found)
        return missing + (1 if self.status == "unmapped" else 0)

    @property
    def idle_prices_not_found(self) -> int:
        """Missing prices of components that bill with zero traffic (they make the idle figure a lower bound)."""
        missing = sum(1 for c in self.components if not c.price_found and not c.usage_based)
        return missing + (1 if self.status == "unmapped" else 0)

    def to_json(self) -> dict[str, Any]:
        known = not self.prices_not_found
        return {
            "name": self.name,
            "type": self.type,
            "concept": self.concept,
            "status": self.status,
            "reason": self.reason,
            # null when a price is missing: the priced part is then only a lower bound
            "monthlyCost": round(self.monthly_cost_usd, 6) if known else None,
            "pricedMonthlyCost": round(self.monthly_cost_usd, 6),
            "idleMonthlyCost": round(self.idle_cost_usd, 6) if not self.idle_prices_not_found else None,
            "pricedIdleMonthlyCost": round(self.idle_cost_usd, 6),
            "pricesNotFound": self.prices_not_found,
            "idlePricesNotFound": self.idle_prices_not_found,
            "costComponents": [c.to_json() for c in self.components],
        }


@dataclass
class CloudEstimate:
    cloud: str
    region_set: str
    status: Literal["ok", "missing"]
    stack: str = ""
    region: str = ""
    reason: str = ""
    resources: list[ResourceCost] = field(default_factory=list)
    predictions_per_month: float = 0.0
    notes: list[str] = field(default_factory=list)  # assumptions the reader must know (capacity, free tiers)
    # What one more million predictions a month adds at this traffic (free tiers and tiers included).
    next_million_predictions_usd: float | None = None
    next_million_prices_not_found: int = 0

    @property
    def total_usd(self) -> float:
        return sum(r.monthly_cost_usd for r in self.resources)

    @property
    def idle_usd(self) -> float:
        return sum(r.idle_cost_usd for r in self.resources)

    @property
    def prices_not_found(self) -> int:
        return sum(r.prices_not_found for r in self.resources)

    @property
    def idle_prices_not_found(self) -> int:
        return sum(r.idle_prices_not_found for r in self.resources)

    def concept_totals(self) -> dict[str, tuple[float, float]]:
        """concept -> (monthly USD, idle USD), in a stable order."""
        totals: dict[str, tuple[float, float]] = {}
        for res in self.resources:
            cost, idle = totals.get(res.concept, (0.0, 0.0))
            totals[res.concept] = (cost + res.monthly_cost_usd, idle + res.idle_cost_usd)
        return dict(sorted(totals.items()))

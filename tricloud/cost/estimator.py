"""Estimator: inventory + catalog + usage profile -> per-resource cost components per cloud."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from components.concepts import CONCEPT_NAMES as CONCEPTS
from components.concepts import STACK_COMPONENTS
from tricloud.config import CLOUDS
from tricloud.cost.catalogs import Catalog
from tricloud.cost.context import PricingContext, Resource
from tricloud.cost.mapping import PRICERS, free_reason, is_component
from tricloud.cost.model import CloudEstimate, ResourceCost
from tricloud.cost.profile import UsageProfile

# Component names used by the stacks, for inventories whose component entries lack a tricloud type.
NAME_TO_CONCEPT = {name: concept.name for name, concept in STACK_COMPONENTS.items()}
REGION_SETS: dict[str, dict[str, str]] = {
    "india": {"aws": "ap-south-1", "azure": "centralindia", "gcp": "asia-south1"},
    "us": {"aws": "us-east-1", "azure": "eastus", "gcp": "us-central1"},
}

InventoryLoader = Callable[[str, str], dict[str, Any]]


class InventoryError(ValueError):
    """An inventory does not follow the documented format; the message names the field."""


def _concept_of_type(type_token: str) -> str | None:
    parts = type_token.split(":")
    if len(parts) == 3 and parts[0] == "tricloud" and parts[2] in CONCEPTS:
        return parts[2]
    return None


def resolve_resources(raw: Iterable[Any]) -> list[Resource]:
    """Typed resources with each one's concept, found by walking `parent` up to a component."""
    items: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InventoryError(f"resources[{i}]: expected a mapping, got {item!r}")
        for key in ("type", "name"):
            if not isinstance(item.get(key), str) or not item[key]:
                raise InventoryError(
                    f"resources[{i}].{key}: expected a non-empty string, got {item.get(key)!r}"
                )
        inputs = item.get("inputs")
        if inputs is not None and not isinstance(inputs, dict):
            raise InventoryError(f"resources[{i}].inputs: expected a mapping, got {inputs!r}")
        items.append(item)
    by_name = {item["name"]: item for item in items}

    def concept(item: dict[str, Any]) -> str:
        seen: set[str] = set()
        node: dict[str, Any] | None = item
        while node is not None and node["name"] not in seen:
            seen.add(node["name"])
            found = _concept_of_type(node["type"]) or (
                NAME_TO_CONCEPT.get(node["name"]) if is_component(node["type"]) else None
            )
            if found:
                return found
            parent = node.get("parent")
            if parent in NAME_TO_CONCEPT and parent not in by_name:
                return NAME_TO_CONCEPT[parent]
            node = by_name.get(parent) if parent else None
        return "Other"

    return [
        Resource(
            type=i["type"],
            name=i["name"],
            parent=i.get("parent"),
            inputs=i.get("inputs") or {},
            concept=concept(i),
        )
        for i in items
    ]


def estimate_inventory(
    inventory: dict[str, Any],
    catalog: Catalog,
    profile: UsageProfile,
    *,
    region_set: str,
    always_free: bool | None = None,
    new_account: bool | None = None,
) -> CloudEstimate:
    """Price one cloud's inventory in the region set's region for that cloud."""
    if not isinstance(inventory, dict):
        raise InventoryError(f"inventory: expected a mapping, got {type(inventory).__name__}")
    cloud = inventory.get("cloud")
    if cloud not in CLOUDS:
        raise InventoryError(f"inventory.cloud: expected one of {CLOUDS}, got {cloud!r}")
    if region_set not in REGION_SETS:
        raise InventoryError(f"region set must be one of {sorted(REGION_SETS)}, got {region_set!r}")
    raw = inventory.get("resources")
    if not isinstance(raw, list):
        raise InventoryError(f"inventory.resources: expected a list, got {raw!r}")
    resources = resolve_resources(raw)
    region = REGION_SETS[region_set][cloud]
    ctx = PricingContext(
        cloud=cloud,
        region=region,
        catalog=catalog,
        profile=profile,
        resources=resources,
        always_free=profile.free_tier.always_free if always_free is None else always_free,
        new_account=profile.free_tier.new_account if new_account is None else new_account,
    )
    estimate = CloudEstimate(
        cloud=cloud,
        region_set=region_set,
        status="ok",
        stack=str(inventory.get("stack", "")),
        region=region,
        predictions_per_month=profile.api.requests_per_month * profile.api.predictions_per_request,
    )
    inventory_region = inventory.get("region")
    if inventory_region and inventory_region != region:
        estimate.reason = f"inventory deployed to {inventory_region}; priced as if in {region}"
    # Sorted so shared free-tier pools are consumed in a reproducible order.
    for res in sorted(resources, key=lambda r: (r.type, r.name)):
        estimate.resources.append(price_resource(res, ctx))
    return estimate


def price_resource(res: Resource, ctx: PricingContext) -> ResourceCost:
    pricer = PRICERS.get(res.type)
    if pricer is not None:
        components = pricer(res, ctx)
        status = "priced" if components else "free"
        reason = "" if components else "no fixed fee in this configuration (usage priced elsewhere)"
        return ResourceCost(res.name, res.type, res.concept, status, components, reason)
    reason = free_reason(res.type)
    if reason is not None:
        return ResourceCost(res.name, res.type, res.concept, "free", [], reason)
    if is_component(res.type):
        return ResourceCost(
            res.name, res.type, res.concept, "component", [], "component; its children are priced"
        )
    return ResourceCost(
        res.name, res.type, res.concept, "unmapped", [], "type not in the pricing table (mapping.py)"
    )


def default_loader(cloud: str, stack: str) -> dict[str, Any]:
    from tricloud.inventory import build_inventory  # written by the lead; may not exist yet

    return build_inventory(cloud, stack)


def estimate_clouds(
    clouds: Iterable[str],
    region_set: str,
    catalog: Catalog,
    profile: UsageProfile,
    *,
    stack: str = "dev",
    loader: InventoryLoader = default_loader,
    always_free: bool | None = None,
    new_account: bool | None = None,
) -> list[CloudEstimate]:
    """Estimate each cloud; a cloud whose inventory cannot be built is reported as missing."""
    results: list[CloudEstimate] = []
    for cloud in clouds:
        try:
            inventory = loader(cloud, stack)
        except Exception as exc:  # any failure to build the stack means "missing", never a crash
            results.append(
                CloudEstimate(cloud=cloud, region_set=region_set, status="missing", stack=stack,
                              region=REGION_SETS[region_set][cloud], reason=f"{type(exc).__name__}: {exc}")
            )  # fmt: skip
            continue
        results.append(
            estimate_inventory(inventory, catalog, profile, region_set=region_set, always_free=always_free,
                               new_account=new_account)
        )  # fmt: skip
    return results

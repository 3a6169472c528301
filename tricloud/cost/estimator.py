"""Estimator: inventory + catalog + usage profile -> per-resource cost components per cloud."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from components.concepts import CONCEPT_NAMES as CONCEPTS
from components.concepts import STACK_COMPONENTS
from tricloud.config import CLOUDS
from tricloud.cost.catalogs import Catalog
from tricloud.cost.context import PricingContext, Resource, SparkCapacity
from tricloud.cost.mapping import PRICERS, free_reason, is_component
from tricloud.cost.model import CloudEstimate, ResourceCost
from tricloud.cost.pricers import capacity_number
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


def spark_ceiling(inventory: Mapping[str, Any]) -> tuple[float | None, float | None, str]:
    """(max vCPU, max memory GB, where read) of the stack's Spark platform, from its graph where it says.

    AWS: the EMR Serverless application's maximumCapacity. GCP: the Dataproc batch template output
    (driver cores + maxExecutors x executor cores). Azure's cluster policy lives outside the graph.
    """
    cloud = inventory.get("cloud")
    for item in inventory.get("resources") or []:
        if isinstance(item, dict) and item.get("type") == "aws:emrserverless/application:Application":
            cap = (item.get("inputs") or {}).get("maximumCapacity") or {}
            cpu, mem = capacity_number(cap.get("cpu")), capacity_number(cap.get("memory"))
            if cpu is not None or mem is not None:
                return cpu, mem, f"{cloud} EMR Serverless maximumCapacity"
    template = (inventory.get("outputs") or {}).get("spark_application")
    if cloud == "gcp" and isinstance(template, str) and template.startswith("{"):
        try:
            props = json.loads(template)["runtimeConfig"]["properties"]
            cpu = float(props["spark.driver.cores"]) + float(
                props["spark.dynamicAllocation.maxExecutors"]
            ) * float(props["spark.executor.cores"])
        except (KeyError, TypeError, ValueError):
            return None, None, ""
        return cpu, None, "gcp Dataproc batch template (driver + maxExecutors x executor cores)"
    return None, None, ""


def spark_capacity(profile: UsageProfile, inventories: Iterable[Mapping[str, Any]]) -> SparkCapacity:
    """One Spark job size for every cloud: the profile's, within the lowest ceiling any stack declares."""
    wanted_cpu, wanted_mem = profile.spark.vcpu, profile.spark.memory_gb
    cpu, mem, sources = wanted_cpu, wanted_mem, []
    for inv in inventories:
        max_cpu, max_mem, where = spark_ceiling(inv)
        if max_cpu is not None or max_mem is not None:
            limits = [f"{v:g} {u}" for v, u in ((max_cpu, "vCPU"), (max_mem, "GB")) if v is not None]
            sources.append(f"{where} {' / '.join(limits)}")
        cpu = cpu if max_cpu is None else min(cpu, max_cpu)
        mem = mem if max_mem is None else min(mem, max_mem)
    ceiling = f" (stack ceilings: {'; '.join(sources)})" if sources else ""
    if (cpu, mem) == (wanted_cpu, wanted_mem):
        note = f"Spark priced at {cpu:g} vCPU / {mem:g} GB per job on every cloud{ceiling}"
    else:
        note = (
            f"Spark priced at {cpu:g} vCPU / {mem:g} GB per job on every cloud: the profile asks "
            f"{wanted_cpu:g} vCPU / {wanted_mem:g} GB, more than the stacks allow{ceiling}"
        )
    return SparkCapacity(vcpu=cpu, memory_gb=mem, note=note)


def _check_inventory(inventory: Any, region_set: str) -> str:
    if not isinstance(inventory, dict):
        raise InventoryError(f"inventory: expected a mapping, got {type(inventory).__name__}")
    cloud = inventory.get("cloud")
    if cloud not in CLOUDS:
        raise InventoryError(f"inventory.cloud: expected one of {CLOUDS}, got {cloud!r}")
    if region_set not in REGION_SETS:
        raise InventoryError(f"region set must be one of {sorted(REGION_SETS)}, got {region_set!r}")
    if not isinstance(inventory.get("resources"), list):
        raise InventoryError(f"inventory.resources: expected a list, got {inventory.get('resources')!r}")
    return str(cloud)


def estimate_inventory(
    inventory: dict[str, Any],
    catalog: Catalog,
    profile: UsageProfile,
    *,
    region_set: str,
    always_free: bool | None = None,
    new_account: bool | None = None,
    proxy_regions: Mapping[str, str] | None = None,
    spark: SparkCapacity | None = None,
) -> CloudEstimate:
    """Price one cloud's inventory in the region set's region for that cloud."""
    cloud = _check_inventory(inventory, region_set)
    resources = resolve_resources(inventory["resources"])
    region = REGION_SETS[region_set][cloud]
    spark = spark or spark_capacity(profile, [inventory])

    def run(usage: UsageProfile) -> PricingContext:
        return PricingContext(
            cloud=cloud,
            region=region,
            catalog=catalog,
            profile=usage,
            resources=resources,
            always_free=usage.free_tier.always_free if always_free is None else always_free,
            new_account=usage.free_tier.new_account if new_account is None else new_account,
            trials=usage.free_tier.trials,
            proxy_region=(proxy_regions or {}).get(cloud),
            spark=spark,
        )

    ctx = run(profile)
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
    ordered = sorted(resources, key=lambda r: (r.type, r.name))
    estimate.resources = [price_resource(res, ctx) for res in ordered]
    if any(r.concept == "SparkCluster" and r.components for r in estimate.resources):
        ctx.note(spark.note)
    estimate.notes = ctx.notes
    _next_million(estimate, ordered, profile, run)
    return estimate


def _next_million(
    estimate: CloudEstimate,
    ordered: list[Resource],
    profile: UsageProfile,
    run: Callable[[UsageProfile], PricingContext],
) -> None:
    """What one more million predictions a month adds: the same stack priced at +1M predictions.

    A marginal figure, not total / predictions: at a learner's 10,000 requests the fixed costs would
    otherwise read as thousands of dollars per million.
    """
    api = profile.api
    extra_requests = 1_000_000 / (api.predictions_per_request or 1.0)
    more = dataclasses.replace(
        profile, api=dataclasses.replace(api, requests_per_month=api.requests_per_month + extra_requests)
    )
    ctx = run(more)
    delta, missing = 0.0, 0
    for base, res in zip(estimate.resources, ordered, strict=True):
        for before, after in zip(base.components, price_resource(res, ctx).components, strict=True):
            if after.monthly_quantity == before.monthly_quantity:
                continue
            if not (before.price_found and after.price_found):
                missing += 1
                continue
            delta += (after.monthly_cost_usd or 0.0) - (before.monthly_cost_usd or 0.0)
    estimate.next_million_predictions_usd = delta
    estimate.next_million_prices_not_found = missing


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
    proxy_regions: Mapping[str, str] | None = None,
) -> list[CloudEstimate]:
    """Estimate each cloud; a cloud whose inventory cannot be built is reported as missing.

    Every cloud is priced at the same Spark capacity: the profile's job size within the lowest ceiling
    any of the stacks declares.
    """
    loaded: list[tuple[str, dict[str, Any] | None, str]] = []
    for cloud in clouds:
        try:
            loaded.append((cloud, loader(cloud, stack), ""))
        except Exception as exc:  # any failure to build the stack means "missing", never a crash
            loaded.append((cloud, None, f"{type(exc).__name__}: {exc}"))
    spark = spark_capacity(profile, [inv for _, inv, _ in loaded if isinstance(inv, dict)])
    results: list[CloudEstimate] = []
    for cloud, inventory, reason in loaded:
        if inventory is None:
            results.append(
                CloudEstimate(cloud=cloud, region_set=region_set, status="missing", stack=stack,
                              region=REGION_SETS[region_set][cloud], reason=reason)
            )  # fmt: skip
            continue
        results.append(
            estimate_inventory(inventory, catalog, profile, region_set=region_set, always_free=always_free,
                               new_account=new_account, proxy_regions=proxy_regions, spark=spark)
        )  # fmt: skip
    return results

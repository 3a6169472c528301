"""`tricloud pricing refresh`: update catalog entries from the providers' public price APIs.

- AWS: Price List bulk offer files (public JSON), one per service and region:
  https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/<offer>/current/<region>/index.json
  An entry with `refresh: {offer, usage_type}` takes the OnDemand price dimensions of the product
  whose `attributes.usagetype` matches.
- Azure: Retail Prices API (public, no key), https://prices.azure.com/api/retail/prices with an
  OData $filter on serviceName, meterName (and skuName), armRegionName, priceType Consumption;
  pages follow NextPageLink.
- GCP: Cloud Billing Catalog API, services.list and services.skus.list with an API key
  (env GOOGLE_API_KEY); an entry with `refresh: {service, description}` takes the SKU whose
  description contains the text and whose serviceRegions contain the entry's region.

Only entries that carry a `refresh` key are updated; the rest are reported as skipped. Parsed
tiers keep the catalog schema; the source becomes the API record read and the read date today.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from tricloud.cost.catalogs import (
    Catalog,
    PriceEntry,
    Source,
    Tier,
    WantedMeter,
    leading_comments,
    write_cloud_file,
)

AWS_OFFER_URL = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/{offer}/current/{region}/index.json"
AZURE_PRICES_URL = "https://prices.azure.com/api/retail/prices"
AZURE_API_VERSION = "2023-01-01-preview"
GCP_BILLING_URL = "https://cloudbilling.googleapis.com/v1"
RETRY_STATUSES = {429, 500, 502, 503, 504}


class RefreshError(RuntimeError):
    """A price API could not be read or did not contain the record."""


Fetch = Callable[[str], Any]


@dataclass
class HttpClient:
    """GET JSON with a timeout and bounded retries (exponential backoff on 429/5xx/network errors)."""

    timeout_s: float = 30.0
    retries: int = 3
    backoff_s: float = 1.0
    opener: Callable[..., Any] = urllib.request.urlopen
    sleep: Callable[[float], None] = time.sleep
    unreachable: set[str] = field(default_factory=set)

    def get_json(self, url: str) -> Any:
        host = urllib.parse.urlsplit(url).netloc
        if host in self.unreachable:
            # A host that failed every attempt at the network level is not retried for each entry.
            raise RefreshError(f"GET {_redact(url)}: host {host} unreachable earlier in this run")
        last: Exception | None = None
        for attempt in range(self.retries):
            try:
                request = urllib.request.Request(
                    url, headers={"Accept": "application/json", "User-Agent": "tricloud"}
                )
                with self.opener(request, timeout=self.timeout_s) as response:
                    return json.loads(response.read().decode("utf-8"))
            except urllib.error.HTTPError as exc:
                if exc.code not in RETRY_STATUSES:
                    raise RefreshError(f"GET {_redact(url)}: HTTP {exc.code}") from exc
                last = exc
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                last = exc
            if attempt + 1 < self.retries:
                self.sleep(self.backoff_s * 2**attempt)
        if not isinstance(last, urllib.error.HTTPError):
            self.unreachable.add(host)
        raise RefreshError(f"GET {_redact(url)}: failed after {self.retries} attempts ({last})")


def _redact(url: str) -> str:
    return re.sub(r"key=[^&]+", "key=REDACTED", url)  # never print the API key


# ------------------------------------------------------------------------------------ parsers
def _num(text: Any) -> float | None:
    return None if str(text) in ("Inf", "", "None") else float(text)


def _usage_type_matches(actual: str, wanted: str, suffix: bool) -> bool:
    # With suffix matching, 'ServerlessInf:Mem-2GB' matches 'APS3-ServerlessInf:Mem-2GB' (any region prefix).
    return actual == wanted or (suffix and actual.endswith("-" + wanted))


def parse_aws_offer(
    doc: dict[str, Any], usage_type: str, operation: str | None = None, *, suffix: bool = False
) -> dict[str, Any]:
    """Tiers, unit, effective date and rate code of the OnDemand price for one usage type."""
    skus = [
        sku
        for sku, product in (doc.get("products") or {}).items()
        if _usage_type_matches(str(product.get("attributes", {}).get("usagetype", "")), usage_type, suffix)
        and (operation is None or product.get("attributes", {}).get("operation") == operation)
    ]
    if len({(doc.get("products") or {})[s].get("attributes", {}).get("usagetype") for s in skus}) > 1:
        raise RefreshError(
            f"AWS usage type suffix {usage_type!r} matches several usage types; use usage_type"
        )
    on_demand = (doc.get("terms") or {}).get("OnDemand") or {}
    for sku in sorted(skus):
        for term in (on_demand.get(sku) or {}).values():
            dims = sorted(
                term.get("priceDimensions", {}).values(), key=lambda d: float(d.get("beginRange", 0))
            )
            if not dims:
                continue
            tiers = tuple(
                Tier(start=float(d.get("beginRange", 0)), end=_num(d.get("endRange", "Inf")),
                     usd=float(d["pricePerUnit"]["USD"]))
                for d in dims
            )  # fmt: skip
            return {
                "tiers": tiers,
                "unit": dims[0].get("unit", ""),
                "effective_date": str(term.get("effectiveDate", ""))[:10] or None,
                "record_id": f"{usage_type} (sku {sku}, rate {dims[0].get('rateCode', '')})",
                "description": dims[0].get("description", ""),
            }
    raise RefreshError(f"AWS offer file has no OnDemand price for usage type {usage_type!r}")


def azure_unit_factor(unit_of_measure: str) -> float:
    """Base units per Retail Prices API unit: '1M' -> 1e6, '10K' -> 1e4, '1 Hour' -> 1, '100' -> 100."""
    match = re.match(r"\s*([\d.]+)\s*([KM])?\b", unit_of_measure or "")
    if not match:
        raise RefreshError(f"Azure unitOfMeasure {unit_of_measure!r} has no leading quantity")
    factor = float(match.group(1))
    return factor * {"K": 1e3, "M": 1e6}.get(match.group(2) or "", 1.0)


def parse_azure_items(items: list[dict[str, Any]], region: str) -> dict[str, Any]:
    """Tiers of one meter from Retail Prices API items (one item per tier, tierMinimumUnits)."""
    rows = [
        i for i in items if i.get("armRegionName") == region and i.get("type", "Consumption") == "Consumption"
    ]
    if not rows:
        raise RefreshError(f"Azure Retail Prices returned no Consumption item for region {region!r}")
    meter_ids = {r.get("meterId") for r in rows}
    if len(meter_ids) > 1:
        raise RefreshError(f"Azure filter matched {len(meter_ids)} meters; narrow it (skuName/productName)")
    rows.sort(key=lambda r: float(r.get("tierMinimumUnits", 0)))
    factor = azure_unit_factor(rows[0].get("unitOfMeasure", "1"))
    # tierMinimumUnits count in unitOfMeasure units; prices are per unitOfMeasure.
    starts = [float(r.get("tierMinimumUnits", 0)) * factor for r in rows]
    tiers = tuple(
        Tier(
            start=start,
            end=starts[i + 1] if i + 1 < len(starts) else None,
            usd=float(r["retailPrice"]) / factor,
        )
        for i, (start, r) in enumerate(zip(starts, rows, strict=True))
    )
    return {
        "tiers": tiers,
        "effective_date": str(rows[0].get("effectiveStartDate", ""))[:10] or None,
        "record_id": f"meterId {rows[0].get('meterId')} ({rows[0].get('meterName')}, {rows[0].get('productName')})",
    }


def azure_filter(spec: dict[str, str], region: str) -> str:
    clauses = [
        f"{key} eq '{value}'"
        for key, value in sorted(spec.items())
        if key in ("serviceName", "meterName", "skuName", "productName")
    ]
    clauses += [f"armRegionName eq '{region}'", "priceType eq 'Consumption'"]
    return " and ".join(clauses)


def _gcp_price(rate: dict[str, Any]) -> float:
    money = rate.get("unitPrice") or {}
    return float(money.get("units") or 0) + float(money.get("nanos") or 0) / 1e9


def parse_gcp_skus(skus: list[dict[str, Any]], description: str, region: str, exclude: str | None = None,
                   unit_factor: float = 1.0) -> dict[str, Any]:  # fmt: skip
    """Tiers of the SKU whose description contains `description` and which is offered in `region`."""
    wanted_region = region.lower()
    matches = [
        s for s in skus
        if description.lower() in str(s.get("description", "")).lower()
        and (exclude is None or exclude.lower() not in str(s.get("description", "")).lower())
        and wanted_region in [r.lower() for r in s.get("serviceRegions", [])]
    ]  # fmt: skip
    if not matches:
        raise RefreshError(f"no GCP SKU matching {description!r} in region {region!r}")
    if len(matches) > 1:
        ids = ", ".join(s.get("skuId", "?") for s in matches)
        raise RefreshError(
            f"{len(matches)} GCP SKUs match {description!r} in {region!r} ({ids}); narrow the description"
        )
    sku = matches[0]
    info = (sku.get("pricingInfo") or [{}])[0]
    expr = info.get("pricingExpression") or {}
    rates = sorted(expr.get("tieredRates") or [], key=lambda r: float(r.get("startUsageAmount", 0)))
    if not rates:
        raise RefreshError(f"GCP SKU {sku.get('skuId')} has no tiered rates")
    starts = [float(r.get("startUsageAmount", 0)) * unit_factor for r in rates]
    tiers = tuple(
        Tier(start=start, end=starts[i + 1] if i + 1 < len(starts) else None, usd=_gcp_price(r) / unit_factor)
        for i, (start, r) in enumerate(zip(starts, rates, strict=True))
    )
    return {
        "tiers": tiers,
        "effective_date": str(info.get("effectiveTime", ""))[:10] or None,
        "record_id": f"skuId {sku.get('skuId')} ({sku.get('description')}; usageUnit {expr.get('usageUnit')})",
    }


# ------------------------------------------------------------------------------------ refresh
@dataclass
class RefreshResult:
    updated: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)


Target = PriceEntry | WantedMeter


def _updated(target: Target, parsed: dict[str, Any], url: str, via: str, today: str) -> PriceEntry:
    tiers: tuple[Tier, ...] = parsed["tiers"]
    source = Source(url=url, record_id=parsed["record_id"], read_via=via)
    if isinstance(target, WantedMeter):
        # Free tiers are not in the price APIs; a newly priced meter starts without one.
        return PriceEntry(
            cloud=target.cloud, region=target.region, service=target.service, sku=target.sku, unit=target.unit,
            description=target.description, tiers=tiers, source=source, read_date=today,
            effective_date=parsed.get("effective_date"), refresh=dict(target.refresh),
        )  # fmt: skip
    # A grant the API encodes as a zero-priced first tier must not be applied twice.
    free = None if tiers and tiers[0].usd == 0 and len(tiers) > 1 else target.free_tier
    return replace(
        target, tiers=tiers, free_tier=free, effective_date=parsed.get("effective_date"), read_date=today,
        source=source,
    )  # fmt: skip


def _targets(catalog: Catalog, cloud: str) -> list[Target]:
    return [*catalog.for_cloud(cloud), *catalog.wanted_for(cloud)]


def refresh_aws(catalog: Catalog, fetch: Fetch, today: str) -> RefreshResult:
    result = RefreshResult()
    cache: dict[str, Any] = {}
    for entry in _targets(catalog, "aws"):
        spec = entry.refresh
        usage_type = spec.get("usage_type") or spec.get("usage_type_suffix")
        if not spec.get("offer") or not usage_type:
            result.skipped.append((entry.id, "no refresh.offer/usage_type"))
            continue
        url = AWS_OFFER_URL.format(offer=spec["offer"], region=entry.region)
        try:
            if url not in cache:
                try:
                    cache[url] = fetch(url)
                except RefreshError as exc:
                    cache[url] = exc  # one failing offer file is fetched (and retried) once, not per entry
            if isinstance(cache[url], RefreshError):
                raise cache[url]
            parsed = parse_aws_offer(
                cache[url], usage_type, spec.get("operation"), suffix="usage_type" not in spec
            )
        except RefreshError as exc:
            result.errors.append((entry.id, str(exc)))
            continue
        via = f"AWS Price List bulk offer file (provider unit: {parsed['unit']})"
        catalog.replace_entry(_updated(entry, parsed, url, via, today))
        result.updated.append(entry.id)
    return result


def refresh_azure(catalog: Catalog, fetch: Fetch, today: str) -> RefreshResult:
    result = RefreshResult()
    for entry in _targets(catalog, "azure"):
        spec = entry.refresh
        if not spec.get("serviceName") or not spec.get("meterName"):
            result.skipped.append((entry.id, "no refresh.serviceName/meterName"))
            continue
        query = urllib.parse.urlencode(
            {"api-version": AZURE_API_VERSION, "$filter": azure_filter(spec, entry.region)}
        )
        url: str | None = f"{AZURE_PRICES_URL}?{query}"
        first_url = url
        items: list[dict[str, Any]] = []
        try:
            for _ in range(20):  # bounded paging
                if not url:
                    break
                page = fetch(url)
                items.extend(page.get("Items") or [])
                url = page.get("NextPageLink")
            parsed = parse_azure_items(items, entry.region)
        except RefreshError as exc:
            result.errors.append((entry.id, str(exc)))
            continue
        assert first_url is not None
        catalog.replace_entry(_updated(entry, parsed, first_url, "Azure Retail Prices API", today))
        result.updated.append(entry.id)
    return result


def refresh_gcp(catalog: Catalog, fetch: Fetch, today: str, api_key: str | None) -> RefreshResult:
    result = RefreshResult()
    entries = _targets(catalog, "gcp")
    if not api_key:
        result.errors += [(e.id, "GOOGLE_API_KEY is not set") for e in entries if e.refresh]
        result.skipped += [(e.id, "no refresh.service/description") for e in entries if not e.refresh]
        return result
    services: dict[str, str] | None = None
    skus_by_service: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        spec = entry.refresh
        if not spec.get("service") or not spec.get("description"):
            result.skipped.append((entry.id, "no refresh.service/description"))
            continue
        try:
            if services is None:
                services = {}
                token = ""
                for _ in range(20):
                    page = fetch(f"{GCP_BILLING_URL}/services?key={api_key}&pageSize=5000&pageToken={token}")
                    services.update({s["displayName"]: s["name"] for s in page.get("services", [])})
                    token = page.get("nextPageToken") or ""
                    if not token:
                        break
            name = services.get(spec["service"])
            if name is None:
                raise RefreshError(f"no GCP billing service named {spec['service']!r}")
            if name not in skus_by_service:
                skus: list[dict[str, Any]] = []
                token = ""
                for _ in range(50):
                    page = fetch(
                        f"{GCP_BILLING_URL}/{name}/skus?key={api_key}&currencyCode=USD&pageSize=5000&pageToken={token}"
                    )
                    skus.extend(page.get("skus", []))
                    token = page.get("nextPageToken") or ""
                    if not token:
                        break
                skus_by_service[name] = skus
            parsed = parse_gcp_skus(skus_by_service[name], spec["description"], entry.region.lower(),
                                    spec.get("exclude"), float(spec.get("unit_factor", 1)))  # fmt: skip
        except RefreshError as exc:
            result.errors.append((entry.id, str(exc)))
            continue
        url = f"{GCP_BILLING_URL}/{name}/skus"
        catalog.replace_entry(_updated(entry, parsed, url, "Cloud Billing Catalog API", today))
        result.updated.append(entry.id)
    return result


def refresh(
    catalog: Catalog,
    clouds: list[str],
    *,
    fetch: Fetch | None = None,
    today: str | None = None,
    api_key: str | None = None,
) -> dict[str, RefreshResult]:
    fetch = fetch or HttpClient().get_json
    today = today or date.today().isoformat()
    results: dict[str, RefreshResult] = {}
    for cloud in clouds:
        if cloud == "aws":
            results[cloud] = refresh_aws(catalog, fetch, today)
        elif cloud == "azure":
            results[cloud] = refresh_azure(catalog, fetch, today)
        elif cloud == "gcp":
            results[cloud] = refresh_gcp(
                catalog, fetch, today, api_key if api_key is not None else os.environ.get("GOOGLE_API_KEY")
            )
        else:
            raise ValueError(f"cloud must be one of aws, azure, gcp, got {cloud!r}")
    return results


def save_catalog(catalog: Catalog, clouds: list[str]) -> None:
    assert catalog.directory is not None
    for cloud in clouds:
        path = catalog.directory / f"{cloud}.yaml"
        header = leading_comments(path) if path.exists() else ""
        write_cloud_file(path, cloud, catalog.for_cloud(cloud), catalog.wanted_for(cloud), header)

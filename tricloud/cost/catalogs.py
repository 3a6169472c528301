"""Pricing catalog: versioned YAML files under tricloud/cost/catalog, one per cloud.

An entry prices one meter (cloud, region, service, sku) in a base unit, with tiers applied to the
billable quantity after the entry's optional free tier. A meter that is not in the catalog is never
priced at zero: the estimator reports it as "price not found".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from tricloud.config import CLOUDS
from tricloud.cost import units

CATALOG_DIR = Path(__file__).parent / "catalog"
# always_free: every month, every account; new_account_12_months: the first 12 months of an account;
# trial_first_2_months: a service trial (SageMaker) applied only when the profile asks for trials.
FREE_TIER_KINDS = ("always_free", "new_account_12_months", "trial_first_2_months")
SCHEMA_VERSION = 1


class CatalogError(ValueError):
    """A catalog file is malformed; the message names the file, entry and field."""


@dataclass(frozen=True)
class Tier:
    start: float
    end: float | None
    usd: float


@dataclass(frozen=True)
class FreeTier:
    quantity: float
    kind: str
    note: str = ""
    # Set when the allowance is a spending discount worth `quantity` units at this price (Cloud Run and
    # Cloud Functions in Tier 2 regions: the free tier is valued at Tier 1 prices).
    valued_at_usd: float | None = None
    # A 12-month tier the provider no longer offers to accounts opened on or after this date (AWS, 2025-07-15).
    closed_to_accounts_opened_from: str | None = None


@dataclass(frozen=True)
class Source:
    url: str
    record_id: str | None = None
    read_via: str | None = None


@dataclass(frozen=True)
class PriceEntry:
    cloud: str
    region: str
    service: str
    sku: str
    unit: str
    description: str
    tiers: tuple[Tier, ...]
    source: Source
    read_date: str
    effective_date: str | None = None
    free_tier: FreeTier | None = None
    refresh: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.cloud}/{self.region}/{self.service}/{self.sku}"

    def charge(self, billable: float) -> TierCharge:
        """Cost of `billable` units across the tiers; units past the last tier stay unpriced."""
        cost = 0.0
        priced = 0.0
        for tier in self.tiers:
            upper = math.inf if tier.end is None else tier.end
            in_tier = max(0.0, min(billable, upper) - tier.start)
            cost += in_tier * tier.usd
            priced += in_tier
        return TierCharge(
            cost_usd=cost, priced_quantity=priced, unpriced_quantity=max(0.0, billable - priced)
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "region": self.region,
            "service": self.service,
            "sku": self.sku,
            "unit": self.unit,
            "description": self.description,
            "tiers": [{"start": t.start, "end": t.end, "usd": t.usd} for t in self.tiers],
        }
        if self.free_tier:
            data["free_tier"] = {
                "quantity": self.free_tier.quantity,
                "kind": self.free_tier.kind,
                "note": self.free_tier.note,
            }
            if self.free_tier.valued_at_usd is not None:
                data["free_tier"]["valued_at_usd"] = self.free_tier.valued_at_usd
            if self.free_tier.closed_to_accounts_opened_from:
                data["free_tier"]["closed_to_accounts_opened_from"] = (
                    self.free_tier.closed_to_accounts_opened_from
                )
        data["source"] = {k: v for k, v in vars(self.source).items() if v is not None}
        data["effective_date"] = self.effective_date
        data["read_date"] = self.read_date
        if self.refresh:
            data["refresh"] = dict(self.refresh)
        return data


@dataclass(frozen=True)
class WantedMeter:
    """A meter the stacks need but whose price could not be read yet: `pricing refresh` fills it."""

    cloud: str
    region: str
    service: str
    sku: str
    unit: str
    description: str
    refresh: dict[str, str]

    @property
    def id(self) -> str:
        return f"{self.cloud}/{self.region}/{self.service}/{self.sku}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "service": self.service,
            "sku": self.sku,
            "unit": self.unit,
            "description": self.description,
            "refresh": dict(self.refresh),
        }


@dataclass(frozen=True)
class TierCharge:
    cost_usd: float
    priced_quantity: float
    unpriced_quantity: float


@dataclass(frozen=True)
class ExchangeRate:
    usd_inr: float
    as_of: str
    source: str


@dataclass
class Catalog:
    entries: dict[str, PriceEntry]
    fx: ExchangeRate
    directory: Path | None = None
    wanted: dict[str, WantedMeter] = field(default_factory=dict)

    def find(self, cloud: str, region: str, service: str, sku: str) -> PriceEntry | None:
        """The entry for this meter in `region`, else the cloud's `global` entry, else None."""
        for reg in (region, "global"):
            entry = self.entries.get(f"{cloud}/{reg}/{service}/{sku}")
            if entry is not None:
                return entry
        return None

    @property
    def read_date(self) -> str:
        return max((e.read_date for e in self.entries.values()), default="")

    def for_cloud(self, cloud: str) -> list[PriceEntry]:
        return [e for e in self.entries.values() if e.cloud == cloud]

    def wanted_for(self, cloud: str) -> list[WantedMeter]:
        return [w for w in self.wanted.values() if w.cloud == cloud]

    def replace_entry(self, entry: PriceEntry) -> None:
        """Store a (re)priced entry; a wanted meter it prices is no longer wanted."""
        self.entries[entry.id] = entry
        self.wanted.pop(entry.id, None)

    def with_fx(self, usd_inr: float | None, as_of: str | None) -> Catalog:
        if usd_inr is None and as_of is None:
            return self
        fx = replace(
            self.fx,
            usd_inr=self.fx.usd_inr if usd_inr is None else usd_inr,
            as_of=as_of or self.fx.as_of,
            source="command-line override" if usd_inr is not None else self.fx.source,
        )
        return Catalog(entries=self.entries, fx=fx, directory=self.directory, wanted=self.wanted)


def _need(data: dict[str, Any], key: str, where: str) -> Any:
    if key not in data or data[key] is None:
        raise CatalogError(f"{where}: missing field '{key}'")
    return data[key]


def _number(value: Any, where: str, *, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise CatalogError(f"{where}: expected a number >= 0, got {value!r}")
    return float(value)


def _parse_tiers(raw: Any, where: str) -> tuple[Tier, ...]:
    if not isinstance(raw, list) or not raw:
        raise CatalogError(f"{where}.tiers: expected a non-empty list, got {raw!r}")
    tiers: list[Tier] = []
    expected_start = 0.0
    for i, item in enumerate(raw):
        at = f"{where}.tiers[{i}]"
        if not isinstance(item, dict):
            raise CatalogError(f"{at}: expected a mapping, got {item!r}")
        start = _number(item.get("start"), f"{at}.start")
        end = _number(item.get("end"), f"{at}.end", allow_none=True)
        usd = _number(item.get("usd"), f"{at}.usd")
        assert start is not None and usd is not None
        if start != expected_start:
            raise CatalogError(
                f"{at}.start: tiers must be contiguous from 0, expected {expected_start}, got {start}"
            )
        if end is not None and end <= start:
            raise CatalogError(f"{at}.end: must be greater than start {start}, got {end}")
        if end is None and i != len(raw) - 1:
            raise CatalogError(f"{at}.end: only the last tier may be open-ended")
        tiers.append(Tier(start=start, end=end, usd=usd))
        expected_start = end if end is not None else math.inf
    return tuple(tiers)


def _parse_free_tier(raw: Any, where: str) -> FreeTier | None:
    if raw is None:
        return None
    at = f"{where}.free_tier"
    if not isinstance(raw, dict):
        raise CatalogError(f"{at}: expected a mapping, got {raw!r}")
    known = {"quantity", "kind", "note", "valued_at_usd", "closed_to_accounts_opened_from"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise CatalogError(f"{at}: unknown field '{unknown[0]}' (value {raw[unknown[0]]!r})")
    kind = raw.get("kind")
    if kind not in FREE_TIER_KINDS:
        raise CatalogError(f"{at}.kind: expected one of {FREE_TIER_KINDS}, got {kind!r}")
    qty = _number(raw.get("quantity"), f"{at}.quantity")
    valued = _number(raw.get("valued_at_usd"), f"{at}.valued_at_usd", allow_none=True)
    closed = raw.get("closed_to_accounts_opened_from")
    if closed is not None:
        try:
            date.fromisoformat(str(closed))
        except ValueError as exc:
            raise CatalogError(
                f"{at}.closed_to_accounts_opened_from: expected YYYY-MM-DD, got {closed!r}"
            ) from exc
        if kind != "new_account_12_months":
            raise CatalogError(
                f"{at}.closed_to_accounts_opened_from: only for new_account_12_months, got kind {kind!r}"
            )
    assert qty is not None
    return FreeTier(
        quantity=qty,
        kind=kind,
        note=str(raw.get("note", "")),
        valued_at_usd=valued,
        closed_to_accounts_opened_from=None if closed is None else str(closed),
    )


def parse_entry(cloud: str, data: Any, where: str) -> PriceEntry:
    if not isinstance(data, dict):
        raise CatalogError(f"{where}: expected a mapping, got {data!r}")
    known = {
        "region",
        "service",
        "sku",
        "unit",
        "description",
        "tiers",
        "free_tier",
        "source",
        "effective_date",
        "read_date",
        "refresh",
    }
    unknown = sorted(set(data) - known)
    if unknown:
        raise CatalogError(f"{where}: unknown field '{unknown[0]}' (value {data[unknown[0]]!r})")
    source_raw = _need(data, "source", where)
    if not isinstance(source_raw, dict) or not source_raw.get("url"):
        raise CatalogError(f"{where}.source: needs a 'url' (where the figure was read), got {source_raw!r}")
    unit = str(_need(data, "unit", where))
    try:
        units.parse(unit)
    except units.UnitError as exc:
        raise CatalogError(f"{where}.unit: {exc}") from exc
    free = _parse_free_tier(data.get("free_tier"), where)
    return PriceEntry(
        cloud=cloud,
        region=str(_need(data, "region", where)),
        service=str(_need(data, "service", where)),
        sku=str(_need(data, "sku", where)),
        unit=unit,
        description=str(data.get("description", "")),
        tiers=_parse_tiers(_need(data, "tiers", where), where),
        source=Source(
            url=str(source_raw["url"]),
            record_id=source_raw.get("record_id"),
            read_via=source_raw.get("read_via"),
        ),
        read_date=str(_need(data, "read_date", where)),
        effective_date=None if data.get("effective_date") is None else str(data["effective_date"]),
        free_tier=free,
        refresh={str(k): str(v) for k, v in (data.get("refresh") or {}).items()},
    )


def parse_wanted(cloud: str, data: Any, where: str) -> WantedMeter:
    if not isinstance(data, dict):
        raise CatalogError(f"{where}: expected a mapping, got {data!r}")
    unknown = sorted(set(data) - {"region", "service", "sku", "unit", "description", "refresh"})
    if unknown:
        raise CatalogError(f"{where}: unknown field '{unknown[0]}' (value {data[unknown[0]]!r})")
    refresh = data.get("refresh")
    if not isinstance(refresh, dict) or not refresh:
        raise CatalogError(
            f"{where}.refresh: a wanted meter needs the price API record to read, got {refresh!r}"
        )
    return WantedMeter(
        cloud=cloud,
        region=str(_need(data, "region", where)),
        service=str(_need(data, "service", where)),
        sku=str(_need(data, "sku", where)),
        unit=str(_need(data, "unit", where)),
        description=str(data.get("description", "")),
        refresh={str(k): str(v) for k, v in refresh.items()},
    )


def load_cloud_file(path: Path) -> tuple[list[PriceEntry], list[WantedMeter]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    where = path.name
    if not isinstance(data, dict):
        raise CatalogError(f"{where}: expected a mapping at top level")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise CatalogError(
            f"{where}: schema_version must be {SCHEMA_VERSION}, got {data.get('schema_version')!r}"
        )
    cloud = data.get("cloud")
    if cloud not in CLOUDS:
        raise CatalogError(f"{where}: cloud must be one of {CLOUDS}, got {cloud!r}")
    if data.get("currency") != "USD":
        raise CatalogError(f"{where}: currency must be USD, got {data.get('currency')!r}")
    entries = [
        parse_entry(cloud, raw, f"{where}: entries[{i}]") for i, raw in enumerate(data.get("entries") or [])
    ]
    wanted = [
        parse_wanted(cloud, raw, f"{where}: wanted[{i}]") for i, raw in enumerate(data.get("wanted") or [])
    ]
    seen: set[str] = set()
    for item in [*entries, *wanted]:
        if item.id in seen:
            raise CatalogError(f"{where}: duplicate entry {item.id}")
        seen.add(item.id)
    return entries, wanted


def load_catalog(directory: Path | None = None) -> Catalog:
    directory = directory or CATALOG_DIR
    entries: dict[str, PriceEntry] = {}
    wanted: dict[str, WantedMeter] = {}
    for cloud in CLOUDS:
        path = directory / f"{cloud}.yaml"
        if path.exists():
            priced, missing = load_cloud_file(path)
            entries.update((e.id, e) for e in priced)
            wanted.update((w.id, w) for w in missing)
    fx_path = directory / "fx.yaml"
    if not fx_path.exists():
        raise CatalogError(f"{fx_path.name}: missing; the INR exchange rate is configured there")
    fx_raw = yaml.safe_load(fx_path.read_text(encoding="utf-8")) or {}
    rate = _number(fx_raw.get("usd_inr"), "fx.yaml: usd_inr")
    assert rate is not None
    fx = ExchangeRate(usd_inr=rate, as_of=str(fx_raw.get("as_of", "")), source=str(fx_raw.get("source", "")))
    return Catalog(entries=entries, fx=fx, directory=directory, wanted=wanted)


def write_cloud_file(
    path: Path, cloud: str, entries: list[PriceEntry], wanted: list[WantedMeter], header: str = ""
) -> None:
    """Rewrite one cloud's catalog file, keeping its leading comment block."""
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "cloud": cloud,
        "currency": "USD",
        "entries": [e.to_dict() for e in sorted(entries, key=lambda e: (e.region, e.service, e.sku))],
    }
    if wanted:
        doc["wanted"] = [w.to_dict() for w in sorted(wanted, key=lambda w: (w.region, w.service, w.sku))]
    body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110)
    path.write_text(header + body, encoding="utf-8")


def leading_comments(path: Path) -> str:
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if not line.startswith("#"):
            break
        lines.append(line)
    return "".join(lines)

"""Units of measure: the one place where quantities change unit (GB vs GiB, TB vs TiB, hours vs seconds).

A unit is written `<amount>` or `<amount>-<time>`:
- amount: a data size -- decimal B, KB, MB, GB, TB (powers of 1000) or binary KiB, MiB, GiB, TiB (powers
  of 1024) -- or a counted thing (request, call, vCPU, DBU, key, alarm, ...);
- time: second, minute, hour, day or month (the catalog's month is 730 hours).

Pricers state quantities in the unit they compute (the profile's GB, a request count, hours); the
catalog states each price in the provider's unit. `convert` maps one onto the other and refuses units
of different kinds, so a price per GiB is never applied to a GB quantity by accident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HOURS_PER_MONTH = 730.0

DATA: dict[str, float] = {
    "B": 1.0,
    "KB": 1e3,
    "MB": 1e6,
    "GB": 1e9,
    "TB": 1e12,
    "KiB": 2.0**10,
    "MiB": 2.0**20,
    "GiB": 2.0**30,
    "TiB": 2.0**40,
}
TIME: dict[str, float] = {
    "second": 1.0,
    "minute": 60.0,
    "hour": 3600.0,
    "day": 86400.0,
    "month": HOURS_PER_MONTH * 3600.0,
}
# Kubernetes-style quantity suffixes, as Cloud Run / Cloud Functions memory settings use them.
QUANTITY_SUFFIX: dict[str, float] = {
    "": 1.0,
    "k": 1e3,
    "K": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
}


class UnitError(ValueError):
    """Two units of different kinds, or an unreadable quantity; the message names both."""


@dataclass(frozen=True)
class Unit:
    text: str
    amount: str | None  # data unit or counted noun; None for a pure time unit
    time: str | None

    @property
    def kind(self) -> str:
        if self.amount is None:
            return "time"
        base = "data" if self.amount in DATA else f"count of '{self.amount}'"
        return base if self.time is None else f"{base} x time"

    @property
    def factor(self) -> float:
        """Size of one unit in its kind's base (bytes, counts, seconds, products of them)."""
        amount = 1.0 if self.amount is None or self.amount not in DATA else DATA[self.amount]
        return amount * (1.0 if self.time is None else TIME[self.time])


def parse(unit: str) -> Unit:
    text = unit.strip()
    if not text:
        raise UnitError("unit: empty")
    if text in TIME:
        return Unit(text, None, text)
    head, sep, tail = text.rpartition("-")
    if sep and tail in TIME and head:
        return Unit(text, head, tail)
    return Unit(text, text, None)


def convert(quantity: float, from_unit: str, to_unit: str) -> float:
    """`quantity` in `from_unit` expressed in `to_unit` (e.g. 8 GB-month -> 7.45 GiB-month)."""
    if from_unit == to_unit:
        return quantity
    src, dst = parse(from_unit), parse(to_unit)
    if src.kind != dst.kind:
        raise UnitError(f"cannot convert {from_unit} ({src.kind}) to {to_unit} ({dst.kind})")
    return quantity * src.factor / dst.factor


def compatible(a: str, b: str) -> bool:
    return parse(a).kind == parse(b).kind


def quantity_bytes(value: object) -> float:
    """'256M', '512Mi', '1G', '1Gi', '1024' (bytes) -> bytes; M is 10^6, Mi is 2^20 (Kubernetes rules)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = re.fullmatch(r"\s*([\d.]+)\s*(Ki|Mi|Gi|Ti|k|K|M|G|T)?\s*", str(value))
    if not match:
        raise UnitError(f"memory quantity: expected a number with k, M, G, Mi or Gi, got {value!r}")
    return float(match.group(1)) * QUANTITY_SUFFIX[match.group(2) or ""]


def memory_gib(value: object, default_mb: float) -> float:
    """A Cloud Run / Functions memory setting in GiB; a missing setting takes the profile's MB (as MiB)."""
    if value is None or value == "":
        return default_mb * DATA["MiB"] / DATA["GiB"]
    return quantity_bytes(value) / DATA["GiB"]


SCALES = ((1e3, "1K"), (1e6, "1M"), (1e9, "1B"))


def usd_text(value: float) -> str:
    """Up to six significant digits, at least two decimals: 0.2 -> '0.20', 0.0057785 -> '0.0057785'."""
    text = f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.2f}"
    if "e" in text:
        text = f"{value:,.10f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def price_text(usd_per_unit: float, unit: str) -> str:
    """'$0.20 per 1M request', '$0.023 per GiB-month': tiny prices of counted things scaled to 1K/1M/1B."""
    parsed = parse(unit)
    counted = parsed.amount is not None and parsed.amount not in DATA and parsed.time is None
    if counted and 0 < usd_per_unit < 0.001:
        for scale, label in SCALES:
            if usd_per_unit * scale >= 0.01:
                return f"${usd_text(usd_per_unit * scale)} per {label} {unit}"
    return f"${usd_text(usd_per_unit)} per {unit}"

"""Units are converted in one place (tricloud/cost/units.py): one known answer per kind of unit."""

from __future__ import annotations

import pytest

from tricloud.cost import units
from tricloud.cost.units import UnitError, convert, memory_gib, price_text


def test_data_size_decimal_to_binary() -> None:
    # 1 TB = 10^12 bytes; 1 TiB = 2^40 = 1,099,511,627,776 bytes -> 0.9094947 TiB.
    assert convert(1, "TB", "TiB") == pytest.approx(0.9094947017729282)
    assert convert(20_000, "KB", "GB") == pytest.approx(0.02)  # 20,000 x 10^3 / 10^9
    assert convert(1, "GiB", "MiB") == 1024


def test_data_over_time_gb_month_to_gib_month() -> None:
    # 8 GB = 8 x 10^9 / 2^30 = 7.450580596923828 GiB, so a GiB-month price applies to 7.45, not 8.
    assert convert(8, "GB-month", "GiB-month") == pytest.approx(7.450580596923828)


def test_memory_time_hours_and_seconds() -> None:
    assert convert(1, "GB-hour", "GB-second") == 3600
    assert convert(1, "GiB-second", "GB-second") == pytest.approx(1.073741824)  # 2^30 / 10^9


def test_counted_thing_over_time() -> None:
    assert convert(2, "vCPU-hour", "vCPU-second") == 7200
    assert convert(1, "key-month", "key-hour") == 730  # the catalog's month is 730 hours
    with pytest.raises(UnitError, match=r"vCPU-hour .* to DBU-hour"):
        convert(1, "vCPU-hour", "DBU-hour")


def test_time() -> None:
    assert convert(1, "month", "hour") == 730
    assert convert(90, "minute", "hour") == 1.5


def test_counts_only_convert_to_the_same_thing() -> None:
    assert convert(3, "request", "request") == 3
    with pytest.raises(UnitError, match=r"request \(count of 'request'\) to call"):
        convert(1, "request", "call")
    with pytest.raises(UnitError, match=r"GB \(data\) to GB-month \(data x time\)"):
        convert(1, "GB", "GB-month")


def test_memory_settings_follow_kubernetes_quantities() -> None:
    assert memory_gib("512Mi", 0) == 0.5
    assert memory_gib("256M", 0) == pytest.approx(256e6 / 2**30)  # M is 10^6 bytes: 0.2384 GiB
    assert memory_gib("1G", 0) == pytest.approx(1e9 / 2**30)
    assert memory_gib("1Gi", 0) == 1
    assert memory_gib(None, 256) == 0.25  # the profile's MB are taken as MiB
    with pytest.raises(UnitError, match="got 'lots'"):
        memory_gib("lots", 256)


def test_price_text_scales_only_counted_things() -> None:
    assert price_text(0.0000002, "request") == "$0.20 per 1M request"
    assert price_text(0.000003, "operation") == "$3.00 per 1M operation"
    assert price_text(0.023, "GiB-month") == "$0.023 per GiB-month"
    assert price_text(0.00004, "second") == "$0.00004 per second"
    assert price_text(0.0000166667, "GB-second") == "$0.0000166667 per GB-second"


def test_every_catalog_unit_parses(catalog) -> None:  # type: ignore[no-untyped-def]
    for entry in catalog.entries.values():
        assert units.parse(entry.unit).kind, entry.id

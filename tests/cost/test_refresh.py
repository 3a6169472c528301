"""Price-API parsers on recorded responses (hand-written in the documented formats), the HTTP
client's retries, and the refresh writing the catalog. Nothing here touches the network."""

from __future__ import annotations

import io
import json
import shutil
import urllib.error
from pathlib import Path
from typing import Any

import pytest

from tricloud.cost.catalogs import load_catalog
from tricloud.cost.refresh import (
    HttpClient,
    RefreshError,
    azure_unit_factor,
    parse_aws_offer,
    parse_azure_items,
    parse_gcp_skus,
    refresh,
    save_catalog,
)

from .conftest import RECORDED


def _json(name: str) -> Any:
    return json.loads((RECORDED / name).read_text(encoding="utf-8"))


def test_parse_aws_offer_file_tiers_sorted_by_begin_range() -> None:
    parsed = parse_aws_offer(_json("aws_offer_AWSLambda_ap-south-1.json"), "APS3-Lambda-GB-Second")
    assert [(t.start, t.end, t.usd) for t in parsed["tiers"]] == [
        (0, 6e9, 0.0000166667), (6e9, 15e9, 0.000015), (15e9, None, 0.0000133334),
    ]  # fmt: skip
    assert parsed["effective_date"] == "2026-11-01"
    assert "TESTSKUDURATION1" in parsed["record_id"]
    with pytest.raises(RefreshError, match="no OnDemand price for usage type 'APS3-Nothing'"):
        parse_aws_offer(_json("aws_offer_AWSLambda_ap-south-1.json"), "APS3-Nothing")


def test_parse_azure_items_across_pages_and_regions() -> None:
    items = _json("azure_functions_page1.json")["Items"] + _json("azure_functions_page2.json")["Items"]
    parsed = parse_azure_items(items, "eastus")
    assert [(t.start, t.end, t.usd) for t in parsed["tiers"]] == [(0, 400000, 0.0), (400000, None, 0.000017)]
    assert parsed["record_id"].startswith("meterId TEST-METER-EXECUTION-TIME")
    with pytest.raises(RefreshError, match="no Consumption item for region 'centralindia'"):
        parse_azure_items(items, "centralindia")


@pytest.mark.parametrize(
    ("unit", "factor"), [("1M", 1e6), ("10K", 1e4), ("1 Hour", 1), ("100", 100), ("1 GB/Month", 1)]
)
def test_azure_unit_factor(unit: str, factor: float) -> None:
    assert azure_unit_factor(unit) == factor


def test_parse_gcp_skus_by_description_region_and_exclusion() -> None:
    skus = _json("gcp_skus_dataproc.json")["skus"]
    standard = parse_gcp_skus(skus, "Data Compute Unit", "us-central1", exclude="Premium")
    assert [(t.start, t.end, t.usd) for t in standard["tiers"]] == [(0, None, pytest.approx(0.065))]
    assert standard["effective_date"] == "2026-11-20"
    mumbai = parse_gcp_skus(skus, "Data Compute Unit", "asia-south1")
    assert mumbai["tiers"][0].usd == pytest.approx(0.07)
    with pytest.raises(RefreshError, match="2 GCP SKUs match"):
        parse_gcp_skus(skus, "Data Compute Unit", "us-central1")


class FakeApis:
    """Answers the three APIs' URLs from the recorded files; records what was asked."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, url: str) -> Any:
        self.urls.append(url)
        if "AWSLambda/current/ap-south-1" in url:
            return _json("aws_offer_AWSLambda_ap-south-1.json")
        if "prices.azure.com" in url and "Execution" in url and "eastus" in url:
            return _json("azure_functions_page2.json" if "skip" in url else "azure_functions_page1.json")
        if url.startswith("https://cloudbilling.googleapis.com/v1/services?"):
            return _json("gcp_services.json")
        if "services/TEST-0000-0001/skus" in url:
            return _json("gcp_skus_dataproc.json")
        raise RefreshError(f"GET {url}: HTTP 404")


@pytest.fixture
def catalog_copy(tmp_path: Path) -> Path:
    src = load_catalog().directory
    assert src is not None
    for name in ("aws.yaml", "azure.yaml", "gcp.yaml", "fx.yaml"):
        shutil.copy(src / name, tmp_path / name)
    return tmp_path


def test_refresh_updates_matching_entries_and_keeps_the_schema(catalog_copy: Path) -> None:
    catalog = load_catalog(catalog_copy)
    api = FakeApis()
    results = refresh(catalog, ["aws", "azure", "gcp"], fetch=api, today="2026-11-30", api_key="TESTKEY")

    assert "aws/ap-south-1/AWSLambda/requests" in results["aws"].updated
    assert "azure/eastus/Functions/execution-time" in results["azure"].updated
    assert "gcp/us-central1/Dataproc Serverless/dcu-hours-standard" in results["gcp"].updated
    assert "gcp/us-central1/Dataproc Serverless/dcu-hours-premium" in results["gcp"].updated
    assert any("HTTP 404" in why for _, why in results["aws"].errors)  # other offer files are not recorded
    assert ("gcp/us-central1/Cloud Run/requests", "no refresh.service/description") in results["gcp"].skipped

    save_catalog(catalog, ["aws", "azure", "gcp"])
    reloaded = load_catalog(catalog_copy)
    lam = reloaded.find("aws", "ap-south-1", "AWSLambda", "requests")
    assert lam is not None and lam.tiers[0].usd == 0.00000021 and lam.read_date == "2026-11-30"
    assert lam.source.url.endswith("/AWSLambda/current/ap-south-1/index.json")
    assert lam.source.read_via == "AWS Price List bulk offer file (provider unit: Requests)"
    assert lam.effective_date == "2026-11-01"
    duration = reloaded.find("aws", "ap-south-1", "AWSLambda", "duration-x86_64")
    assert duration is not None and len(duration.tiers) == 3  # the recorded file has all three tiers
    fn = reloaded.find("azure", "eastus", "Functions", "execution-time")
    assert fn is not None and fn.free_tier is None  # the grant is the zero-priced first tier now
    assert fn.charge(500_000).cost_usd == pytest.approx(100_000 * 0.000017)
    dcu = reloaded.find("gcp", "us-central1", "Dataproc Serverless", "dcu-hours-standard")
    assert dcu is not None and dcu.tiers[0].usd == pytest.approx(0.065)
    assert (catalog_copy / "aws.yaml").read_text().startswith("# AWS list prices")  # header comments kept
    assert any("key=TESTKEY" in url for url in api.urls)  # the key travels as the API expects


def test_gcp_refresh_without_api_key_reports_errors(catalog_copy: Path) -> None:
    result = refresh(load_catalog(catalog_copy), ["gcp"], fetch=FakeApis(), api_key="")["gcp"]
    assert result.updated == [] and all(why == "GOOGLE_API_KEY is not set" for _, why in result.errors)


class _Response(io.BytesIO):
    def __enter__(self) -> _Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _opener(outcomes: list[Any]):  # type: ignore[no-untyped-def]
    calls: list[float] = []

    def opener(request: Any, timeout: float) -> _Response:
        calls.append(timeout)
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return _Response(json.dumps(outcome).encode())

    return opener, calls


def _http_error(code: int) -> urllib.error.HTTPError:
    return urllib.error.HTTPError("https://x", code, "err", {}, None)  # type: ignore[arg-type]


def test_http_client_retries_then_succeeds_with_timeout() -> None:
    opener, calls = _opener([_http_error(503), urllib.error.URLError("reset"), {"ok": True}])
    sleeps: list[float] = []
    client = HttpClient(timeout_s=7, retries=3, backoff_s=0.5, opener=opener, sleep=sleeps.append)
    assert client.get_json("https://prices.azure.com/api/retail/prices") == {"ok": True}
    assert calls == [7, 7, 7] and sleeps == [0.5, 1.0]


def test_http_client_gives_up_and_redacts_the_key() -> None:
    opener, calls = _opener([_http_error(500)] * 3)
    client = HttpClient(retries=3, opener=opener, sleep=lambda s: None)
    with pytest.raises(RefreshError, match="failed after 3 attempts") as info:
        client.get_json("https://cloudbilling.googleapis.com/v1/services?key=SECRET123")
    assert "SECRET123" not in str(info.value) and "key=REDACTED" in str(info.value)
    assert len(calls) == 3


def test_http_client_does_not_retry_client_errors_and_skips_dead_hosts() -> None:
    opener, calls = _opener([_http_error(404)])
    with pytest.raises(RefreshError, match="HTTP 404"):
        HttpClient(opener=opener, sleep=lambda s: None).get_json("https://a.example/x")
    assert len(calls) == 1
    opener, calls = _opener([urllib.error.URLError("dns")] * 2)
    client = HttpClient(retries=2, opener=opener, sleep=lambda s: None)
    with pytest.raises(RefreshError):
        client.get_json("https://b.example/one")
    with pytest.raises(RefreshError, match="unreachable earlier"):
        client.get_json("https://b.example/two")
    assert len(calls) == 2


def test_refresh_fills_a_wanted_meter(catalog_copy: Path) -> None:
    path = catalog_copy / "aws.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text + "  - {region: ap-south-1, service: AWSLambda, sku: duration-test, unit: GB-second,\n"
        '     refresh: {offer: AWSLambda, usage_type_suffix: "Lambda-GB-Second"}}\n',
        encoding="utf-8",
    )
    catalog = load_catalog(catalog_copy)
    assert "aws/ap-south-1/AWSLambda/duration-test" in catalog.wanted
    unrecorded = [
        k for k in catalog.wanted if k.startswith("aws/") and k != "aws/ap-south-1/AWSLambda/duration-test"
    ]
    assert unrecorded
    assert catalog.find("aws", "ap-south-1", "AWSLambda", "duration-test") is None  # not priced: "not found"
    results = refresh(catalog, ["aws"], fetch=FakeApis(), today="2026-11-30")
    assert "aws/ap-south-1/AWSLambda/duration-test" in results["aws"].updated
    save_catalog(catalog, ["aws"])
    reloaded = load_catalog(catalog_copy)
    entry = reloaded.find("aws", "ap-south-1", "AWSLambda", "duration-test")
    assert entry is not None and entry.free_tier is None and len(entry.tiers) == 3
    assert "aws/ap-south-1/AWSLambda/duration-test" not in reloaded.wanted
    assert all(k in reloaded.wanted for k in unrecorded)  # their offer files are not recorded

"""The Typer apps through CliRunner, on the fixture inventories."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import typer
from typer.testing import CliRunner

from tricloud.cost import cli
from tricloud.cost.report import load_schema

from .conftest import FIXTURES

app = typer.Typer()
app.add_typer(cli.cost_app, name="cost")
app.add_typer(cli.pricing_app, name="pricing")
runner = CliRunner()
INVENTORIES = [
    arg for c in ("aws", "azure", "gcp") for arg in ("--inventory", str(FIXTURES / f"inventory_{c}.json"))
]


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("fmt", ["table", "markdown", "html", "json", "csv"])
def test_every_format(fmt: str, tmp_path: Path) -> None:
    out = tmp_path / f"report.{fmt}"
    code, _, err = _run("cost", *INVENTORIES, "--region-set", "us", "--profile", "production", "--format", fmt,
                        "--out", str(out))  # fmt: skip
    assert code == 0, err
    text = out.read_text(encoding="utf-8")
    assert "aws" in text and "gcp" in text
    if fmt == "json":
        jsonschema.validate(json.loads(text), load_schema())


def test_default_table_to_stdout_and_inr_override() -> None:
    code, out, err = _run("cost", *INVENTORIES, "--inr-rate", "84", "--inr-rate-date", "2026-11-29")
    assert code == 0, err
    assert (
        "region set 'india'" in out
        and "aws (ap-south-1)" in out
        and "INR at 84.0 per USD (as of 2026-11-29)" in out
    )


def test_no_free_tier_costs_more() -> None:
    def total(*flags: str) -> float:
        code, out, err = _run(
            "cost", *INVENTORIES, "--clouds", "aws", "--region-set", "us", "--format", "json", *flags
        )
        assert code == 0, err
        return json.loads(out)["clouds"][0]["pricedMonthlyCost"]

    assert total("--no-free-tier") > total("--free-tier")


def test_missing_stack_is_reported_not_crashed() -> None:
    code, out, err = _run("cost", "--inventory", str(FIXTURES / "inventory_aws.json"), "--format", "json")
    assert code == 0, err
    clouds = {c["cloud"]: c for c in json.loads(out)["clouds"]}
    assert clouds["aws"]["status"] == "ok"
    assert (
        clouds["azure"]["status"] == "missing"
        and "no --inventory file given for azure" in clouds["azure"]["reason"]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--clouds", "aws,ibm"],
            "--clouds must be a comma-separated subset of aws,azure,gcp, got 'aws,ibm'",
        ),
        (["--region-set", "eu"], "--region-set must be one of india, us, got 'eu'"),
        (["--format", "pdf"], "--format must be one of table, markdown, html, json, csv, got 'pdf'"),
        (["--profile", "huge"], "profile 'huge': not a built-in profile"),
        (["--inr-rate", "0"], "--inr-rate must be > 0, got 0.0"),
        (
            ["--proxy-region", "azure"],
            "--proxy-region must be CLOUD=REGION with CLOUD one of aws, azure, gcp, got 'azure'",
        ),
        (["--proxy-region", "ibm=eastus"], "got 'ibm=eastus'"),
    ],
)
def test_bad_options_exit_2_with_the_value(args: list[str], message: str) -> None:
    code, _, err = _run("cost", *INVENTORIES, *args)
    assert code == 2 and message in err


def test_bad_profile_file_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: p\napi: {requests: 10}\n")
    code, _, err = _run("cost", *INVENTORIES, "--profile", str(path))
    assert code == 2 and "unknown key 'api.requests' (value 10)" in err


def test_proxy_region_prices_missing_meters_from_another_region() -> None:
    code, out, err = _run("cost", *INVENTORIES, "--format", "json", "--proxy-region", "azure=eastus")
    assert code == 0, err
    report = json.loads(out)
    azure = next(c for c in report["clouds"] if c["cloud"] == "azure")
    assert report["proxyRegions"] == {"azure": "eastus"} and azure["pricesProxied"] > 0
    assert any("price from eastus" in c["note"] for r in azure["resources"] for c in r["costComponents"])


def test_diff_against_a_saved_report(tmp_path: Path) -> None:
    base = tmp_path / "base.json"
    assert _run("cost", *INVENTORIES, "--profile", "learner", "--region-set", "us", "--format", "json",
                "--out", str(base))[0] == 0  # fmt: skip
    code, out, err = _run("cost", "diff", "--base", str(base), *INVENTORIES, "--profile", "production",
                          "--region-set", "us")  # fmt: skip
    assert code == 0, err
    assert out.startswith("### tricloud cost diff (profile 'production', region set 'us'")
    assert "| aws | `api-handler` (`aws:lambda/function:Function`) | changed | $0.00 | $" in out
    # 50M requests, the first 1M free: 49M x $0.20 per 1M = $9.80 (the learner's 10,000 were free).
    assert "| | └─ Lambda requests (50,000,000 request) | | $0.00 | $9.80 | +$9.80 |" in out
    code, out, _ = _run(
        "cost", "diff", "--base", str(base), "--head", str(base), "--format", "json", "--region-set", "us"
    )
    assert code == 0 and json.loads(out)["resources"] == []


def test_pricing_refresh_reports_errors_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[list[str]] = []

    def fake_refresh(catalog, clouds, **kwargs):  # type: ignore[no-untyped-def]
        from tricloud.cost.refresh import RefreshResult

        calls.append(clouds)
        return {
            c: RefreshResult(errors=[(f"{c}/x", "GET https://example: failed after 3 attempts")])
            for c in clouds
        }

    monkeypatch.setattr(cli, "refresh", fake_refresh)
    result = runner.invoke(app, ["pricing", "refresh", "--cloud", "aws", "--cloud", "azure"])
    assert result.exit_code == 1
    assert calls == [["aws", "azure"]]
    assert "aws: 0 updated, 0 skipped, 1 errors" in result.stdout
    assert "error aws/x: GET https://example: failed after 3 attempts" in result.stderr
    bad = runner.invoke(app, ["pricing", "refresh", "--cloud", "oracle"])
    assert bad.exit_code == 2 and "--cloud must be one of aws, azure, gcp, got 'oracle'" in bad.stderr

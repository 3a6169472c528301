"""`tricloud query aws` against a running emulated lake (the one the state file names), and its refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from query_support import Lake
from typer.testing import CliRunner

from tricloud.cli import app


@pytest.fixture()
def cli(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    # The command finds the lake through the stack's state file; point it at the fixture's.
    monkeypatch.setattr(
        "tricloud.engine.state.default_path", lambda root, cloud, stack: Path(lake.state_path)
    )
    return CliRunner()


def test_json_answer_from_the_running_lake(cli: CliRunner) -> None:
    res = cli.invoke(
        app,
        [
            "query",
            "aws",
            "--json",
            "SELECT city, max(price_inr) AS top FROM listings GROUP BY city ORDER BY city",
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["State"] == "SUCCEEDED"
    # Top prices by hand: Delhi 500, Mumbai 3000, Pune 200.
    assert doc["Rows"] == [
        {"city": "Delhi", "top": 500.0},
        {"city": "Mumbai", "top": 3000.0},
        {"city": "Pune", "top": 200.0},
    ]
    assert doc["Statistics"]["DataScannedInBytes"] > 0
    assert doc["OutputLocation"].endswith(f"/athena-results/{doc['QueryExecutionId']}.csv")


def test_a_refused_statement_is_one_red_line_and_exit_2(cli: CliRunner) -> None:
    res = cli.invoke(app, ["query", "aws", "DROP TABLE listings"])
    assert res.exit_code == 2
    assert "query FAILED: NOT_SUPPORTED: DROP statements are not run offline" in " ".join(res.stderr.split())


def test_other_clouds_point_to_their_services(cli: CliRunner) -> None:
    res = cli.invoke(app, ["query", "gcp", "SELECT 1"])
    assert res.exit_code == 2
    assert "offline SQL runs on the AWS emulation only" in " ".join(res.stderr.split())

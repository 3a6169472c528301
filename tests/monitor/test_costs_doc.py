"""docs/monitoring.md's monthly cost of monitoring comes from the cost report of the real stacks and cannot drift."""

from __future__ import annotations

import pytest

from tricloud.cost.catalogs import load_catalog
from tricloud.monitor import costs as mc


@pytest.fixture(scope="module")
def rows() -> dict[tuple[str, str], mc.MonitoringCost]:
    return {(m.cloud, m.profile): m for m in mc.costs(load_catalog())}


def test_the_doc_table_is_the_report(rows: dict[tuple[str, str], mc.MonitoringCost]) -> None:
    text = mc.DOC.read_text(encoding="utf-8")
    assert mc.render(text, mc.table(rows.values())) == text, (
        "docs/monitoring.md: the monitoring cost table is stale: run `python -m tricloud.monitor.costs`"
    )


def test_gcp_known_answer(rows: dict[tuple[str, str], mc.MonitoringCost]) -> None:
    # asia-south1: two alert policies (drift, fallback rate) of one condition at $1.50 a month each; the drift
    # topic's few messages fall inside Pub/Sub's free 10 GiB; Scheduler and Secret Manager prices are wanted.
    for profile in ("learner", "production"):
        m = rows[("gcp", profile)]
        assert m.priced_usd == pytest.approx(3.00)
        assert m.missing == (
            "observability-drift-schedule: scheduler job",
            "observability-github-token: secret version",
        )


def test_every_cloud_counts_its_capture_delivery_and_drift_alarm(
    rows: dict[tuple[str, str], mc.MonitoringCost],
) -> None:
    aws = rows[("aws", "learner")]
    # Firehose's ap-south-1 price and CloudWatch's alarm price are wanted: listed, never counted as $0.
    assert "api-capture: capture ingestion" in aws.missing
    assert "observability-drift: CloudWatch alarm metrics" in aws.missing
    assert "observability-drift: metric alert rule" in rows[("azure", "learner")].missing
    # what is not monitoring stays out: the endpoint's alarms, the platform's own alerts topic
    assert not any(m.startswith(("observability-endpoint", "observability-alerts")) for m in aws.missing)

"""Drift metrics to each cloud's monitoring service, under the names Observability's alarms and panels read.

- AWS: CloudWatch ``PutMetricData`` in namespace ``tricloud/monitoring`` (boto3; the job role may put only there).
- Azure: Azure Monitor custom metrics (``POST https://<region>.monitoring.azure.com/<resource id>/metrics``) on the
  Application Insights component, with the job identity's token (role Monitoring Metrics Publisher).
- GCP: Cloud Monitoring ``projects.timeSeries.create``, metric types ``custom.googleapis.com/tricloud/<name>``
  on the ``global`` resource, with the job service account's token (role monitoring.metricWriter).

Each publisher takes the job's points (``app.monitor.report.Point``) and sends them in batches of the service's
limit, with a bounded timeout; the request bodies are built by pure functions the tests check.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from app.monitor.report import METRIC_NAMESPACE, Point

TIMEOUT_S = 30
CLOUDWATCH_BATCH = 1000  # PutMetricData accepts up to 1,000 metrics per call
GCP_BATCH = 200  # timeSeries.create accepts up to 200 series per call
GCP_PREFIX = "custom.googleapis.com/tricloud/"


def cloudwatch_batches(points: Sequence[Point], when: dt.datetime) -> list[list[dict[str, Any]]]:
    data = [
        {
            "MetricName": p.name,
            "Value": float(p.value),
            "Unit": p.unit,
            "Timestamp": when,
            "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(p.dimensions.items())],
        }
        for p in points
    ]
    return [data[i : i + CLOUDWATCH_BATCH] for i in range(0, len(data), CLOUDWATCH_BATCH)]


def aws_publisher(client: Any | None = None) -> Callable[[list[Point]], None]:
    def publish(points: list[Point]) -> None:
        cw = client
        if cw is None:
            import boto3

            cw = boto3.client("cloudwatch")
        for batch in cloudwatch_batches(points, dt.datetime.now(dt.UTC)):
            cw.put_metric_data(Namespace=METRIC_NAMESPACE, MetricData=batch)

    return publish


def azure_bodies(points: Sequence[Point], when: dt.datetime) -> list[dict[str, Any]]:
    """One custom-metric document per point (Azure Monitor takes one metric per POST)."""
    stamp = when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = []
    for p in points:
        dims = sorted(p.dimensions.items())
        out.append(
            {
                "time": stamp,
                "data": {
                    "baseData": {
                        "metric": p.name,
                        "namespace": METRIC_NAMESPACE,
                        "dimNames": [k for k, _ in dims],
                        "series": [
                            {
                                "dimValues": [v for _, v in dims],
                                "min": p.value,
                                "max": p.value,
                                "sum": p.value,
                                "count": 1,
                            }
                        ],
                    }
                },
            }
        )
    return out


def azure_publisher(
    region: str, resource_id: str, token: Callable[[], str] | None = None
) -> Callable[[list[Point]], None]:
    url = f"https://{region}.monitoring.azure.com{resource_id}/metrics"

    def bearer() -> str:
        if token is not None:
            return token()
        from azure.identity import DefaultAzureCredential

        return str(DefaultAzureCredential().get_token("https://monitoring.azure.com/.default").token)

    def publish(points: list[Point]) -> None:
        auth = bearer()
        for body in azure_bodies(points, dt.datetime.now(dt.UTC)):
            _post(url, body, {"Authorization": f"Bearer {auth}"})

    return publish


def gcp_bodies(points: Sequence[Point], project: str, when: dt.datetime) -> list[dict[str, Any]]:
    stamp = when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    series = [
        {
            "metric": {
                "type": GCP_PREFIX + p.name,
                "labels": {k.lower(): v for k, v in p.dimensions.items()},
            },
            "resource": {"type": "global", "labels": {"project_id": project}},
            "points": [{"interval": {"endTime": stamp}, "value": {"doubleValue": float(p.value)}}],
        }
        for p in points
    ]
    return [{"timeSeries": series[i : i + GCP_BATCH]} for i in range(0, len(series), GCP_BATCH)]


def gcp_publisher(project: str, token: Callable[[], str] | None = None) -> Callable[[list[Point]], None]:
    url = f"https://monitoring.googleapis.com/v3/projects/{project}/timeSeries"

    def bearer() -> str:
        if token is not None:
            return token()
        import google.auth
        import google.auth.transport.requests

        creds, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/monitoring.write"])
        creds.refresh(google.auth.transport.requests.Request())
        return str(creds.token)

    def publish(points: list[Point]) -> None:
        auth = bearer()
        for body in gcp_bodies(points, project, dt.datetime.now(dt.UTC)):
            _post(url, body, {"Authorization": f"Bearer {auth}"})

    return publish


def _post(url: str, body: dict[str, Any], headers: dict[str, str]) -> None:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **headers},
    )
    with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
        resp.read()

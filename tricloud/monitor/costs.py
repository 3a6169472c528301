"""What monitoring adds to the monthly bill, per cloud and profile, read from the cost report (never typed by hand).

`python -m tricloud.monitor.costs` rewrites the table between the `<!-- monitoring-cost:start -->` /
`<!-- monitoring-cost:end -->` markers of docs/monitoring.md (`--check` only compares and exits 1 when stale;
tests/monitor/test_costs_doc.py fails on a stale table). The monitoring resources are those the monitoring code
creates: the capture delivery of the API and everything `watch_model` adds to Observability, picked by the role in
their names (drift, fallback-rate, monitor-stale, capture, dispatch, github).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tricloud.cost.catalogs import Catalog, load_catalog
from tricloud.cost.estimator import CLOUDS, InventoryLoader, default_loader, estimate_clouds
from tricloud.cost.model import CloudEstimate, ResourceCost
from tricloud.cost.profile import load_profile

DOC = Path(__file__).resolve().parents[2] / "docs" / "monitoring.md"
START, END = "<!-- monitoring-cost:start -->\n", "<!-- monitoring-cost:end -->"
PROFILES = ("learner", "production")
REGION_SET = "india"
ROLES = ("drift", "fallback-rate", "monitor-stale", "capture", "dispatch", "github")
CONCEPTS = (
    "Observability",
    "ApiFrontend",
)  # the endpoint's own (SageMaker/Azure ML) capture is not this loop's


def is_monitoring(r: ResourceCost) -> bool:
    return r.concept in CONCEPTS and any(role in r.name for role in ROLES)


@dataclass(frozen=True)
class MonitoringCost:
    cloud: str
    profile: str
    priced_usd: float  # what the priced components add up to
    missing: tuple[str, ...]  # "<resource>: <component>" whose price the catalog does not have
    resources: int  # monitoring resources (free ones included)


def monitoring_cost(estimate: CloudEstimate, profile: str) -> MonitoringCost:
    rows = [r for r in estimate.resources if is_monitoring(r)]
    comps = [(r.name, c) for r in rows for c in r.components]
    priced = sum(c.monthly_cost_usd for _, c in comps if c.monthly_cost_usd is not None)
    missing = tuple(sorted(f"{n}: {c.name}" for n, c in comps if c.monthly_cost_usd is None))
    return MonitoringCost(estimate.cloud, profile, priced, missing, len(rows))


def costs(catalog: Catalog, loader: InventoryLoader = default_loader) -> list[MonitoringCost]:
    out = []
    for name in PROFILES:
        for est in estimate_clouds(CLOUDS, REGION_SET, catalog, load_profile(name), loader=loader):
            out.append(monitoring_cost(est, name))
    return out


def table(rows: Iterable[MonitoringCost]) -> str:
    lines = [
        "| cloud | profile | monitoring resources | priced part (USD/month) | prices the catalog lacks |",
        "|---|---|---|---|---|",
    ]
    for m in rows:
        figure = f"{m.priced_usd:.2f}" if not m.missing else f"at least {m.priced_usd:.2f}"
        lacks = "; ".join(m.missing) or "none"
        lines.append(f"| {m.cloud} | {m.profile} | {m.resources} | {figure} | {lacks} |")
    return "\n".join(lines) + "\n"


def render(text: str, generated: str) -> str:
    i, j = text.index(START) + len(START), text.index(END)
    return text[:i] + generated + text[j:]


def main(argv: list[str]) -> int:
    text = DOC.read_text(encoding="utf-8")
    new = render(text, table(costs(load_catalog())))
    if "--check" in argv:
        if new != text:
            print(f"{DOC.name}: the monitoring cost table is stale: run `python -m tricloud.monitor.costs`")
            return 1
        return 0
    if new != text:
        DOC.write_text(new, encoding="utf-8")
        print(f"updated {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The scheduled drift job, the same code on every cloud: read a capture window from the lake, pick the reference
profile of the model that served it, judge drift (``app.monitor.drift``), check ground truth when there is some,
write ``summary.json`` and ``report.html`` to the lake and publish the numbers to the cloud's monitoring service.

Capture layouts (the key's date narrows the listing; each record's ``ts`` decides): Firehose
``capture/dt=YYYY-MM-DD/hour=HH/...``, Azure diagnostic settings ``.../y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json``,
Cloud Logging sinks ``<log>/YYYY/MM/DD/HH:00:00_HH:59:59_S0.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.monitor import performance
from app.monitor.capture import records_from_bytes, window_from_records
from app.monitor.drift import Thresholds, compare
from app.monitor.profile import Profile, SchemaMismatch, profile_from_dict
from app.monitor.report import metric_points, render_html, summarize
from app.monitor.storage import StorageError, join, store_for

_KEY_DATES = (
    re.compile(r"dt=(\d{4})-(\d{2})-(\d{2})(?:/hour=(\d{2}))?"),
    re.compile(r"y=(\d{4})/m=(\d{2})/d=(\d{2})(?:/h=(\d{2}))?"),
    re.compile(r"/(\d{4})/(\d{2})/(\d{2})/(\d{2})?"),
)
MAX_CAPTURE_BYTES = 2 * 1024**3  # a window larger than this belongs on Spark executors, not one driver


class JobError(Exception):
    """The job cannot judge this window (no reference for the serving model, unreadable lake): names what to do."""


@dataclass
class JobArgs:
    capture: str  # capture root (a prefix URI or a local folder/file)
    reference: str  # reference.json, or a prefix holding <model version>.json per model
    output: str  # where runs/<run id>/summary.json and report.html go
    window_hours: float = 24.0
    end: dt.datetime | None = None  # default: now
    ground_truth: str | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    max_mape_increase: float = 0.25
    publish: Callable[[list[Any]], None] | None = None  # metric points -> the monitoring service
    dimensions: dict[str, str] = field(default_factory=dict)


def parse_time(value: str) -> dt.datetime:
    text = value.strip().replace("Z", "+00:00")
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {value!r}") from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _key_hour(uri: str) -> dt.datetime | None:
    for pattern in _KEY_DATES:
        m = pattern.search(uri)
        if m:
            y, mo, d, h = m.groups()
            return dt.datetime(int(y), int(mo), int(d), int(h or 0), tzinfo=dt.UTC)
    return None


def read_window(capture: str, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    """Capture records with start <= ts < end, from every object whose key date could hold them."""
    store = store_for(capture)
    objs = store.list(capture)
    wanted = []
    for o in objs:
        hour = _key_hour(o.uri)
        # Delivery lags (Firehose buffers up to 15 min, log sinks write hourly): an hour of slack either side.
        if hour is None or start - dt.timedelta(hours=2) <= hour <= end + dt.timedelta(hours=1):
            wanted.append(o)
    if sum(o.size for o in wanted) > MAX_CAPTURE_BYTES:
        raise JobError(f"{sum(o.size for o in wanted)} bytes of capture under {capture}: shorten the window")
    records = []
    for o in wanted:
        for r in records_from_bytes(store.read(o.uri)):
            ts = r.get("ts")
            try:
                t = parse_time(str(ts)) if ts else None
            except ValueError:
                t = None
            if t is not None and start <= t < end:
                records.append(r)
    return records


def pick_reference(reference: str, records: list[dict[str, Any]]) -> Profile:
    """The profile itself, or `<prefix>/<model version>.json` of the version that answered most of the window."""
    store = store_for(reference)
    if reference.endswith(".json"):
        uri = reference
    else:
        served = Counter(str(r.get("model_version")) for r in records if not r.get("fallback"))
        if not served:
            raise JobError(f"no model answer in the window to pick a reference under {reference}")
        label = served.most_common(1)[0][0]
        uri = join(reference, f"{label}.json")
    try:
        doc = json.loads(store.read(uri))
    except StorageError:
        raise JobError(
            f"no reference profile at {uri}: publish it with `tricloud monitor reference` (it is in the model "
            "artifact as reference.json)"
        ) from None
    except json.JSONDecodeError as exc:
        raise JobError(f"reference {uri} is not JSON: {exc}") from None
    return profile_from_dict(doc, uri)


def read_ground_truth(prefix: str) -> dict[tuple[str, int], float]:
    store = store_for(prefix)
    truth: dict[tuple[str, int], float] = {}
    for o in store.list(prefix):
        truth.update(performance.ground_truth_from_bytes(store.read(o.uri), o.uri))
    return truth


def run(args: JobArgs) -> dict[str, Any]:
    """One run; returns the summary (also written to the lake with the HTML report)."""
    end = args.end or dt.datetime.now(dt.UTC)
    start = end - dt.timedelta(hours=args.window_hours)
    records = read_window(args.capture, start, end)
    profile = pick_reference(args.reference, records) if records else None
    if profile is None:
        summary = _empty_summary(start, end, args)
    else:
        kinds = {k: f.kind for k, f in profile.features.items()}
        try:
            window = window_from_records(records, kinds)
        except SchemaMismatch as exc:
            raise JobError(f"the capture does not match the reference: {exc}") from None
        result = compare(profile, window, args.thresholds)
        perf = None
        if args.ground_truth:
            truth = read_ground_truth(args.ground_truth)
            perf = performance.check(window, truth, profile.metrics, max_mape_increase=args.max_mape_increase)
        summary = summarize(profile, window, result, performance=perf, window_start=_iso(start),
                            window_end=_iso(end), source=args.capture)  # fmt: skip
        html_doc = render_html(profile, window, summary)
    run_id = end.strftime("%Y%m%dT%H%M%SZ")
    base = join(args.output, "runs", run_id)
    summary["outputs"] = {"summary": join(base, "summary.json"), "report": join(base, "report.html")}
    out = store_for(args.output)
    body = json.dumps(summary, indent=2, sort_keys=True, default=str).encode()
    out.write(summary["outputs"]["summary"], body, "application/json")
    out.write(join(args.output, "latest.json"), body, "application/json")
    if profile is not None:
        out.write(summary["outputs"]["report"], html_doc.encode(), "text/html; charset=utf-8")
    if args.publish is not None:
        args.publish(metric_points(summary, args.dimensions))
    return summary


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _empty_summary(start: dt.datetime, end: dt.datetime, args: JobArgs) -> dict[str, Any]:
    """No capture at all in the window: volume 0 is published (the low-volume alarm watches it)."""
    from dataclasses import asdict

    return {
        "format": "tricloud.drift/1",
        "status": "insufficient_data",
        "alarm": False,
        "rows": 0,
        "window": {"start": _iso(start), "end": _iso(end), "rows": 0, "requests": 0, "model_versions": {}},
        "drifted_features": [],
        "drift_share": 0.0,
        "features": [],
        "prediction": None,
        "fallback_rate": 0.0,
        "thresholds": asdict(args.thresholds),
        "performance": None,
        "source": args.capture,
    }

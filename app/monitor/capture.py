"""Reading captured predictions back, whatever carried them to the lake.

The API handler writes one JSON line per captured row on the ``tricloud.capture`` logger
(``app.frontend.capture``); each cloud's log pipeline wraps that line on its way to the lake:

- AWS: Lambda's JSON log format (``{"timestamp", "level", "message": "<line>", "logger", "requestId"}``), shipped by
  a subscription filter to Firehose, which decompresses the CloudWatch Logs envelope and extracts the message
  (without those processors, Firehose delivers the gzipped ``{"messageType": "DATA_MESSAGE", "logEvents": [...]}``
  envelopes themselves, concatenated: read too);
- Azure: the Function App's ``FunctionAppLogs`` diagnostic records (``{"time", "category", "properties":
  {"message": "<line>", ...}}``);
- GCP: Cloud Logging entries routed by a sink (``{"jsonPayload": {"message": "<line>", "logger", ...}, ...}``);
- Lambda's text format (``[INFO]\\t<time>\\t<request id>\\t<line>``) and bare lines (files a user exports).

``records_from_bytes`` returns the capture records found; every other line (audit lines, host logs) is skipped.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from app.monitor.profile import NUMERIC, PREDICTION, Window, window_from_columns

CAPTURE_EVENT = "capture"
_decoder = json.JSONDecoder()


def records_from_bytes(data: bytes) -> list[dict[str, Any]]:
    """Every capture record in one object of the lake (any of the envelopes above, gzip or not)."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)  # concatenated gzip members decompress as one stream
    text = data.decode("utf-8", errors="replace")
    return list(_records(_documents(text)))


def _documents(text: str) -> Iterator[Any]:
    """JSON documents one after another: one per line, or concatenated without separators (Firehose)."""
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("[") and "\t" in line and not line.startswith("[{"):
            yield line.split("\t", 3)[-1]  # Lambda's text format: the message is the last field
            continue
        pos = 0
        while pos < len(line):
            try:
                doc, end = _decoder.raw_decode(line, pos)
            except json.JSONDecodeError:
                break
            yield doc
            pos = end
            while pos < len(line) and line[pos] in " \t,":
                pos += 1


def _records(docs: Iterable[Any]) -> Iterator[dict[str, Any]]:
    for doc in docs:
        yield from _unwrap(doc, depth=0)


def _unwrap(doc: Any, depth: int) -> Iterator[dict[str, Any]]:
    if depth > 4:
        return
    if isinstance(doc, str):
        s = doc.strip()
        if s.startswith("{"):
            try:
                yield from _unwrap(json.loads(s), depth + 1)
            except json.JSONDecodeError:
                return
        elif s.startswith("H4sI"):  # a base64 gzip CloudWatch Logs record (the raw subscription payload)
            try:
                yield from records_from_bytes(base64.b64decode(s))
            except (ValueError, OSError):
                return
        return
    if isinstance(doc, list):
        for item in doc:
            yield from _unwrap(item, depth + 1)
        return
    if not isinstance(doc, Mapping):
        return
    if doc.get("event") == CAPTURE_EVENT and "request_id" in doc:
        yield dict(doc)
        return
    if doc.get("messageType") == "DATA_MESSAGE":
        for event in doc.get("logEvents") or []:
            yield from _unwrap(event.get("message"), depth + 1)
        return
    for key in ("jsonPayload", "properties", "records"):
        if key in doc:
            yield from _unwrap(doc[key], depth + 1)
            return
    if "message" in doc:
        yield from _unwrap(doc["message"], depth + 1)


def window_from_records(records: list[Mapping[str, Any]], kinds: Mapping[str, str]) -> Window:
    """The capture records as a Window of the reference's columns; a request seen twice (a retried delivery)
    counts once (request id and row)."""
    seen: set[tuple[str, int]] = set()
    unique = []
    for r in records:
        key = (str(r.get("request_id")), int(r.get("row") or 0))
        if key in seen:
            continue
        seen.add(key)
        unique.append(r)
    names = [*kinds, PREDICTION]
    columns = {n: [r.get(n) for r in unique] for n in names}
    window = window_from_columns(columns, {**kinds, PREDICTION: NUMERIC}, where="the capture records")
    window.model_versions = [str(r.get("model_version") or "unknown") for r in unique]
    window.fallback = np.asarray([bool(r.get("fallback")) for r in unique], dtype=bool)
    window.latency_ms = np.asarray([float(r.get("latency_ms") or 0.0) for r in unique], dtype=float)
    window.request_ids = [str(r.get("request_id")) for r in unique]
    window.row_index = [int(r.get("row") or 0) for r in unique]
    window.times = [str(r.get("ts") or "") for r in unique]
    return window

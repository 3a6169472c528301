"""Capture: what the handler writes, that it never fails a request, and that every cloud's envelope reads back."""

from __future__ import annotations

import base64
import gzip
import json
import logging

import pytest

from app.frontend import capture, core
from app.monitor.capture import records_from_bytes, window_from_records
from app.monitor.profile import request_kinds

LISTING = {
    "city": "Pune", "locality_tier": 2, "area_sqft": 1050, "bedrooms": 2, "bathrooms": 2, "age_years": 6,
    "floor": 4, "parking": 1, "furnishing": "semi-furnished", "distance_to_metro_km": 1.8,
}  # fmt: skip
BODY = json.dumps({"instances": [LISTING, {**LISTING, "city": "Delhi"}]})


def ok_call(rows):
    return [1234567.0 + i for i in range(len(rows))], "m-7"


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch):
    handler = Collect()
    log = logging.getLogger(capture.CAPTURE_LOGGER)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    monkeypatch.setenv("CAPTURE_PERCENT", "100")
    yield handler
    log.removeHandler(handler)


def predict(call=ok_call, rid: str = "req-1") -> core.ApiResult:
    return core.predict_request(
        BODY, "application/json", call, core.EndpointSettings(), request_id=rid, cloud="aws"
    )


def test_an_answered_request_writes_one_line_per_row(captured: Collect) -> None:
    result = predict()
    assert result.status == 200
    docs = [json.loads(line) for line in captured.lines]
    assert [d["row"] for d in docs] == [0, 1] and {d["request_id"] for d in docs} == {"req-1"}
    assert docs[1]["city"] == "Delhi" and docs[1]["prediction"] == 1234568.0
    assert (
        docs[0]["model_version"] == "m-7" and docs[0]["fallback"] is False and docs[0]["event"] == "capture"
    )


def test_a_fallback_answer_is_captured_with_its_flag(captured: Collect) -> None:
    def broken(rows):
        raise core.EndpointError("timeout")

    assert predict(broken).body["fallback"] is True
    docs = [json.loads(line) for line in captured.lines]
    assert docs and all(d["fallback"] and d["model_version"] == core.FALLBACK_VERSION for d in docs)


def test_an_invalid_request_is_not_captured(captured: Collect) -> None:
    bad = core.predict_request('{"instances": [{"city": "Atlantis"}]}', "application/json", ok_call,
                               core.EndpointSettings(), request_id="r", cloud="aws")  # fmt: skip
    assert bad.status == 400 and captured.lines == []


def test_capture_never_fails_a_request(captured: Collect, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injected: the capture step raises; the caller still gets its 200 and its predictions."""

    def boom(*args, **kwargs):
        raise OSError("log pipe closed")

    monkeypatch.setattr(capture, "capture", boom)
    result = predict()
    assert result.status == 200 and result.body["predictions"] == [1234567.0, 1234568.0]


def test_a_broken_capture_handler_never_fails_a_request(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            raise RuntimeError("disk full")

        def handleError(
            self, record: logging.LogRecord
        ) -> None:  # logging's own guard off: the fault escapes
            raise RuntimeError("disk full")

    log = logging.getLogger(capture.CAPTURE_LOGGER)
    handler = Broken()
    log.addHandler(handler)
    monkeypatch.setenv("CAPTURE_PERCENT", "100")
    try:
        assert predict().status == 200
    finally:
        log.removeHandler(handler)


def test_sampling_is_decided_by_the_request_id(captured: Collect, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPTURE_PERCENT", "30")
    chosen = [rid for rid in (f"r{i}" for i in range(2000)) if capture.sampled(rid, 30)]
    assert 0.26 < len(chosen) / 2000 < 0.34
    assert [capture.sampled(r, 30) for r in chosen[:20]] == [True] * 20  # the same id, the same decision
    assert capture.sampled("x", 0) is False and capture.sampled("x", 100) is True


@pytest.mark.parametrize("raw", ["abc", "150", "-1", "nan"])
def test_a_bad_share_captures_nothing(raw: str) -> None:
    assert capture.capture_percent({"CAPTURE_PERCENT": raw}) == 0.0


# --- reading back every cloud's envelope -----------------------------------------------------------------------


def lines() -> list[str]:
    return capture.capture_lines(
        "req-9", "aws", [LISTING, LISTING], [1.0e6, 2.0e6], "m-1", False, 12.3, now=0
    )


def test_bare_lines_and_lambda_formats() -> None:
    bare = "\n".join(lines()).encode()
    lam_json = "\n".join(
        json.dumps({"timestamp": "t", "level": "INFO", "message": m, "logger": "tricloud.capture"})
        for m in lines()
    ).encode()
    lam_text = "\n".join(f"[INFO]\t1970-01-01T00:00:00.000Z\treq-9\t{m}" for m in lines()).encode()
    for data in (bare, lam_json, lam_text, gzip.compress(lam_json)):
        recs = records_from_bytes(data)
        assert [(r["request_id"], r["row"], r["prediction"]) for r in recs] == [
            ("req-9", 0, 1e6),
            ("req-9", 1, 2e6),
        ]


def test_concatenated_cloudwatch_envelopes_as_firehose_writes_them() -> None:
    def envelope(msgs: list[str]) -> bytes:
        doc = {
            "messageType": "DATA_MESSAGE",
            "logEvents": [{"id": "1", "timestamp": 0, "message": m} for m in msgs],
        }
        return gzip.compress(json.dumps(doc).encode())

    audit = json.dumps({"event": "prediction", "request_id": "x"})  # other lines of the log group are skipped
    data = envelope([lines()[0], audit]) + envelope([lines()[1]])
    assert [r["row"] for r in records_from_bytes(data)] == [0, 1]
    b64 = base64.b64encode(
        envelope(lines())
    ).decode()  # the raw subscription payload, base64 in a JSON record
    assert len(records_from_bytes(json.dumps({"data": b64, "message": b64}).encode())) == 2


def test_azure_function_app_logs_and_gcp_log_entries() -> None:
    azure = "\n".join(json.dumps({"time": "t", "category": "FunctionAppLogs", "properties": {
        "message": m, "category": "Function.predict.User", "level": "Information"}}) for m in lines())  # fmt: skip
    gcp = "\n".join(json.dumps({"insertId": "i", "jsonPayload": {"message": m, "logger": "tricloud.capture"},
                                "resource": {"type": "cloud_run_revision"}}) for m in lines())  # fmt: skip
    for data in (azure, gcp):
        assert [r["row"] for r in records_from_bytes(data.encode())] == [0, 1]


def test_a_redelivered_record_counts_once() -> None:
    recs = records_from_bytes(("\n".join(lines() + lines())).encode())
    window = window_from_records(recs, request_kinds())
    assert window.rows == 2 and window.request_ids == ["req-9", "req-9"]

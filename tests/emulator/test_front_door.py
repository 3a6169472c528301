"""The local front doors under hostile clients (issue 13, items 3 and 4): every answer is a JSON 4xx/5xx from the
right family within the deadline, never a reset or a hang; Lambda runs up to its reserved concurrency and throttles
beyond; the function timeout counts from the invocation. Seconds each, no moto."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
import zipfile
from pathlib import Path

import pytest

from tricloud.emulate.gateway import FunctionSpec, LambdaRuntime
from tricloud.emulate.loopback import Limits, LoopbackServer

pytestmark = pytest.mark.emulator


@pytest.fixture()
def server():
    srv = LoopbackServer(
        lambda m, p, h, b, c: (200, {"content-type": "application/json"}, json.dumps({"n": len(b)}).encode()),
        max_body_bytes=1000,
        limits=Limits(1000, idle_timeout_s=1.0, request_timeout_s=1.5),
    )
    yield srv
    srv.close()


def exchange(port: int, data: bytes, *, wait: float = 5.0) -> tuple[int, dict[str, str], dict]:
    """Send raw bytes, read one whole response (status, headers, JSON body); a reset or a hang fails the test."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        s.sendall(data)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            assert chunk, f"connection closed without an answer: {buf!r}"
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        length = int(headers["content-length"])
        while len(rest) < length:
            chunk = s.recv(65536)
            assert chunk, "connection closed in the middle of the body"
            rest += chunk
    return int(lines[0].split()[1]), headers, json.loads(rest[:length])


HOSTILE = [
    ("content-length not a number", b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\nhi", 400),
    ("negative content-length", b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\nhi", 400),
    ("garbage request line", b"HELLO\r\n\r\n", 400),
    (
        "body over the limit",
        b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000,
        413,
    ),
    (
        "chunked body over the limit",
        b"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n7D0\r\n"
        + b"x" * 2000
        + b"\r\n0\r\n\r\n",
        413,
    ),
    (
        "headers over 10240 bytes",
        b"GET /p HTTP/1.1\r\nHost: a\r\n"
        + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(120))
        + b"\r\n",
        431,
    ),
]


@pytest.mark.parametrize(("name", "data", "status"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_requests_get_json_errors(server, name: str, data: bytes, status: int) -> None:
    got, headers, body = exchange(server.port, data)
    assert (got, body) == (status, {"message": body["message"]}) and body["message"], name
    assert headers["content-type"] == "application/json" and "server" not in headers


def test_slow_body_gets_408_and_idle_connection_is_closed(server) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc")  # 97 bytes never come
        answer = s.recv(65536)
    assert answer.startswith(b"HTTP/1.1 408") and b'"message"' in answer
    assert time.monotonic() - started < 4
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        t0 = time.monotonic()
        assert s.recv(1) == b""  # closed by the server after the idle timeout, not held forever
        assert time.monotonic() - t0 < 4


def test_many_connections_at_once_are_accepted(server) -> None:
    socks = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(200)]
    try:
        for s in socks[:20]:
            s.sendall(b"GET /p HTTP/1.1\r\nHost: a\r\n\r\n")
        assert all(s.recv(12).startswith(b"HTTP/1.1 200") for s in socks[:20])
    finally:
        for s in socks:
            s.close()


SLOW = """
import time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"statusCode": 200, "body": "ok", "remaining": context.get_remaining_time_in_millis()}
"""


def _function(tmp_path: Path, timeout_s: float, concurrency: int) -> FunctionSpec:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("fn.py", SLOW)
    (tmp_path / "code.zip").write_bytes(buf.getvalue())
    return FunctionSpec(
        "slow",
        "arn:aws:lambda:ap-south-1:123456789012:function:slow",
        "fn.handler",
        timeout_s,
        128,
        {},
        tmp_path / "code.zip",
        "/aws/lambda/slow",
        reserved_concurrency=concurrency,
    )


def test_concurrent_invocations_up_to_the_reserved_concurrency_then_throttled(tmp_path: Path) -> None:
    rt = LambdaRuntime(_function(tmp_path, 5, 2), {}, tmp_path, concurrency=2)
    try:
        rt.warm()
        results: list[tuple[str, float]] = []
        started = time.monotonic()

        def call(i: int) -> None:
            kind, _ = rt.invoke({"sleep": 1.5}, f"r{i}", 5)
            results.append((kind, time.monotonic() - started))

        threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        kinds = sorted(k for k, _ in results)
        assert kinds == ["ok", "ok", "throttled", "throttled"], results
        ok_times = [t for k, t in results if k == "ok"]
        assert max(ok_times) < 2 * 1.5, (
            f"two invocations must run side by side, not one after the other: {results}"
        )
    finally:
        rt.stop()


def test_timeout_counts_from_the_invocation_and_the_log_file_has_report_lines(tmp_path: Path) -> None:
    rt = LambdaRuntime(_function(tmp_path, 1, 1), {}, tmp_path, concurrency=1)
    try:
        kind, out = rt.invoke({"sleep": 0}, "first", 1)
        assert kind == "ok" and 0 < out["remaining"] <= 1000
        t0 = time.monotonic()
        assert rt.invoke({"sleep": 3}, "slow", 1) == ("timeout", None)
        assert time.monotonic() - t0 < 2.5
    finally:
        rt.stop()
    log = rt.sink.path.read_text()
    assert "START RequestId: first" in log and "REPORT RequestId: first" in log and "Task timed out" in log

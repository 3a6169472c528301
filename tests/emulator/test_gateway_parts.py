"""The gateway's parts on their own: Lambda worker timeouts, SigV4 verification, CLI errors (seconds, no moto)."""

from __future__ import annotations

import datetime as dt
import io
import socket
import zipfile
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from typer.testing import CliRunner

from tricloud.emulate import sigv4
from tricloud.emulate.gateway import FunctionSpec, LambdaRuntime

pytestmark = pytest.mark.emulator

SLOW = """
import os, time
IMPORTED_AT = time.time()

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"statusCode": 200, "body": str(IMPORTED_AT), "remaining": context.get_remaining_time_in_millis(),
            "env": os.environ.get("ENDPOINT_NAME")}
"""


def _function(tmp_path: Path, timeout_s: float) -> FunctionSpec:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("fn/__init__.py", "")
        zf.writestr("fn/slow.py", SLOW)
    code = tmp_path / "code.zip"
    code.write_bytes(buf.getvalue())
    return FunctionSpec(
        "slow",
        "arn:aws:lambda:ap-south-1:123456789012:function:slow",
        "fn.slow.handler",
        timeout_s,
        128,
        {"ENDPOINT_NAME": "ep"},
        code,
        "/aws/lambda/slow",
    )


def test_timeout_kills_the_worker_and_the_next_call_is_a_cold_start(tmp_path: Path) -> None:
    rt = LambdaRuntime(_function(tmp_path, 3), {}, tmp_path)
    try:
        kind, first = rt.invoke({"sleep": 0}, "r1", 3)
        assert kind == "ok" and first["env"] == "ep" and 0 < first["remaining"] <= 3000
        kind, warm = rt.invoke({"sleep": 0}, "r2", 3)
        assert warm["body"] == first["body"]  # same process: the handler module was imported once
        assert rt.invoke({"sleep": 5}, "r3", 0.5) == ("timeout", None)
        assert rt.idle == []  # the timed-out environment was discarded
        kind, cold = rt.invoke({"sleep": 0}, "r4", 3)
        assert kind == "ok" and cold["body"] != first["body"] and rt.cold_starts == 2
    finally:
        rt.stop()


def _signed(when: dt.datetime, body: bytes = b"{}") -> AWSRequest:
    req = AWSRequest(
        method="POST",
        url="http://127.0.0.1:9/predict",
        data=body,
        headers={"content-type": "application/json"},
    )
    auth = SigV4Auth(Credentials("123456789012", "secret"), "execute-api", "ap-south-1")
    req.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
    req.headers["X-Amz-Date"] = req.context["timestamp"]
    canonical = auth.canonical_request(req)
    sig = auth.signature(auth.string_to_sign(req, canonical), req)
    scope = f"123456789012/{when:%Y%m%d}/ap-south-1/execute-api/aws4_request"
    req.headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders={auth.signed_headers(auth.headers_to_sign(req))}, Signature={sig}"
    )
    return req


def test_sigv4_accepts_fresh_and_refuses_stale_or_unknown_key() -> None:
    now = dt.datetime.now(dt.UTC)
    ok = _signed(now)
    keys = {"123456789012": "secret"}
    headers = {**dict(ok.headers.items()), "host": "127.0.0.1:9"}
    assert (
        sigv4.verify("POST", ok.url, headers, b"{}", keys=keys, region="ap-south-1").access_key
        == "123456789012"
    )
    stale = _signed(now - dt.timedelta(minutes=10))
    with pytest.raises(sigv4.SignatureError, match="expired"):
        sigv4.verify(
            "POST",
            stale.url,
            {**dict(stale.headers.items()), "host": "127.0.0.1:9"},
            b"{}",
            keys=keys,
            region="ap-south-1",
        )
    with pytest.raises(sigv4.SignatureError, match="security token"):
        sigv4.verify("POST", ok.url, headers, b"{}", keys={"other": "x"}, region="ap-south-1")
    with pytest.raises(sigv4.SignatureError, match="does not match"):
        sigv4.verify("POST", ok.url, headers, b'{"x": 1}', keys=keys, region="ap-south-1")


def test_cli_names_a_busy_port() -> None:
    from tricloud.emulate.cli import emulate_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = CliRunner().invoke(emulate_app, ["aws", "--port", str(port)])
    assert result.exit_code == 2
    assert f"port {port} on 127.0.0.1 is already in use" in result.output


def test_log_shipping_survives_an_authorizer_that_cannot_read_the_role(tmp_path: Path) -> None:
    """The role's policies cannot be read (moto reset under a live platform): the lines stay in the file, one
    warning says why, and closing the sink does not raise (it runs in the platform's teardown)."""
    from tricloud.emulate.gateway import LogSink

    def unreadable(action: str, resource: str) -> None:
        raise RuntimeError("InvalidClientTokenId")

    sink = LogSink(_function(tmp_path, 1.0), logs=object(), folder=tmp_path / "logs", authorize=unreadable)
    sink.write("s1", "first line")
    sink.write("s1", "second line")
    sink.close()
    text = sink.path.read_text()
    assert text.splitlines()[:2] == ["first line", "second line"]
    assert (
        text.count("[tricloud] cannot authorize log shipping to /aws/lambda/slow: InvalidClientTokenId") == 1
    )


def test_log_lines_stamped_out_of_order_are_shipped_sorted_not_lost(tmp_path: Path) -> None:
    """Two threads of a worker stamp lines before taking the sink's lock: CloudWatch would refuse the whole batch
    (PutLogEvents needs time order), losing every capture line in it; the sink ships them sorted."""
    from tricloud.emulate.gateway import LogSink

    class Logs:
        class exceptions:
            ResourceAlreadyExistsException = KeyError

        def __init__(self) -> None:
            self.batches: list[list[int]] = []

        def create_log_stream(self, **_: str) -> None:
            pass

        def put_log_events(self, logEvents: list[dict[str, object]], **_: str) -> None:
            stamps = [int(e["timestamp"]) for e in logEvents]  # type: ignore[call-overload]
            if stamps != sorted(stamps):
                raise ValueError(
                    "Log events in a single PutLogEvents request must be in chronological order."
                )
            self.batches.append(stamps)

    logs = Logs()
    sink = LogSink(_function(tmp_path, 1.0), logs=logs, folder=tmp_path / "logs")
    sink.write("s1", "later")
    sink.write("s1", "earlier")
    sink.batches["s1"][0]["timestamp"] += 5  # as if "later" had been stamped 5 ms after "earlier"
    sink.flush()
    assert len(logs.batches) == 1 and logs.batches[0] == sorted(logs.batches[0]) and len(logs.batches[0]) == 2
    sink.close()

"""Failures 2, 3 and 4 of issue 13, reproduced only through interfaces every version has: the CLI
(`tricloud emulate aws --serve`, `tricloud destroy aws --local`), HTTP on the printed API URL, and the process tree.

Only the subprocesses run the code under test, so the module runs against an older checkout too:
TRICLOUD_TREE=<folder of a checkout> runs that checkout's CLI (cwd and PYTHONPATH there; its state file under its
own `.tricloud/`). On the code
before the faults work (a388078) these tests fail for the reasons the issue names (docs/emulation.md, "Pre-fix
check"); on today's code they pass. One platform for the module (about a minute and a half on 2 cores); the last
test kills it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tricloud.emulate.platform import SAMPLE  # the same listing in every version

pytestmark = [pytest.mark.emulator, pytest.mark.spark]

TREE = Path(os.environ.get("TRICLOUD_TREE") or Path(__file__).resolve().parents[2])
FUNCTION_TIMEOUT_S = 10  # components/api_frontend/spec.py: timeout_seconds (the dev stack keeps the default)
INIT_LIMIT_S = 10  # Lambda's init phase (a cold worker's start) has its own 10 s limit, outside the timeout
API_GATEWAY_BODY_LIMIT = 10 * 1024 * 1024  # HTTP APIs refuse a larger payload with 413


def children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> list[int]:
    tree, out, todo = children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class Serving:
    def __init__(
        self, proc: subprocess.Popen[str], env: dict[str, str], url: str, region: str, key: str, secret: str
    ) -> None:
        self.proc, self.env, self.url, self.region = proc, env, url, region
        self.credentials = Credentials(key, secret)

    @property
    def port(self) -> int:
        return int(urlsplit(self.url).port or 80)

    def signed(self, payload: Any) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(payload).encode()
        req = AWSRequest(
            method="POST", url=f"{self.url}/predict", data=body, headers={"content-type": "application/json"}
        )
        SigV4Auth(self.credentials, "execute-api", self.region).add_auth(req)
        return body, dict(req.headers.items())

    def inference_servers(self) -> list[int]:
        return [p for p in descendants(self.proc.pid) if "app.serve" in cmdline(p)]


@pytest.fixture(scope="module")
def serving(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serving]:
    env = {
        **os.environ,
        "PYTHONPATH": str(TREE),
        "TRICLOUD_STATE_DIR": str(
            tmp_path_factory.mktemp("state")
        ),  # read by today's code; older ones ignore it
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tricloud", "emulate", "aws", "--serve", "--rows", "300", "--fresh"],
        cwd=TREE,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    lines: list[str] = []
    found: dict[str, str] = {}
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and "serving" not in found:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if m := re.search(r"--aws-sigv4 'aws:amz:([a-z0-9-]+):execute-api' --user '([^:']+):([^']+)'", line):
            found.update(region=m[1], key=m[2], secret=m[3])
        if m := re.match(r"\s*API (http://127\.0\.0\.1:\d+)", line):
            found["url"] = m[1]
        if "serving; Ctrl-C" in line:
            found["serving"] = "yes"
    if "serving" not in found or "url" not in found or "key" not in found:
        proc.kill()
        pytest.fail("emulate aws --serve did not come up:\n" + "".join(lines[-30:]))
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # keep the pipe drained
    up = Serving(proc, env, found["url"], found["region"], found["key"], found["secret"])
    left = [up.proc.pid, *descendants(up.proc.pid)]
    try:
        yield up
    finally:
        for pid in [*left, *up.inference_servers()]:  # ours only: the CLI and what it started
            if running(pid):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=30)


def exchange(port: int, data: bytes, *, wait: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read one whole response; a close without an answer, a reset or a hang fails the test."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as exc:
            pytest.fail(f"the connection was reset while sending: {exc}")
        buf = b""
        try:
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(65536)
                assert chunk, f"connection closed without an answer: {buf!r}"
                buf += chunk
            head, _, rest = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
            length = int(headers.get("content-length", "0"))
            while len(rest) < length:
                chunk = s.recv(65536)
                assert chunk, "connection closed in the middle of the body"
                rest += chunk
        except TimeoutError:
            pytest.fail(f"no answer within {wait} s (the server hangs): {buf!r}")
        except ConnectionResetError as exc:
            pytest.fail(f"the connection was reset instead of an answer: {exc}")
    return int(lines[0].split()[1]), headers, rest[:length]


def json_error(status: int, headers: dict[str, str], body: bytes, family: int) -> None:
    assert status // 100 == family, (status, body[:200])
    assert headers.get("content-type", "").startswith("application/json"), (headers, body[:200])
    json.loads(body)


HOSTILE = [
    ("content-length not a number", b"POST /predict HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\nhi", 4),
    ("negative content-length", b"POST /predict HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\nhi", 4),
    ("OPTIONS", b"OPTIONS /predict HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", 4),
    (
        "110 headers",
        b"GET /health HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(110)) + b"\r\n",
        2,
    ),
]


@pytest.mark.parametrize(("name", "data", "family"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_failure_3_framing_errors_get_json_answers(
    serving: Serving, name: str, data: bytes, family: int
) -> None:
    json_error(*exchange(serving.port, data), family=family)


def test_failure_3_body_over_the_api_gateway_limit_gets_413_json(serving: Serving) -> None:
    head = (
        f"POST /predict HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
        f"Content-Length: {API_GATEWAY_BODY_LIMIT + 1}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", serving.port), timeout=10) as s:
        try:
            s.sendall(head)
            for _ in range(API_GATEWAY_BODY_LIMIT // 65536 + 1):
                s.sendall(b" " * 65536)
        except (BrokenPipeError, ConnectionResetError):
            pass  # a server may answer (and close) before the whole body is in; the answer must be there
        try:
            data = b""
            while chunk := s.recv(65536):
                data += chunk
                if b"\r\n\r\n" in data:
                    break
        except ConnectionResetError as exc:
            pytest.fail(f"the connection was reset instead of a 413: {exc}")
    assert data.startswith(b"HTTP/1.1 413"), data[:200]
    assert b"application/json" in data.split(b"\r\n\r\n")[0].lower(), data[:300]


def test_failure_3_two_hundred_connections_open_at_once(serving: Serving) -> None:
    started = time.perf_counter()
    socks = []
    try:
        for _ in range(200):
            socks.append(socket.create_connection(("127.0.0.1", serving.port), timeout=20))
        opened = time.perf_counter() - started
    finally:
        for s in socks:
            s.close()
    assert opened < 5, f"200 connections took {opened:.1f} s to open (a listen backlog too small)"


def test_failure_4_concurrent_requests_against_a_frozen_model_answer_within_the_function_timeout(
    serving: Serving,
) -> None:
    servers = serving.inference_servers()
    assert servers, "no inference server (python -m app.serve) under the emulate process"
    for pid in servers:
        os.kill(pid, signal.SIGSTOP)
    took: list[float] = []
    statuses: list[int] = []
    lock = threading.Lock()

    def call() -> None:
        body, headers = serving.signed({"instances": [SAMPLE]})
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        data = f"POST /predict HTTP/1.1\r\nHost: {urlsplit(serving.url).netloc}\r\n{head}".encode()
        data += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body
        t0 = time.perf_counter()
        try:
            status = exchange(serving.port, data, wait=60)[0]
        except BaseException:
            status = 0
        with lock:
            took.append(time.perf_counter() - t0)
            statuses.append(status)

    try:
        threads = [threading.Thread(target=call) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=90)
    finally:
        for pid in servers:
            os.kill(pid, signal.SIGCONT)
    assert len(took) == 6 and all(statuses), statuses
    # AWS runs the six at once (reserved concurrency 10) and ends each at the function timeout at the latest,
    # after a cold start of its own at most; one after another they would end at 4, 8, ... 24 s.
    assert max(took) <= INIT_LIMIT_S + FUNCTION_TIMEOUT_S, (
        f"answered after {sorted(round(t, 1) for t in took)} s"
    )


def test_failure_2_sigkill_of_emulate_serve_leaves_no_process_even_after_destroy(serving: Serving) -> None:
    """Last in the module: it kills the platform."""
    started = [p for p in descendants(serving.proc.pid) if running(p)]
    servers = serving.inference_servers()
    assert servers, "no inference server under the emulate process"
    os.kill(serving.proc.pid, signal.SIGKILL)
    serving.proc.wait(timeout=30)
    subprocess.run(
        [sys.executable, "-m", "tricloud", "destroy", "aws", "--local"],
        cwd=TREE,
        env=serving.env,
        capture_output=True,
        timeout=300,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(running(p) for p in started):
        time.sleep(0.2)
    left = {p: cmdline(p)[:120] for p in started if running(p)}
    assert not left, f"still running after SIGKILL of emulate --serve and destroy --local: {left}"

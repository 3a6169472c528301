"""A small, strict HTTP/1.1 server on asyncio (keep-alive, pipelining, Content-Length bodies).

Why not a framework: the serving contracts need two or three routes, and a plain protocol
handler without per-request framework work more than doubles single-row throughput (see
benchmarks/serve.py). Robustness rules: bounded header size (431), bounded body (413 before
reading it), Content-Length required for bodies (411; chunked uploads are refused), idle and
header timeouts against slow clients, malformed requests -> 400 and the connection closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

log = logging.getLogger("app.serve.http")

MAX_HEADER_BYTES = 16 * 1024
LINGER_S = 2.0  # after refusing a body, keep reading (and dropping) it so the client sees the 413
LINGER_MAX_BYTES = 64 * 1024 * 1024
IDLE_TIMEOUT_S = 60.0  # longer than typical load-balancer keep-alive, so the client closes first
REQUEST_TIMEOUT_S = 30.0  # a started request must arrive whole this fast (slow-drip clients)


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Response]


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(payload, separators=(",", ":")).encode(), headers=headers or {})


def error_response(status: int, message: str, errors: list[Any] | None = None) -> Response:
    payload: dict[str, Any] = {"message": message}
    if errors is not None:
        payload["errors"] = errors
    return json_response(status, payload)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class _HttpProtocol(asyncio.Protocol):
    def __init__(self, handler: Handler, max_body_bytes: int) -> None:
        self.handler = handler
        self.max_body = max_body_bytes
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.pending: tuple[Request, bool, int] | None = None  # request waiting for its body
        self.closing = False
        self.lingering = 0  # bytes still accepted (and dropped) after an early error response

    # -- connection lifecycle ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._arm(IDLE_TIMEOUT_S)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer:
            self.timer.cancel()
        self.transport = None

    def _arm(self, seconds: float) -> None:
        if self.timer:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(seconds, self._timeout)

    def _timeout(self) -> None:
        if self.transport is not None and self.lingering:
            self.transport.close()
        elif self.transport is not None:
            if self.buf or self.pending:
                self._send(error_response(408, "request not received in time"), keep_alive=False)
            else:
                self.transport.close()

    # -- parsing ------------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self.lingering:
            self.lingering = max(0, self.lingering - len(data))
            if not self.lingering and self.transport is not None:
                self.transport.close()
            return
        if self.closing:
            return
        if not self.buf and self.pending is None:
            self._arm(REQUEST_TIMEOUT_S)  # one deadline per request, not reset by each chunk
        self.buf += data
        dispatched = False
        while self.transport is not None and not self.closing:
            if self.pending is None and not self._parse_head():
                break
            if self.pending is None:
                continue
            req, keep_alive, length = self.pending
            if len(self.buf) < length:
                break
            req.body = bytes(self.buf[:length])
            del self.buf[:length]
            self.pending = None
            self._dispatch(req, keep_alive)
            dispatched = True
        if self.transport is None or self.closing:
            return
        if not self.buf and self.pending is None:
            self._arm(IDLE_TIMEOUT_S)
        elif dispatched:
            self._arm(REQUEST_TIMEOUT_S)  # a fresh deadline for the next pipelined request

    def _parse_head(self) -> bool:
        """Parse one request head from the buffer; False when more bytes are needed."""
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buf) > MAX_HEADER_BYTES:
                self._send(error_response(431, "request header too large"), keep_alive=False)
            return False
        if end > MAX_HEADER_BYTES:
            self._send(error_response(431, "request header too large"), keep_alive=False)
            return False
        head = bytes(self.buf[:end])
        del self.buf[: end + 4]
        try:
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ")
            if not version.startswith("HTTP/1.") or not method.isalpha():
                raise ValueError(lines[0])
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if not sep or not name or name != name.strip():
                    raise ValueError(line)
                key = name.lower()
                if key == "content-length" and key in headers:
                    raise ValueError("repeated Content-Length")
                headers[key] = value.strip()
        except ValueError:
            self._send(error_response(400, "malformed HTTP request"), keep_alive=False)
            return False
        conn = headers.get("connection", "").lower()
        keep_alive = "close" not in conn if version == "HTTP/1.1" else "keep-alive" in conn
        if "transfer-encoding" in headers:
            self._send(error_response(411, "send the body with Content-Length"), keep_alive=False)
            return False
        raw_len = headers.get("content-length", "0")
        if not raw_len.isdigit():
            self._send(error_response(400, f"invalid Content-Length {raw_len[:32]!r}"), keep_alive=False)
            return False
        length = int(raw_len)
        if length > self.max_body:
            # Refuse before reading: the body never reaches memory.
            msg = f"body of {length} bytes exceeds the limit of {self.max_body} bytes"
            self._send(error_response(413, msg), keep_alive=False, linger=length - len(self.buf))
            return False
        path, _, query = target.partition("?")
        self.pending = (Request(method.upper(), path, query, headers), keep_alive, length)
        if length and headers.get("expect", "").lower() == "100-continue" and len(self.buf) < length:
            assert self.transport is not None
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return True

    def _dispatch(self, req: Request, keep_alive: bool) -> None:
        try:
            resp = self.handler(req)
        except Exception:
            log.exception("handler failed for %s %s", req.method, req.path)
            resp = error_response(500, "internal error")
        self._send(resp, keep_alive, head_only=req.method == "HEAD")

    def _send(self, resp: Response, keep_alive: bool, linger: int = 0, head_only: bool = False) -> None:
        if self.transport is None:
            return
        head = [f"HTTP/1.1 {resp.status} {_reason(resp.status)}"]
        if resp.body or resp.status not in (204, 304):
            head.append(f"Content-Type: {resp.content_type}")
        head.append(f"Content-Length: {len(resp.body)}")
        head.extend(f"{k}: {v}" for k, v in resp.headers.items())
        head.append("Connection: keep-alive" if keep_alive else "Connection: close")
        body = b"" if head_only else resp.body  # HEAD: the headers of GET, no body
        self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        if not keep_alive:
            self.closing = True
            self.buf.clear()
            if 0 < linger <= LINGER_MAX_BYTES:
                self.lingering = linger
                self._arm(LINGER_S)
            else:
                self.transport.close()


async def serve_forever(
    handler: Handler,
    host: str,
    port: int,
    *,
    max_body_bytes: int,
    on_ready: Callable[[int], None] | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT (how SageMaker and Vertex stop a container)."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _HttpProtocol(handler, max_body_bytes), host, port, reuse_address=True, backlog=512
    )
    bound = server.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if on_ready:
        on_ready(bound)
    async with server:
        await stop.wait()

"""The inference server's HTTP layer: uvicorn with the httptools parser, under a strict protocol.

uvicorn replaced a hand-written asyncio server after measuring both with ``benchmarks/serve.py`` (app/README.md,
section 8): the maintained server lost less than the 1.5x single-row throughput the hand-written one had to win by
to be kept. What uvicorn leaves to the application is added in ``StrictProtocol``, which the offline platform's
API gateway and sagemaker-runtime shim (``tricloud/emulate/loopback.py``) use too: a deadline for a connection
that sends nothing, one for the whole request (slow headers or a slow body), the header and body limits refused
before the body is read, HTTP/1.x only, and JSON error bodies instead of uvicorn's text ones. No ``Server``
banner is sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import httptools
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("app.serve.http")

BACKLOG = 1024  # a burst of connections is queued by the kernel, not refused
SHUTDOWN_GRACE_S = 10  # SIGTERM: requests in flight get this long to finish


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
# status -> (headers, body) of an answer the server gives itself (framing errors, limits, timeouts)
ErrorBody = Callable[[int], tuple[dict[str, str], bytes]]


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(payload, separators=(",", ":")).encode(), headers=headers or {})


def error_response(status: int, message: str, errors: list[Any] | None = None) -> Response:
    payload: dict[str, Any] = {"message": message}
    if errors is not None:
        payload["errors"] = errors
    return json_response(status, payload)


def reason_message(status: int) -> tuple[dict[str, str], bytes]:
    """`{"message": "<reason phrase>"}` (API Gateway's shape)."""
    return {"content-type": "application/json"}, json.dumps({"message": HTTPStatus(status).phrase}).encode()


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int
    max_head_bytes: int = 10240  # request line and headers together (API Gateway HTTP API's limit)
    idle_timeout_s: float = 30.0  # a connection with no request in flight is closed after this
    request_timeout_s: float = 30.0  # headers and body must arrive whole within this (slow-drip clients)
    linger_s: float = (
        2.0  # after refusing a body, drain it this long so the client reads the answer, not a reset
    )
    length_required: bool = (
        False  # refuse chunked request bodies (411): a client that knows its body sends its length
    )


class _Refused(Exception):
    """Stops the parser after the server answered the request itself."""


class StrictProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the deadlines, limits and JSON errors of a front door."""

    limits: Limits
    error_body: ErrorBody = staticmethod(reason_message)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_bytes = 0
        self._draining = 0
        self._refused = False
        self._deadline: asyncio.TimerHandle | None = None
        # uvicorn arms its keep-alive timer only after a response: a client that connects and says nothing would
        # hold the connection forever.
        self.timeout_keep_alive_task = self.loop.call_later(
            self.limits.idle_timeout_s, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            self._draining -= len(data)
            if self._draining <= 0:
                self.transport.close()
            return
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.refuse(400)
        except httptools.HttpParserError:
            if not self._refused:  # a framing error: bad Content-Length, bad chunking, garbage
                self.refuse(400)

    def refuse(self, status: int, drain_bytes: int = 0) -> None:
        """Answer with a JSON error, then close; drain up to `drain_bytes` first so the client sees the answer."""
        if self._refused or self.transport.is_closing():
            return
        self._refused = True
        headers, body = self.error_body(status)
        head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        head += [f"content-length: {len(body)}", "connection: close"]
        self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        if self._deadline is not None:
            self._deadline.cancel()
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True  # the application (if it started) must not answer too
            self.cycle.message_event.set()
        self._unset_keepalive_if_required()
        self._draining = drain_bytes
        if drain_bytes > 0:
            self.loop.call_later(self.limits.linger_s, self.transport.close)
        else:
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        self.refuse(400)

    def _expired(self) -> None:
        if self.cycle is None or self.cycle.more_body:  # still waiting for headers or body
            self.refuse(408)

    # --- parser callbacks ---

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._deadline = self.loop.call_later(self.limits.request_timeout_s, self._expired)

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._count(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._count(len(name) + len(value) + 4)

    def _count(self, n: int) -> None:
        self._head_bytes += n
        if self._head_bytes > self.limits.max_head_bytes:
            self.refuse(431, drain_bytes=64 * 1024)
            raise _Refused

    def on_headers_complete(self) -> None:
        if self.parser.get_http_version() not in ("1.0", "1.1"):
            self.refuse(400)  # HTTP/2 and later are not spoken over this cleartext HTTP/1 parser
            raise _Refused
        headers = dict(self.headers)
        if self.limits.length_required and b"transfer-encoding" in headers:
            self.refuse(411)
            raise _Refused
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limits.max_body_bytes:
            # Refused before a byte of the body is read; the body is drained (bounded) so the 413 is read.
            self.refuse(413, drain_bytes=min(int(length), 4 * self.limits.max_body_bytes))
            raise _Refused
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self.cycle is not None and len(self.cycle.body) + len(body) > self.limits.max_body_bytes:
            # A chunked body that grew past the limit.
            self.refuse(413, drain_bytes=self.limits.max_body_bytes)
            raise _Refused
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        super().on_message_complete()


def bound_protocol(limits: Limits, error_body: ErrorBody = reason_message) -> type[StrictProtocol]:
    """A StrictProtocol class with these limits and error bodies (uvicorn takes a class, not an instance)."""
    return type(
        "BoundStrictProtocol", (StrictProtocol,), {"limits": limits, "error_body": staticmethod(error_body)}
    )


def listen(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on connections of a socket that says TCP.
    # Without it, uvicorn's two writes per response (head, body) met the client's delayed ACK: 44 ms a request.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    return sock


def uvicorn_config(app: Any, protocol: type[StrictProtocol], limits: Limits) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http=protocol,
        lifespan="off",
        interface="asgi3",
        proxy_headers=False,
        server_header=False,
        date_header=True,
        backlog=BACKLOG,
        timeout_keep_alive=int(limits.idle_timeout_s),
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        log_level="critical",  # the server's own refusals are answered, not logged; handler errors are logged below
        access_log=False,
        loop="asyncio",
    )


async def read_body(receive: Callable[..., Any]) -> bytes | None:
    """The whole request body from an ASGI `receive`, or None when the client went away first."""
    body = bytearray()
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            return None
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            return bytes(body)


class HandlerApp:
    """ASGI adapter for a synchronous `Handler`: the whole body, then one call on the event loop's thread (a
    prediction is CPU work of a fraction of a millisecond; a thread hop would cost more than it frees)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def __call__(
        self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        if body is None:
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        req = Request(scope["method"], scope["path"], scope["query_string"].decode("latin-1"), headers, body)
        try:
            resp = self.handler(req)
        except Exception:
            log.exception("handler failed for %s %s", req.method, req.path)
            resp = error_response(500, "internal error")
        out = [
            (b"content-type", resp.content_type.encode("latin-1")),
            (b"content-length", str(len(resp.body)).encode()),
            *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in resp.headers.items()),
        ]
        await send({"type": "http.response.start", "status": resp.status, "headers": out})
        await send({"type": "http.response.body", "body": resp.body})


# What the server says when it refuses a request itself.
REFUSALS = {
    400: "malformed HTTP request",
    408: "request not received in time",
    411: "send the body with Content-Length",
    431: "request header too large",
}


async def serve_forever(
    handler: Handler,
    host: str,
    port: int,
    *,
    max_body_bytes: int,
    on_ready: Callable[[int], None] | None = None,
    refusal: Callable[[int, str], Response] = error_response,
) -> None:
    """Serve until SIGTERM/SIGINT (how SageMaker and Vertex stop a container), then finish what is in flight.

    `refusal(status, message)` shapes the answers the server gives itself, so they look like the handler's."""
    limits = Limits(
        max_body_bytes,
        max_head_bytes=16 * 1024,
        idle_timeout_s=60.0,  # longer than typical load-balancer keep-alive, so the client closes first
        length_required=True,
    )

    def error_body(status: int) -> tuple[dict[str, str], bytes]:
        message = REFUSALS.get(status) or f"body exceeds the limit of {max_body_bytes} bytes"
        resp = refusal(status, message)
        return {"content-type": resp.content_type, **resp.headers}, resp.body

    sock = listen(host, port)
    server = uvicorn.Server(uvicorn_config(HandlerApp(handler), bound_protocol(limits, error_body), limits))

    def stop(*_: Any) -> None:
        server.should_exit = True

    # Until uvicorn takes the signals over (and after: it restores these, then re-raises the signal that stopped
    # it), a SIGTERM asks for the same graceful stop and the process ends with status 0 instead of being killed.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    serving = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started and not serving.done():
        await asyncio.sleep(0.005)
    if server.started and on_ready:
        on_ready(sock.getsockname()[1])
    await serving

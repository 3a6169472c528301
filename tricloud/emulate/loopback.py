"""One HTTP/1.1 server on 127.0.0.1 (uvicorn with the httptools parser, in a thread) that hands every request to one
function, with the limits and error shapes of an AWS front door.

The API gateway and the sagemaker-runtime shim differ only in what they answer, so the socket, the limits and the
protocol errors live here once. uvicorn was picked by measuring (benchmarks/emulate.py's notes, README): with
httptools it served ~11,800 single-connection requests/s here against ~5,000 for aiohttp and ~2,800 for uvicorn's
h11 parser. What uvicorn leaves to the application is added in `StrictProtocol`: a deadline for a connection that
sends nothing, a deadline for the whole request (slow headers or a slow body), the header and body limits refused
before the body is read, and JSON error bodies (`{"message": ...}`) instead of uvicorn's text ones. No `Server`
banner is sent.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import httptools
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

Response = tuple[int, dict[str, str], bytes]
# (method, path with query, headers, body, client address) -> (status, headers, body)
Handle = Callable[[str, str, dict[str, str], bytes, str], Response]
# status -> (headers, body) of an error the server answers itself (framing, limits, timeouts)
ErrorBody = Callable[[int], tuple[dict[str, str], bytes]]

BACKLOG = 1024  # 200 connections opened at once are all accepted (the stdlib server's 5 made clients wait)


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int
    max_head_bytes: int = 10240  # HTTP API: request line and header values together
    idle_timeout_s: float = 30.0  # a connection with no request in flight is closed after this
    request_timeout_s: float = (
        30.0  # headers and body must arrive whole within this (HTTP API's integration max)
    )
    linger_s: float = (
        2.0  # after refusing a body, drain it this long so the client reads the answer, not a reset
    )


def aws_message(status: int) -> tuple[dict[str, str], bytes]:
    """API Gateway's shape: `{"message": "<reason phrase>"}`."""
    return {"content-type": "application/json"}, json.dumps({"message": HTTPStatus(status).phrase}).encode()


class _Refused(Exception):
    """Stops the parser after the server answered the request itself."""


class StrictProtocol(HttpToolsProtocol):
    limits: Limits
    error_body: ErrorBody = staticmethod(aws_message)

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
        length = dict(self.headers).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limits.max_body_bytes:
            # Refused before a byte of the body is read; the body is drained (bounded) so the 413 is read.
            self.refuse(413, drain_bytes=min(int(length), 4 * self.limits.max_body_bytes))
            raise _Refused
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self.cycle is not None and len(self.cycle.body) + len(body) > self.limits.max_body_bytes:
            self.refuse(
                413, drain_bytes=self.limits.max_body_bytes
            )  # a chunked body that grew past the limit
            raise _Refused
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        super().on_message_complete()


class LoopbackServer:
    def __init__(
        self,
        handle: Handle,
        *,
        max_body_bytes: int,
        methods: Iterable[str] | None = None,
        error_body: ErrorBody = aws_message,
        port: int = 0,
        workers: int = 64,
        limits: Limits | None = None,
    ) -> None:
        """`handle` runs on a pool of `workers` threads (it may block); `methods` limits what reaches it (others
        get 405 from `error_body`); `error_body` shapes the answers the server gives itself."""
        self.handle = handle
        self.methods = {m.upper() for m in methods} if methods else None
        self.error_body = error_body
        self.limits = limits or Limits(max_body_bytes)
        protocol = type(
            "BoundStrictProtocol",
            (StrictProtocol,),
            {"limits": self.limits, "error_body": staticmethod(error_body)},
        )
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tricloud-http")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(BACKLOG)
        config = uvicorn.Config(
            self.asgi,
            http=protocol,
            lifespan="off",
            interface="asgi3",
            proxy_headers=False,
            server_header=False,
            date_header=True,
            backlog=BACKLOG,
            timeout_keep_alive=int(self.limits.idle_timeout_s),
            log_level="critical",
            access_log=False,
            loop="asyncio",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="tricloud-loopback", daemon=True)
        self.thread.start()
        while not self.server.started and self.thread.is_alive():
            threading.Event().wait(0.005)
        if not self.server.started:
            raise RuntimeError(f"the loopback server on port {self.port} did not start")

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.sock]))

    async def asgi(
        self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        try:
            await self._asgi(scope, receive, send)
        except Exception:
            headers, data = self.error_body(500)
            out = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
            await send({"type": "http.response.start", "status": 500, "headers": out})
            await send({"type": "http.response.body", "body": data})
            raise

    async def _asgi(
        self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        body = bytearray()
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        method = scope["method"]
        if self.methods is not None and method not in self.methods:
            status, (headers, data) = 405, self.error_body(405)
        else:
            path = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
            if scope.get("query_string"):
                path += "?" + scope["query_string"].decode("latin-1")
            hdrs: dict[str, str] = {}
            for k, v in scope["headers"]:
                key = k.decode("latin-1")
                hdrs[key] = f"{hdrs[key]},{v.decode('latin-1')}" if key in hdrs else v.decode("latin-1")
            client = (scope.get("client") or ("127.0.0.1", 0))[0]
            loop = asyncio.get_running_loop()
            status, headers, data = await loop.run_in_executor(
                self.pool, self.handle, method, path, hdrs, bytes(body), client
            )
        out = [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in headers.items()]
        out.append((b"content-length", str(len(data)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": data})

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.sock.close()

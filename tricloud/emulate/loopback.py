"""One HTTP/1.1 server on 127.0.0.1 (uvicorn with the httptools parser, in a thread) that hands every request to one
function, with the limits and error shapes of an AWS front door.

The API gateway and the sagemaker-runtime shim differ only in what they answer, so the socket, the limits and the
protocol errors live here once. uvicorn was picked by measuring: with httptools it served ~11,800 single-connection
requests/s here against ~5,000 for aiohttp and ~2,800 for uvicorn's h11 parser. The strictness uvicorn leaves to the
application (deadlines for idle connections and slow requests, header and body limits refused before the body is
read, JSON error bodies, no `Server` banner) is `app.serve.http.StrictProtocol`, shared with the inference server.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import uvicorn

from app.serve.http import (
    ErrorBody,
    Limits,
    StrictProtocol,
    bound_protocol,
    listen,
    read_body,
    uvicorn_config,
)
from app.serve.http import reason_message as aws_message

__all__ = ["Limits", "LoopbackServer", "StrictProtocol", "aws_message"]

Response = tuple[int, dict[str, str], bytes]
# (method, path with query, headers, body, client address) -> (status, headers, body)
Handle = Callable[[str, str, dict[str, str], bytes, str], Response]


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
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tricloud-http")
        self.sock = listen("127.0.0.1", port)
        config = uvicorn_config(self.asgi, bound_protocol(self.limits, error_body), self.limits)
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
        body = await read_body(receive)
        if body is None:
            return
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

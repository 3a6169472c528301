"""Small loopback HTTP pieces the Azure and GCP hosts share: a threaded server for the cloud APIs they stand in
for (metadata server, Vertex prediction API, Azure ML scoring endpoint) and a JSON client with bounded timeouts."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = tuple[int, dict[str, str], bytes]
# (method, path with query, lower-cased headers, body) -> (status, headers, body)
Route = Callable[[str, str, dict[str, str], bytes], Reply]
MAX_BODY_BYTES = 16 * 1024 * 1024


def strict_json(data: bytes | str) -> Any:
    """json.loads that refuses NaN and Infinity, as RFC 8259 and every other parser do (Python's accepts them)."""

    def refuse(literal: str) -> Any:
        raise ValueError(f"not JSON: {literal}")

    return json.loads(data, parse_constant=refuse)


def json_reply(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Reply:
    body = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
    return status, {"Content-Type": "application/json", **(headers or {})}, body


class LocalServer:
    """`route` answers every request; 127.0.0.1 only, an ephemeral port unless one is given."""

    def __init__(self, route: Route, port: int = 0) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes; Nagle would add ~40 ms

            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length > MAX_BODY_BYTES:
                    status, headers, body = json_reply(413, {"error": {"code": 413, "message": "too large"}})
                    self.close_connection = True
                else:
                    data = self.rfile.read(length) if length else b""
                    headers_in = {k.lower(): v for k, v in self.headers.items()}
                    status, headers, body = route(self.command, self.path, headers_in, data)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _any

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def call(
    url: str,
    payload: Any = None,
    *,
    method: str | None = None,
    headers: Mapping[str, str] | None = None,
    raw: bytes | None = None,
    timeout: float = 30.0,
) -> tuple[int, dict[str, str], Any]:
    """One JSON request (`raw`: these exact bytes as the JSON body); returns (status, lower-cased headers, parsed
    body or its text). Parsing is strict (no NaN/Infinity). Never raises on 4xx/5xx."""
    data = raw if raw is not None else (None if payload is None else json.dumps(payload).encode())
    all_headers = (
        {"Content-Type": "application/json", **(headers or {})} if data is not None else dict(headers or {})
    )
    req = urllib.request.Request(
        url, data=data, headers=all_headers, method=method or ("POST" if data else "GET")
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw, got = resp.status, resp.read(), dict(resp.headers.items())
    except urllib.error.HTTPError as err:
        status, raw, got = err.code, err.read(), dict(err.headers.items())
    try:
        body: Any = strict_json(raw) if raw else None
    except ValueError:
        body = raw.decode(errors="replace")
    return status, {k.lower(): v for k, v in got.items()}, body

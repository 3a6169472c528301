"""One threaded HTTP/1.1 server on 127.0.0.1 that hands every request to one function.

The API gateway and the sagemaker-runtime shim differ only in what they answer, so the socket, threading, body
limit and response writing live here once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Response = tuple[int, dict[str, str], bytes]
# (method, path, headers, body, client address) -> (status, headers, body)
Handle = Callable[[str, str, dict[str, str], bytes, str], Response]


class LoopbackServer:
    def __init__(
        self,
        handle: Handle,
        *,
        max_body_bytes: int,
        methods: Iterable[str] = ("GET", "POST", "PUT", "DELETE", "PATCH"),
        too_large: Callable[[], Response] | None = None,
        port: int = 0,
    ) -> None:
        """`too_large` answers a body over the limit (None: a plain 413); other methods get the stdlib's 501."""

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without TCP_NODELAY, Nagle + delayed ACK add ~40 ms each.
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length > max_body_bytes:
                    if too_large is None:
                        self.send_error(413)
                        return
                    status, headers, data = too_large()
                else:
                    body = self.rfile.read(length) if length else b""
                    status, headers, data = handle(
                        self.command, self.path, dict(self.headers.items()), body, self.client_address[0]
                    )
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        for method in methods:
            setattr(Handler, f"do_{method}", Handler._serve)
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

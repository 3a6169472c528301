"""Helpers shared by the app tests (imported by name: tests/app is on the path, as pytest puts it there)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FaultyEndpoint:
    """A loopback HTTP endpoint that counts its calls and answers after `delay` seconds: `ok` (a valid prediction
    per row), `slow` (ok after 1.5 s), `error` (500) or `garbage` (not JSON)."""

    def __init__(self, mode: str, delay: float = 0.0) -> None:
        self.mode = mode
        self.delay = 1.5 if mode == "slow" else delay
        self.calls = 0
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.calls += 1
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(outer.delay)
                if outer.mode == "error":
                    status, body = 500, b'{"message":"boom"}'
                elif outer.mode in ("garbage", "slow"):  # slow: what arrives too late must not be used
                    status, body = 200, b"<html>"
                else:
                    rows = json.loads(raw)["instances"]
                    status, body = (
                        200,
                        json.dumps({"predictions": [1.0e7] * len(rows), "model_version": "m-1"}).encode(),
                    )
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

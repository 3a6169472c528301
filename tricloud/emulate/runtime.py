"""A sagemaker-runtime `InvokeEndpoint` shim on loopback: `POST /endpoints/<name>/invocations`.

It routes the stack's endpoint name to the local inference server (the SageMaker serving contract), and answers
everything else as the service does: an unknown endpoint is a 400 `ValidationError`, a container error a 424
`ModelError` carrying the original status, an unreachable container a 503 `ServiceUnavailable`. The Lambda
handler reaches it through `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`, unchanged.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from typing import Any
from urllib.parse import unquote, urlsplit

from tricloud.emulate.loopback import LoopbackServer

MAX_BODY_BYTES = 6 * 1024 * 1024  # InvokeEndpoint's payload limit


class RuntimeShim:
    def __init__(self, account: str, region: str, port: int = 0) -> None:
        self.account, self.region = account, region
        self.routes: dict[str, tuple[str, int]] = {}  # endpoint name -> (host, port) of its container
        self._local = threading.local()
        self.http = LoopbackServer(
            lambda _method, path, headers, body, _client: self.invoke(path, headers, body),
            max_body_bytes=MAX_BODY_BYTES,
            methods=("POST",),
            too_large=lambda: self._error(413, "ValidationError", "Request payload exceeds 6 MB"),
            port=port,
        )

    @property
    def url(self) -> str:
        return self.http.url

    def route(self, endpoint_name: str, container_url: str) -> None:
        parts = urlsplit(container_url)
        self.routes[endpoint_name] = (parts.hostname or "127.0.0.1", int(parts.port or 80))

    def close(self) -> None:
        self.http.close()

    def _error(self, status: int, code: str, message: str, **extra: Any) -> tuple[int, dict[str, str], bytes]:
        headers = {"x-amzn-ErrorType": f"{code}:", "content-type": "application/json"}
        return status, headers, json.dumps({"message": message, **extra}).encode()

    def invoke(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "endpoints" or parts[2] != "invocations":
            return self._error(404, "UnknownOperationException", f"no operation at {path}")
        name = unquote(parts[1])
        target = self.routes.get(name)
        if target is None:
            return self._error(
                400, "ValidationError", f"Endpoint {name} of account {self.account} not found."
            )
        conns: dict[tuple[str, int], http.client.HTTPConnection] = self._local.__dict__.setdefault(
            "conns", {}
        )
        fwd = {k: v for k, v in headers.items() if k.lower() in ("content-type", "accept")}
        for attempt in (0, 1):  # one retry on a stale keep-alive connection
            conn = conns.get(target) or http.client.HTTPConnection(*target, timeout=60)
            try:
                if conn.sock is None:
                    conn.connect()
                    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    conns[target] = conn
                conn.request("POST", "/invocations", body=body, headers=fwd)
                resp = conn.getresponse()
                data = resp.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError):
                conn.close()
                conns.pop(target, None)
                if attempt:
                    return self._error(
                        503, "ServiceUnavailable", f"endpoint {name}: the model container is not reachable"
                    )
        if resp.status >= 300:
            text = data.decode(errors="replace")
            return self._error(
                424,
                "ModelError",
                f'Received client error ({resp.status}) from primary with message "{text}".',
                OriginalStatusCode=resp.status,
                OriginalMessage=text,
            )
        out = {
            "content-type": resp.getheader("content-type", "application/json"),
            "x-Amzn-Invoked-Production-Variant": "primary",
        }
        return 200, out, data

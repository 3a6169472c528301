"""A faked HTTP layer under the real cloud SDKs: a `requests` adapter that routes each request to a handler of a
fake service and records it, so the tests assert which calls the commands make and in which order.

azure-core's RequestsTransport and the Google clients' AuthorizedSession are both `requests.Session`s: the SDKs
build, sign, serialize and parse everything as against the real service; only the socket is replaced.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

Handler = Callable[["Call"], tuple[int, Any] | tuple[int, Any, dict[str, str]]]


@dataclass
class Call:
    method: str
    url: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    match: re.Match[str] | None = None

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class FakeHttp(BaseAdapter):
    routes: list[tuple[str, re.Pattern[str], Handler]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method, re.compile(pattern), handler))

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        parts = urlsplit(request.url or "")
        body = request.body or b""
        if hasattr(body, "read"):
            body = body.read()
        call = Call(
            method=str(request.method),
            url=str(request.url),
            path=unquote(parts.path),
            query=parse_qs(parts.query),
            headers=dict(request.headers),
            body=body.encode() if isinstance(body, str) else bytes(body),
        )
        self.calls.append(call)
        for method, pattern, handler in self.routes:
            m = pattern.fullmatch(f"{parts.netloc}{call.path}")
            if method == call.method and m:
                call.match = m
                out = handler(call)
                status, payload, headers = out if len(out) == 3 else (*out, {})  # type: ignore[misc]
                return self._response(request, status, payload, headers)
        return self._response(
            request,
            404,
            {"error": {"code": "NotFound", "message": f"fake: no route {call.method} {call.url}"}},
            {},
        )

    @staticmethod
    def _response(
        request: requests.PreparedRequest, status: int, payload: Any, headers: dict[str, str]
    ) -> requests.Response:
        resp = requests.Response()
        resp.status_code = status
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        ctype = "application/octet-stream" if isinstance(payload, bytes) else "application/json"
        resp.headers = CaseInsensitiveDict(
            {"Content-Type": ctype, "Content-Length": str(len(raw)), **headers}
        )
        import io

        resp.raw = io.BytesIO(raw)
        resp._content = raw  # type: ignore[attr-defined]
        resp.request = request
        resp.url = request.url or ""
        resp.reason = "OK" if status < 400 else "Error"
        resp.encoding = "utf-8"
        return resp

    def close(self) -> None:
        pass

    def summary(self, host: str | None = None) -> list[str]:
        """`METHOD /path` of every call (optionally to one host), in order, without the query string."""
        return [f"{c.method} {c.path}" for c in self.calls if host is None or host in c.url]


def session_with(fake: FakeHttp) -> requests.Session:
    s = requests.Session()
    s.mount("https://", fake)
    s.mount("http://", fake)
    return s

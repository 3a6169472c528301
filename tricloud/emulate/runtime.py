"""A sagemaker-runtime `InvokeEndpoint` shim on loopback: `POST /endpoints/<name>/invocations`.

It verifies SigV4 as the service does (service `sagemaker`, the region, a known key; a temporary key must bring
its session token), routes the stack's endpoint name to the local inference server(s) (the SageMaker serving
contract), and answers everything else as the service does: an unknown endpoint is a 400 `ValidationError`, a
container error a 424 `ModelError` carrying the original status, an unreachable container a 503
`ServiceUnavailable`, a bad signature a 403 with the error type AWS gives. The Lambda handler reaches it through
`AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`, unchanged.

Routing is one small object per endpoint (`EndpointRoute`: production variants with weights), so a canary (two
servers behind one endpoint name with a traffic split) replaces the route without touching the shim.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from tricloud.emulate import sigv4
from tricloud.emulate.loopback import LoopbackServer
from tricloud.engine.iam import Authorizer

MAX_BODY_BYTES = 6 * 1024 * 1024  # InvokeEndpoint's payload limit
DEFAULT_VARIANT = "AllTraffic"
INVOKE = "sagemaker:InvokeEndpoint"


@dataclass(frozen=True)
class Variant:
    name: str
    url: str  # the container, http://127.0.0.1:<port>
    weight: float = 1.0

    @property
    def address(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        return parts.hostname or "127.0.0.1", int(parts.port or 80)


@dataclass
class EndpointRoute:
    """An endpoint's production variants; each invocation goes to one, with probability weight / total."""

    variants: list[Variant]
    rng: random.Random = field(default_factory=random.Random)

    def pick(self) -> Variant:
        live = [v for v in self.variants if v.weight > 0]
        return self.rng.choices(live, weights=[v.weight for v in live])[0]


def _error(status: int, code: str, message: str, **extra: Any) -> tuple[int, dict[str, str], bytes]:
    headers = {"x-amzn-ErrorType": f"{code}:", "content-type": "application/json"}
    return status, headers, json.dumps({"message": message, **extra}).encode()


class RuntimeShim:
    def __init__(
        self,
        account: str,
        region: str,
        keys: Mapping[str, str],
        port: int = 0,
        *,
        authorizer: Authorizer | None = None,
    ) -> None:
        """`keys`: the credentials the service accepts (a `sigv4.KeyStore` for temporary ones); with an
        `authorizer`, a role session's call is allowed only if its role's policies allow sagemaker:InvokeEndpoint
        on the endpoint's ARN (root keys are not evaluated, as on AWS)."""
        self.account, self.region, self.keys, self.authorizer = account, region, keys, authorizer
        self.routes: dict[str, EndpointRoute] = {}
        # Called after each routed invocation with (endpoint, variant, container status, seconds): where SageMaker's
        # per-variant metrics come from (599: the container was not reachable).
        self.observer: Callable[[str, Variant, int, float], None] | None = None
        self._local = threading.local()
        # Invocations forwarded and not yet answered, per container URL: a fleet taken out of the route is stopped
        # once its count is 0 (`drain`). A pick and its count change under one lock with the route, so after
        # `set_route` returns no request can still be about to reach a container it no longer lists.
        self._inflight: dict[str, int] = {}
        self._routing = threading.Condition()
        self.http = LoopbackServer(
            lambda method, path, headers, body, _client: self.invoke(method, path, headers, body),
            max_body_bytes=MAX_BODY_BYTES,
            methods=("POST",),
            error_body=self._framing_error,
            port=port,
        )

    @staticmethod
    def _framing_error(status: int) -> tuple[dict[str, str], bytes]:
        code = {413: "ValidationError", 405: "UnknownOperationException", 408: "RequestTimeout"}
        _, headers, body = _error(status, code.get(status, "SerializationException"), f"HTTP {status}")
        if status == 413:
            _, headers, body = _error(status, "ValidationError", "Request payload exceeds 6 MB")
        return headers, body

    @property
    def url(self) -> str:
        return self.http.url

    def route(self, endpoint_name: str, container_url: str, variant: str = DEFAULT_VARIANT) -> None:
        """Send all of the endpoint's traffic to one container."""
        self.set_route(endpoint_name, EndpointRoute([Variant(variant, container_url)]))

    def set_route(self, endpoint_name: str, route: EndpointRoute) -> None:
        with self._routing:
            self.routes[endpoint_name] = route

    def inflight(self, container_url: str) -> int:
        with self._routing:
            return self._inflight.get(container_url, 0)

    def drain(self, container_url: str, timeout_s: float) -> int:
        """Wait until no invocation is in flight to `container_url` (out of every route by now), at most
        `timeout_s`; how many still are (0: the container can stop without failing a request)."""
        with self._routing:
            self._routing.wait_for(lambda: self._inflight.get(container_url, 0) == 0, timeout=timeout_s)
            return self._inflight.get(container_url, 0)

    def _pick(self, name: str) -> Variant | None:
        with self._routing:
            route = self.routes.get(name)
            if route is None:
                return None
            variant = route.pick()
            self._inflight[variant.url] = self._inflight.get(variant.url, 0) + 1
            return variant

    def _done(self, variant: Variant) -> None:
        with self._routing:
            left = self._inflight[variant.url] - 1
            if left:
                self._inflight[variant.url] = left
            else:
                del self._inflight[variant.url]
            self._routing.notify_all()

    def close(self) -> None:
        self.http.close()

    def _observe(self, name: str, variant: Variant, status: int, started: float) -> None:
        if self.observer is not None:
            self.observer(name, variant, status, time.perf_counter() - started)

    def invoke(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        parts = path.split("?", 1)[0].strip("/").split("/")
        if len(parts) != 3 or parts[0] != "endpoints" or parts[2] != "invocations":
            return _error(404, "UnknownOperationException", f"no operation at {path}")
        host = headers.get("host", urlsplit(self.url).netloc)
        try:
            caller = sigv4.verify(
                method,
                f"http://{host}{path}",
                headers,
                body,
                keys=self.keys,
                region=self.region,
                service="sagemaker",
            )
        except sigv4.SignatureError as exc:
            status = 400 if exc.code == "IncompleteSignatureException" else 403
            return _error(status, exc.code, str(exc))
        name = unquote(parts[1])
        session = getattr(self.keys, "sessions", {}).get(caller.access_key)
        if self.authorizer is not None and session is not None:
            # Authorization comes before the endpoint is looked up, as on AWS; the ARN holds the lower-cased name.
            arn = f"arn:aws:sagemaker:{self.region}:{self.account}:endpoint/{name.lower()}"
            if self.authorizer.check(session, INVOKE, arn, source="runtime shim"):
                return _error(
                    400,
                    "AccessDeniedException",
                    f"User: {session.session_arn} is not authorized to perform: {INVOKE} on resource: {arn} "
                    f"because no identity-based policy allows the {INVOKE} action",
                )
        variant = self._pick(name)
        if variant is None:
            return _error(400, "ValidationError", f"Endpoint {name} of account {self.account} not found.")
        try:
            return self._forward(name, variant, headers, body)
        finally:
            self._done(variant)

    def _forward(
        self, name: str, variant: Variant, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        target = variant.address
        conns: dict[tuple[str, int], http.client.HTTPConnection] = self._local.__dict__.setdefault(
            "conns", {}
        )
        fwd = {k: v for k, v in headers.items() if k.lower() in ("content-type", "accept")}
        started = time.perf_counter()
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
                    self._observe(name, variant, 599, started)
                    return _error(
                        503, "ServiceUnavailable", f"endpoint {name}: the model container is not reachable"
                    )
        self._observe(name, variant, resp.status, started)
        if resp.status >= 300:
            text = data.decode(errors="replace")
            return _error(
                424,
                "ModelError",
                f'Received client error ({resp.status}) from {variant.name} with message "{text}".',
                OriginalStatusCode=resp.status,
                OriginalMessage=text,
            )
        out = {
            "content-type": resp.getheader("content-type", "application/json"),
            "x-Amzn-Invoked-Production-Variant": variant.name,
        }
        return 200, out, data

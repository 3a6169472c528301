"""A local API Gateway HTTP API: routes read from the applied Api/Route/Integration, each Lambda in its own worker.

Requests become payload-v2 events; `AWS_IAM` routes verify SigV4 against the emulator's keys; the stage's default
throttling is enforced with a token bucket; the function's timeout, environment and memory come from the function
as the emulator holds it. Errors have API Gateway's shapes: 403/404/429 `{"message": ...}`, a function error 500
`{"message": "Internal Server Error"}`, an integration timeout 503 `{"message": "Service Unavailable"}`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tricloud.emulate import sigv4
from tricloud.emulate.loopback import LoopbackServer
from tricloud.engine.emulator import ACCESS_KEY_ID, SECRET_ACCESS_KEY, Emulator
from tricloud.engine.handlers.api import code_path

MAX_BODY_BYTES = 10 * 1024 * 1024  # HTTP API's payload limit


class GatewayError(Exception):
    pass


@dataclass
class FunctionSpec:
    name: str
    arn: str
    handler: str
    timeout_s: float
    memory_mb: int
    env: dict[str, str]
    code_zip: Path
    log_group: str


@dataclass
class RouteSpec:
    method: str
    path: str
    route_key: str
    auth_type: str
    function: FunctionSpec
    integration_timeout_s: float


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            if self.tokens < 0:
                self.tokens = self.burst
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


class LambdaRuntime:
    """One worker process per function (concurrency 1): started on first use, killed on timeout."""

    def __init__(self, fn: FunctionSpec, base_env: dict[str, str], workdir: Path) -> None:
        self.fn = fn
        self.base_env = base_env
        self.workdir = workdir
        self.proc: subprocess.Popen[str] | None = None
        self.lock = threading.Lock()
        self.cold_starts = 0
        self.task_root = self._extract()

    def _extract(self) -> Path:
        root = self.workdir / f"task-{self.fn.name}"
        if not root.exists():
            with zipfile.ZipFile(self.fn.code_zip) as zf:
                zf.extractall(root)
        return root

    def _start(self) -> None:
        fn = self.fn
        env = {
            **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT", "TMPDIR")},
            **self.base_env,
            **fn.env,
            "_HANDLER": fn.handler,
            "LAMBDA_TASK_ROOT": str(self.task_root),
            "PYTHONPATH": str(self.task_root),  # the deployed zip, not the working tree, is imported
            "AWS_LAMBDA_FUNCTION_NAME": fn.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": fn.log_group,
            "TRICLOUD_FUNCTION_ARN": fn.arn,
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tricloud.emulate.lambda_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL if not os.environ.get("TRICLOUD_LAMBDA_LOGS") else None,
            cwd=self.task_root,
            env=env,
            text=True,
        )
        self.cold_starts += 1
        line = self._readline(max(self.fn.timeout_s, 10.0))
        if line is None or "ready" not in json.loads(line):
            self.stop()
            raise GatewayError(f"function {self.fn.name}: cold start failed: {line!r}")

    def _readline(self, timeout: float) -> str | None:
        assert self.proc is not None and self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        return self.proc.stdout.readline() or None

    def invoke(self, event: dict[str, Any], request_id: str, timeout_s: float) -> tuple[str, Any]:
        """("ok", result) | ("error", {errorType, errorMessage}) | ("timeout", None)."""
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                self._start()
            assert self.proc is not None and self.proc.stdin is not None
            deadline_ms = int((time.time() + self.fn.timeout_s) * 1000)
            self.proc.stdin.write(
                json.dumps({"event": event, "request_id": request_id, "deadline_ms": deadline_ms}) + "\n"
            )
            self.proc.stdin.flush()
            line = self._readline(timeout_s)
            if line is None:
                # As Lambda does on a timeout: the environment is discarded; the next call is a cold start.
                self.stop()
                return "timeout", None
            reply = json.loads(line)
            if "error" in reply:
                return "error", reply["error"]
            return "ok", reply["result"]

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=5)
            self.proc = None


def load_routes(emu: Emulator, api_id: str, code_store: Path) -> tuple[list[RouteSpec], dict[str, Any]]:
    """Routes, integrations and functions as the emulator holds them (not as the program meant them)."""
    gw, lam = emu.client("apigatewayv2"), emu.client("lambda")
    stages = gw.get_stages(ApiId=api_id)["Items"]
    stage = next((s for s in stages if s["StageName"] == "$default"), stages[0] if stages else {})
    functions: dict[str, FunctionSpec] = {}
    routes = []
    for route in gw.get_routes(ApiId=api_id)["Items"]:
        target = route.get("Target", "")
        if not target.startswith("integrations/"):
            raise GatewayError(f"route {route['RouteKey']!r}: target {target!r} is not an integration")
        integ = gw.get_integration(ApiId=api_id, IntegrationId=target.removeprefix("integrations/"))
        if integ.get("IntegrationType") != "AWS_PROXY" or integ.get("PayloadFormatVersion") != "2.0":
            raise GatewayError(
                f"route {route['RouteKey']!r}: only Lambda proxy integrations with payload 2.0 run"
            )
        fn_arn = integ["IntegrationUri"]
        if fn_arn not in functions:
            conf = lam.get_function_configuration(FunctionName=fn_arn)
            zip_path = code_path(code_store, conf["CodeSha256"])
            if not zip_path.is_file():
                raise GatewayError(
                    f"function {conf['FunctionName']}: its code (sha256 {conf['CodeSha256']}) is not in {code_store}; "
                    "apply the stack again"
                )
            functions[fn_arn] = FunctionSpec(
                name=conf["FunctionName"],
                arn=conf["FunctionArn"],
                handler=conf["Handler"],
                timeout_s=float(conf.get("Timeout", 3)),
                memory_mb=int(conf.get("MemorySize", 128)),
                env=dict(conf.get("Environment", {}).get("Variables", {})),
                code_zip=zip_path,
                log_group=conf.get("LoggingConfig", {}).get(
                    "LogGroup", f"/aws/lambda/{conf['FunctionName']}"
                ),
            )
        method, _, path = route["RouteKey"].partition(" ")
        routes.append(
            RouteSpec(
                method=method,
                path=path,
                route_key=route["RouteKey"],
                auth_type=route.get("AuthorizationType", "NONE"),
                function=functions[fn_arn],
                integration_timeout_s=integ.get("TimeoutInMillis", 30000) / 1000,
            )
        )
    return routes, stage


class Gateway:
    def __init__(
        self,
        emu: Emulator,
        api_id: str,
        *,
        code_store: Path,
        function_env: dict[str, str],
        port: int = 0,
        throttle: bool = True,
    ) -> None:
        self.emu = emu
        self.api_id = api_id
        self.account = emu.account_id()
        self.routes, stage = load_routes(emu, api_id, code_store)
        settings = stage.get("DefaultRouteSettings") or {}
        self.stage = stage.get("StageName", "$default")
        self.bucket = (
            TokenBucket(
                float(settings["ThrottlingRateLimit"]), float(settings.get("ThrottlingBurstLimit", 1))
            )
            if throttle and settings.get("ThrottlingRateLimit")
            else None
        )
        self.tmp = tempfile.TemporaryDirectory(prefix="tricloud-lambda-")
        self.runtimes = {
            r.function.arn: LambdaRuntime(r.function, function_env, Path(self.tmp.name)) for r in self.routes
        }
        self.keys = {ACCESS_KEY_ID: SECRET_ACCESS_KEY}
        self.http = LoopbackServer(self.handle, max_body_bytes=MAX_BODY_BYTES, port=port)

    @property
    def port(self) -> int:
        return self.http.port

    @property
    def url(self) -> str:
        return self.http.url

    def warm(self) -> None:
        for rt in self.runtimes.values():
            with rt.lock:
                if rt.proc is None:
                    rt._start()

    def close(self) -> None:
        self.http.close()
        for rt in self.runtimes.values():
            rt.stop()
        self.tmp.cleanup()

    # --- request handling ---

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes, source_ip: str
    ) -> tuple[int, dict[str, str], bytes]:
        request_id = base64.b32encode(uuid.uuid4().bytes[:10]).decode().rstrip("=")
        base = {"apigw-requestid": request_id, "content-type": "application/json"}

        def message(status: int, text: str) -> tuple[int, dict[str, str], bytes]:
            return status, base, json.dumps({"message": text}).encode()

        parts = urlsplit(raw_path)
        route = next((r for r in self.routes if r.method == method and r.path == parts.path), None)
        if route is None:
            return message(404, "Not Found")
        if self.bucket is not None and not self.bucket.take():
            return message(429, "Too Many Requests")
        authorizer: dict[str, Any] | None = None
        if route.auth_type == "AWS_IAM":
            host = headers.get("host", f"127.0.0.1:{self.port}")
            try:
                caller = sigv4.verify(
                    method, f"http://{host}{raw_path}", headers, body, keys=self.keys, region=self.emu.region
                )
            except sigv4.SignatureError as exc:
                return message(403, str(exc))
            authorizer = {
                "iam": {
                    "accessKey": caller.access_key,
                    "accountId": self.account,
                    "callerId": caller.access_key,
                    "userArn": f"arn:aws:iam::{self.account}:user/tricloud-local",
                    "userId": caller.access_key,
                }
            }
        event = self._event(route, method, parts, headers, body, source_ip, request_id, authorizer)
        runtime = self.runtimes[route.function.arn]
        timeout = min(route.function.timeout_s, route.integration_timeout_s)
        try:
            kind, result = runtime.invoke(event, request_id, timeout)
        except GatewayError:
            return message(500, "Internal Server Error")
        if kind == "timeout":
            if route.integration_timeout_s <= route.function.timeout_s:
                return message(503, "Service Unavailable")  # what HTTP APIs answer on an integration timeout
            return message(500, "Internal Server Error")
        if kind == "error":
            return message(500, "Internal Server Error")
        return self._response(result, base)

    def _event(
        self,
        route: RouteSpec,
        method: str,
        parts: Any,
        headers: dict[str, str],
        body: bytes,
        source_ip: str,
        request_id: str,
        authorizer: dict[str, Any] | None,
    ) -> dict[str, Any]:
        now = dt.datetime.now(dt.UTC)
        lower: dict[str, str] = {}
        for k, v in headers.items():
            lower[k.lower()] = f"{lower[k.lower()]},{v}" if k.lower() in lower else v
        try:
            text, is_b64 = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, is_b64 = base64.b64encode(body).decode(), True
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route.route_key,
            "rawPath": parts.path,
            "rawQueryString": parts.query,
            "headers": lower,
            "requestContext": {
                "accountId": self.account,
                "apiId": self.api_id,
                "domainName": lower.get("host", "127.0.0.1"),
                "domainPrefix": self.api_id,
                "http": {
                    "method": method,
                    "path": parts.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": source_ip,
                    "userAgent": lower.get("user-agent", ""),
                },
                "requestId": request_id,
                "routeKey": route.route_key,
                "stage": self.stage,
                "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "timeEpoch": int(now.timestamp() * 1000),
            },
            "isBase64Encoded": is_b64,
        }
        if body:
            event["body"] = text
        if parts.query:
            qs: dict[str, str] = {}
            for k, v in parse_qsl(parts.query, keep_blank_values=True):
                qs[k] = f"{qs[k]},{v}" if k in qs else v
            event["queryStringParameters"] = qs
        if "cookie" in lower:
            event["cookies"] = [c.strip() for c in lower["cookie"].split(";")]
        if authorizer:
            event["requestContext"]["authorizer"] = authorizer
        return event

    @staticmethod
    def _response(result: Any, base: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        # Payload 2.0: a dict with statusCode is a full response; anything else is a 200 JSON body.
        if isinstance(result, dict) and "statusCode" in result:
            headers = {**base, **{k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}}
            raw = result.get("body") or ""
            data = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
            return int(result["statusCode"]), headers, data
        return 200, base, json.dumps(result).encode()

"""A local API Gateway HTTP API: routes read from the applied Api/Route/Integration, each Lambda in its own workers.

Requests become payload-v2 events; `AWS_IAM` routes verify SigV4 against the emulator's keys; the stage's default
throttling is enforced with a token bucket; the function's timeout, environment, memory, reserved concurrency and
role come from the function as the emulator holds it, and it runs with its role's credentials (STS AssumeRole), not
the emulator's root keys. What Lambda itself does with the role is authorized too: decrypting the environment with
the function's KMS key at each cold start, and shipping the log lines to the log group. Errors have API Gateway's shapes, `{"message": ...}`: 403/404/429, a throttled Lambda
(reserved concurrency reached) 500 "Internal Server Error", a function error or timeout 502 "Internal Server Error"
(AWS Lambda developer guide, "Handling Lambda errors with an API Gateway API"), an integration timeout 503
"Service Unavailable". The handler's log lines and START/END/REPORT go to the function's log group and to a file.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import math
import os
import select
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tricloud.emulate import sigv4
from tricloud.emulate.loopback import LoopbackServer
from tricloud.emulate.processes import Tracker
from tricloud.engine.emulator import ACCESS_KEY_ID, SECRET_ACCESS_KEY, Emulator
from tricloud.engine.handlers.api import code_path

MAX_BODY_BYTES = 10 * 1024 * 1024  # HTTP API's payload limit
# Without reserved concurrency a function may use the account's pool (1,000 on AWS); locally that is capped here.
UNRESERVED_CONCURRENCY = 10


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
    role: str = ""
    reserved_concurrency: int | None = None
    kms_key_arn: str = ""  # the customer key Lambda decrypts the environment with (as the function's role)
    log_format: str = "Text"  # LoggingConfig.LogFormat: JSON makes the runtime write JSON log lines


# (action, resource ARN) -> a denial (truthy) or None: what Lambda does as the function's role is authorized
Authorize = Callable[[str, str], Any]


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


MAX_PENDING_EVENTS = 10_000  # log events of one stream kept for a retry; beyond this they are dropped


class LogSink:
    """A function's log lines: appended to a file the learner can read and shipped to its CloudWatch log group,
    one stream per execution environment (`YYYY/MM/DD/[$LATEST]<id>`), as Lambda names them."""

    def __init__(
        self,
        fn: FunctionSpec,
        logs: Any | None,
        folder: Path,
        *,
        authorize: Authorize | None = None,
        group_arn: str = "",
    ) -> None:
        self.fn, self.logs, self.authorize, self.group_arn = fn, logs, authorize, group_arn
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{fn.name}.log"
        self.file = self.path.open("a", encoding="utf-8", buffering=1)
        self.lock = threading.Lock()
        self.batches: dict[str, list[dict[str, Any]]] = {}
        self.created: set[str] = set()
        self.warned = False

    def stream_name(self) -> str:
        return f"{dt.datetime.now(dt.UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"

    def write(self, stream: str, text: str) -> None:
        now = int(time.time() * 1000)
        with self.lock:
            self.file.write(text.replace("\r", "\n") + "\n")
            self.batches.setdefault(stream, []).append({"timestamp": now, "message": text})

    def flush(self) -> None:
        with self.lock:
            batches, self.batches = self.batches, {}
        if self.logs is None:
            return
        for stream, unordered in batches.items():
            # CloudWatch refuses a batch out of time order (the whole batch): lines written by two threads of a
            # worker (stdout, stderr) can be stamped out of order, so ship them sorted, as Lambda does.
            events = sorted(unordered, key=lambda e: e["timestamp"])
            if self.authorize is not None:
                # Lambda ships the logs as the function's role: without the permission they are lost, as on AWS.
                target = f"{self.group_arn}:log-stream:{stream}"
                needed = (
                    ["logs:PutLogEvents"]
                    if stream in self.created
                    else ["logs:CreateLogStream", "logs:PutLogEvents"]
                )
                try:
                    denial = next((d for a in needed if (d := self.authorize(a, target))), None)
                except Exception as exc:  # the role's policies could not be read (a busy or reset emulator)
                    self._retry_later(
                        stream, events, f"cannot authorize log shipping to {self.fn.log_group}: {exc}"
                    )
                    continue
                if denial:
                    if not self.warned:
                        self.warned = True
                        with self.lock:
                            self.file.write(f"[tricloud] AccessDenied: {denial}: log lines are not shipped\n")
                    continue
            try:
                if stream not in self.created:
                    with contextlib.suppress(self.logs.exceptions.ResourceAlreadyExistsException):
                        self.logs.create_log_stream(logGroupName=self.fn.log_group, logStreamName=stream)
                    self.created.add(stream)
                self.logs.put_log_events(
                    logGroupName=self.fn.log_group, logStreamName=stream, logEvents=events
                )
            except (
                Exception
            ) as exc:  # a missing log group is reported once, not fatal; a busy emulator retried
                self._retry_later(stream, events, f"cannot ship logs to {self.fn.log_group}: {exc}")

    def _retry_later(self, stream: str, events: list[dict[str, Any]], message: str) -> None:
        """Lambda retries log delivery: the batch waits for the next flush (bounded, so a gone group cannot grow it)."""
        self._warn(message)
        with self.lock:
            pending = self.batches.setdefault(stream, [])
            if len(pending) + len(events) <= MAX_PENDING_EVENTS:
                pending[:0] = events

    def _warn(self, message: str) -> None:
        if not self.warned:
            self.warned = True
            self.file.write(f"[tricloud] {message}\n")

    def close(self) -> None:
        self.flush()
        self.file.close()


class Worker:
    """One execution environment: a process that imported the handler, serving one invocation at a time."""

    def __init__(self, proc: subprocess.Popen[str], stream: str) -> None:
        self.proc, self.stream = proc, stream
        self.started = time.monotonic()

    def readline(self, timeout: float) -> str | None:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, timeout))
        if not ready:
            return None
        return self.proc.stdout.readline() or None


class LambdaRuntime:
    """Execution environments of one function, as Lambda runs them: up to `concurrency` invocations at once, each
    in its own worker (started on demand, kept warm, reused); one more is throttled at once, never queued. The
    function's timeout counts from the start of the invocation; a timed-out worker is discarded."""

    INIT_TIMEOUT_S = 10.0  # Lambda's limit for the init phase (the handler's import)

    def __init__(
        self,
        fn: FunctionSpec,
        base_env: dict[str, str] | Callable[[], dict[str, str]],
        workdir: Path,
        *,
        concurrency: int = 1,
        tracker: Tracker | None = None,
        logs: Any | None = None,
        logs_dir: Path | None = None,
        authorize: Authorize | None = None,
        log_group_arn: str = "",
    ) -> None:
        self.fn = fn
        self.authorize = authorize
        self.base_env = base_env
        self.workdir = workdir
        self.concurrency = max(0, concurrency)
        self.tracker = tracker or Tracker(None)
        self.lock = threading.Lock()
        self.idle: list[Worker] = []
        self.busy = 0  # invocations in flight (each holds one environment)
        self.peak = 0  # the most invocations in flight at once
        self.cold_starts = 0
        self.throttles = 0
        self.task_root = self._extract()
        self.sink = LogSink(
            fn, logs, logs_dir or workdir / "logs", authorize=authorize, group_arn=log_group_arn
        )

    def _extract(self) -> Path:
        root = self.workdir / f"task-{self.fn.name}"
        if not root.exists():
            with zipfile.ZipFile(self.fn.code_zip) as zf:
                zf.extractall(root)
        return root

    def _env(self) -> dict[str, str]:
        base = self.base_env() if callable(self.base_env) else self.base_env
        fn = self.fn
        return {
            **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT", "TMPDIR")},
            **base,
            **fn.env,
            "_HANDLER": fn.handler,
            "LAMBDA_TASK_ROOT": str(self.task_root),
            "PYTHONPATH": str(self.task_root),  # the deployed zip, not the working tree, is imported
            "AWS_LAMBDA_FUNCTION_NAME": fn.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": fn.log_group,
            "AWS_LAMBDA_LOG_FORMAT": fn.log_format,
            "TRICLOUD_FUNCTION_ARN": fn.arn,
            "PYTHONDONTWRITEBYTECODE": "1",
        }

    def _start(self) -> Worker:
        stream = self.sink.stream_name()
        if self.authorize is not None and self.fn.kms_key_arn:
            denial = self.authorize("kms:Decrypt", self.fn.kms_key_arn)
            if (
                denial
            ):  # Lambda decrypts the environment as the function's role before the handler is imported
                message = (
                    "KMSAccessDeniedException: Lambda was unable to decrypt the environment variables because KMS "
                    f"access was denied ({denial})"
                )
                self.sink.write(stream, f"[ERROR] {message}")
                self.sink.flush()
                raise GatewayError(f"function {self.fn.name}: init failed: {message}")
        proc = self.tracker.popen(
            f"lambda worker {self.fn.name}",
            [sys.executable, "-m", "tricloud.emulate.lambda_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self.task_root,
            env={**self._env(), "AWS_LAMBDA_LOG_STREAM_NAME": stream},
            text=True,
        )
        worker = Worker(proc, stream)
        threading.Thread(target=self._pump, args=(worker,), daemon=True).start()
        with self.lock:
            self.cold_starts += 1
        line = worker.readline(self.INIT_TIMEOUT_S)
        if line is None or "ready" not in json.loads(line):
            self._discard(worker)
            raise GatewayError(f"function {self.fn.name}: init failed: {line!r}")
        return worker

    def _pump(self, worker: Worker) -> None:
        assert worker.proc.stderr is not None
        for line in worker.proc.stderr:
            self.sink.write(worker.stream, line.rstrip("\n"))

    def _discard(self, worker: Worker) -> None:
        self.tracker.stop(worker.proc, grace_s=0)

    def warm(self) -> None:
        with self.lock:
            if self.idle or self.busy or not self.concurrency:
                return
            self.busy += 1
        try:
            worker = self._start()
        except BaseException:
            with self.lock:
                self.busy -= 1
            raise
        with self.lock:
            self.busy -= 1
            self.idle.append(worker)

    def invoke(self, event: dict[str, Any], request_id: str, timeout_s: float) -> tuple[str, Any]:
        """("ok", result) | ("error", {errorType, errorMessage}) | ("timeout", None) | ("throttled", None)."""
        with self.lock:
            if self.busy >= self.concurrency:
                self.throttles += 1
                return "throttled", None
            self.busy += 1
            self.peak = max(self.peak, self.busy)
            worker = self.idle.pop() if self.idle else None
        init_ms = 0.0
        try:
            if worker is None or worker.proc.poll() is not None:
                t0 = time.monotonic()
                worker = self._start()
                init_ms = (time.monotonic() - t0) * 1000
            started = time.monotonic()
            deadline_ms = int((time.time() + self.fn.timeout_s) * 1000)
            self.sink.write(worker.stream, f"START RequestId: {request_id} Version: $LATEST")
            assert worker.proc.stdin is not None
            worker.proc.stdin.write(
                json.dumps({"event": event, "request_id": request_id, "deadline_ms": deadline_ms}) + "\n"
            )
            worker.proc.stdin.flush()
            line = worker.readline(timeout_s)
            ms = (time.monotonic() - started) * 1000
            if line is None:
                # As Lambda does on a timeout: the environment is discarded; the next call is a cold start.
                self._discard(worker)
                self.sink.write(
                    worker.stream, f"{_stamp()} {request_id} Task timed out after {timeout_s:.2f} seconds"
                )
                worker = None
                return "timeout", None
            self.sink.write(worker.stream, f"END RequestId: {request_id}")
            report = (
                f"REPORT RequestId: {request_id}\tDuration: {ms:.2f} ms\tBilled Duration: {math.ceil(ms)} ms"
            )
            report += f"\tMemory Size: {self.fn.memory_mb} MB"
            if init_ms:
                report += f"\tInit Duration: {init_ms:.2f} ms"
            self.sink.write(worker.stream, report)
            reply = json.loads(line)
            if "error" in reply:
                return "error", reply["error"]
            return "ok", reply["result"]
        finally:
            with self.lock:
                self.busy -= 1
                if worker is not None and worker.proc.poll() is None:
                    self.idle.append(worker)
            self.sink.flush()

    def stop(self) -> None:
        with self.lock:
            idle, self.idle = self.idle, []
        for worker in idle:
            self._discard(worker)
        self.sink.close()


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def load_routes(
    emu: Emulator,
    api_id: str,
    code_store: Path,
    declared_logging: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[list[RouteSpec], dict[str, Any]]:
    """Routes, integrations and functions as the emulator holds them (not as the program meant them); a function's
    LoggingConfig, which moto does not keep, comes from `declared_logging` (function name -> the applied config)."""
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
            if not conf.get("LoggingConfig") and declared_logging:
                applied = declared_logging.get(conf["FunctionName"]) or {}
                conf["LoggingConfig"] = {k[0].upper() + k[1:]: v for k, v in applied.items()}
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
                role=conf.get("Role", ""),
                kms_key_arn=conf.get("KMSKeyArn", ""),
                log_format=conf.get("LoggingConfig", {}).get("LogFormat", "Text"),
                reserved_concurrency=lam.get_function_concurrency(FunctionName=conf["FunctionName"]).get(
                    "ReservedConcurrentExecutions"
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
        function_env: Callable[[FunctionSpec], dict[str, str]],
        workdir: Path,
        logs_dir: Path,
        port: int = 0,
        throttle: bool = True,
        tracker: Tracker | None = None,
        authorize: Callable[[FunctionSpec, str, str], Any] | None = None,
        declared_logging: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """`function_env(fn)` gives a function's environment (endpoints, its role's credentials) at each cold
        start; workers live under `workdir`, logs go to `logs_dir/<function>.log` and the log group.
        `authorize(fn, action, resource)` decides what Lambda does as the function's role (None: allowed)."""
        self.emu = emu
        self.api_id = api_id
        self.account = emu.account_id()
        self.routes, stage = load_routes(emu, api_id, code_store, declared_logging)
        settings = stage.get("DefaultRouteSettings") or {}
        self.stage = stage.get("StageName", "$default")
        self.bucket = (
            TokenBucket(
                float(settings["ThrottlingRateLimit"]), float(settings.get("ThrottlingBurstLimit", 1))
            )
            if throttle and settings.get("ThrottlingRateLimit")
            else None
        )
        self.runtimes: dict[str, LambdaRuntime] = {}
        for r in self.routes:
            fn = r.function
            if fn.arn not in self.runtimes:
                self.runtimes[fn.arn] = LambdaRuntime(
                    fn,
                    lambda fn=fn: function_env(fn),
                    workdir,
                    concurrency=UNRESERVED_CONCURRENCY
                    if fn.reserved_concurrency is None
                    else fn.reserved_concurrency,
                    tracker=tracker,
                    logs=emu.client("logs"),
                    logs_dir=logs_dir,
                    authorize=None if authorize is None else (lambda a, r, fn=fn: authorize(fn, a, r)),
                    log_group_arn=f"arn:aws:logs:{emu.region}:{self.account}:log-group:{fn.log_group}",
                )
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
            rt.warm()

    @property
    def log_files(self) -> dict[str, Path]:
        return {rt.fn.name: rt.sink.path for rt in self.runtimes.values()}

    def close(self) -> None:
        self.http.close()
        for rt in self.runtimes.values():
            rt.stop()

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
            return message(502, "Internal Server Error")  # the function could not start (init failed)
        if kind == "throttled":
            return message(500, "Internal Server Error")  # Lambda refused the invocation (429 to API Gateway)
        if kind == "timeout":
            if route.integration_timeout_s <= route.function.timeout_s:
                return message(503, "Service Unavailable")  # what HTTP APIs answer on an integration timeout
            return message(502, "Internal Server Error")
        if kind == "error":
            return message(502, "Internal Server Error")
        try:
            return self._response(result, base)
        except (TypeError, ValueError):
            return message(502, "Internal Server Error")  # a malformed proxy response

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

"""A stand-in for the Azure Functions host around the real Python worker: ``python -P host.py ...``.

Runs inside its own venv (Python 3.12, ``azure-functions-runtime`` and ``protobuf``; see hosts/functions.py), with
the Function App package extracted in ``--script-root``. What is real: the worker library's request handlers
(``azure_functions_runtime``: init and indexing of ``function_app.py``, function load, invocation, the binding
converters of ``azure.functions``), the package's own ``.python_packages`` on ``sys.path`` as the worker puts it
there, the app settings as environment variables. What this file stands in for: the .NET Functions host, which
talks to the worker over gRPC; here the same messages (built from a message schema written for the subset the
worker reads) are handed to the handlers in process, and the host's HTTP side is a loopback server that applies
the indexed bindings (route prefix from host.json, route templates, methods, auth level with a function key).

Stdlib and protobuf only: it must not import tricloud (which is not installed in this venv).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import sys
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PACKAGE = "tricloud.azure.rpc"
MAX_BODY_BYTES = 100 * 1024 * 1024  # the Functions host's default request size limit
DEFAULT_TIMEOUT_S = 300.0  # Consumption plan default functionTimeout (5 minutes)

# --- the message schema (the part of the Functions RPC protocol the worker library reads and writes) ----------

F = descriptor_pb2.FieldDescriptorProto
SCALARS = {
    "string": F.TYPE_STRING,
    "bytes": F.TYPE_BYTES,
    "bool": F.TYPE_BOOL,
    "int32": F.TYPE_INT32,
    "int64": F.TYPE_INT64,
    "sint64": F.TYPE_SINT64,
    "double": F.TYPE_DOUBLE,
}
ENUMS = {
    "StatusResult.Status": ("Failure", "Success", "Cancelled"),
    "BindingInfo.Direction": ("in", "out", "inout"),
    "BindingInfo.DataType": ("undefined", "string", "binary", "stream"),
    "RpcHttpCookie.SameSite": ("None", "Lax", "Strict", "ExplicitNone"),
}
# message -> fields: (name, type, label) with label "" (singular), "repeated", "map:<value type>" or "oneof:<name>"
MESSAGES: dict[str, list[tuple[str, str, str]]] = {
    "RpcException": [("source", "string", ""), ("stack_trace", "string", ""), ("message", "string", "")],
    "StatusResult": [
        ("status", "StatusResult.Status", ""),
        ("result", "string", ""),
        ("exception", "RpcException", ""),
    ],
    "WorkerMetadata": [
        ("runtime_name", "string", ""),
        ("runtime_version", "string", ""),
        ("worker_version", "string", ""),
        ("worker_bitness", "string", ""),
        ("custom_properties", "", "map:string"),
    ],
    "WorkerInitRequest": [
        ("host_version", "string", ""),
        ("capabilities", "", "map:string"),
        ("log_categories", "", "map:string"),
        ("worker_directory", "string", ""),
        ("function_app_directory", "string", ""),
    ],
    "WorkerInitResponse": [
        ("worker_version", "string", ""),
        ("capabilities", "", "map:string"),
        ("worker_metadata", "WorkerMetadata", ""),
        ("result", "StatusResult", ""),
    ],
    "FunctionsMetadataRequest": [("function_app_directory", "string", "")],
    "BindingInfo": [
        ("type", "string", ""),
        ("direction", "BindingInfo.Direction", ""),
        ("data_type", "BindingInfo.DataType", ""),
        ("properties", "", "map:string"),
    ],
    "RpcRetryOptions": [("max_retry_count", "int32", ""), ("retry_strategy", "int32", "")],
    "RpcFunctionMetadata": [
        ("name", "string", ""),
        ("directory", "string", ""),
        ("script_file", "string", ""),
        ("entry_point", "string", ""),
        ("bindings", "", "map:BindingInfo"),
        ("is_proxy", "bool", ""),
        ("status", "StatusResult", ""),
        ("language", "string", ""),
        ("raw_bindings", "string", "repeated"),
        ("function_id", "string", ""),
        ("managed_dependency_enabled", "bool", ""),
        ("retry_options", "RpcRetryOptions", ""),
        ("properties", "", "map:string"),
    ],
    "FunctionMetadataResponse": [
        ("function_metadata_results", "RpcFunctionMetadata", "repeated"),
        ("result", "StatusResult", ""),
        ("use_default_metadata_indexing", "bool", ""),
    ],
    "FunctionLoadRequest": [
        ("function_id", "string", ""),
        ("metadata", "RpcFunctionMetadata", ""),
        ("managed_dependency_enabled", "bool", ""),
    ],
    "FunctionLoadResponse": [("function_id", "string", ""), ("result", "StatusResult", "")],
    "NullableString": [("value", "string", "oneof:string")],
    "NullableBool": [("value", "bool", "oneof:bool")],
    "NullableDouble": [("value", "double", "oneof:double")],
    "NullableTimestamp": [("value", "int64", "oneof:timestamp")],
    "RpcHttpCookie": [
        ("name", "string", ""),
        ("value", "string", ""),
        ("domain", "NullableString", ""),
        ("path", "NullableString", ""),
        ("expires", "NullableTimestamp", ""),
        ("secure", "NullableBool", ""),
        ("http_only", "NullableBool", ""),
        ("same_site", "RpcHttpCookie.SameSite", ""),
        ("max_age", "NullableDouble", ""),
    ],
    "RpcHttp": [
        ("method", "string", ""),
        ("url", "string", ""),
        ("headers", "", "map:string"),
        ("body", "TypedData", ""),
        ("params", "", "map:string"),
        ("status_code", "string", ""),
        ("query", "", "map:string"),
        ("enable_content_negotiation", "bool", ""),
        ("cookies", "RpcHttpCookie", "repeated"),
    ],
    "TypedData": [
        ("string", "string", "oneof:data"),
        ("json", "string", "oneof:data"),
        ("bytes", "bytes", "oneof:data"),
        ("stream", "bytes", "oneof:data"),
        ("http", "RpcHttp", "oneof:data"),
        ("int", "sint64", "oneof:data"),
        ("double", "double", "oneof:data"),
    ],
    "RpcSharedMemory": [("name", "string", ""), ("offset", "int64", ""), ("count", "int64", "")],
    "ParameterBinding": [
        ("name", "string", ""),
        ("data", "TypedData", "oneof:rpc_data"),
        ("rpc_shared_memory", "RpcSharedMemory", "oneof:rpc_data"),
    ],
    "RpcTraceContext": [
        ("trace_parent", "string", ""),
        ("trace_state", "string", ""),
        ("attributes", "", "map:string"),
    ],
    "RetryContext": [
        ("retry_count", "int32", ""),
        ("max_retry_count", "int32", ""),
        ("exception", "RpcException", ""),
    ],
    "InvocationRequest": [
        ("invocation_id", "string", ""),
        ("function_id", "string", ""),
        ("input_data", "ParameterBinding", "repeated"),
        ("trigger_metadata", "", "map:TypedData"),
        ("trace_context", "RpcTraceContext", ""),
        ("retry_context", "RetryContext", ""),
    ],
    "InvocationResponse": [
        ("invocation_id", "string", ""),
        ("output_data", "ParameterBinding", "repeated"),
        ("return_value", "TypedData", ""),
        ("result", "StatusResult", ""),
    ],
    "StreamingMessage": [
        ("request_id", "string", ""),
        ("worker_init_request", "WorkerInitRequest", "oneof:content"),
        ("functions_metadata_request", "FunctionsMetadataRequest", "oneof:content"),
        ("function_load_request", "FunctionLoadRequest", "oneof:content"),
        ("invocation_request", "InvocationRequest", "oneof:content"),
    ],
}


def build_protos() -> SimpleNamespace:
    """Message classes for MESSAGES in a private descriptor pool, as a namespace like the worker's ``protos``."""
    fd = descriptor_pb2.FileDescriptorProto(name="tricloud_azure_rpc.proto", package=PACKAGE, syntax="proto3")
    protos: dict[str, descriptor_pb2.DescriptorProto] = {}
    for name in MESSAGES:
        protos[name] = fd.message_type.add(name=name)
    for qualified, values in ENUMS.items():
        owner, enum_name = qualified.split(".")
        enum = protos[owner].enum_type.add(name=enum_name)
        for number, value in enumerate(values):
            enum.value.add(name=value, number=number)

    def set_type(field: Any, type_name: str) -> None:
        if type_name in SCALARS:
            field.type = SCALARS[type_name]
        elif type_name in ENUMS:
            field.type, field.type_name = F.TYPE_ENUM, f".{PACKAGE}.{type_name}"
        else:
            field.type, field.type_name = F.TYPE_MESSAGE, f".{PACKAGE}.{type_name}"

    for name, fields in MESSAGES.items():
        msg = protos[name]
        oneofs: dict[str, int] = {}
        for number, (field_name, type_name, label) in enumerate(fields, start=1):
            field = msg.field.add(name=field_name, number=number, label=F.LABEL_OPTIONAL)
            if label.startswith("map:"):
                entry_name = "".join(p.capitalize() for p in field_name.split("_")) + "Entry"
                entry = msg.nested_type.add(name=entry_name)
                entry.options.map_entry = True
                entry.field.add(name="key", number=1, label=F.LABEL_OPTIONAL, type=F.TYPE_STRING)
                set_type(entry.field.add(name="value", number=2, label=F.LABEL_OPTIONAL), label[4:])
                field.label, field.type = F.LABEL_REPEATED, F.TYPE_MESSAGE
                field.type_name = f".{PACKAGE}.{name}.{entry_name}"
                continue
            set_type(field, type_name)
            if label == "repeated":
                field.label = F.LABEL_REPEATED
            elif label.startswith("oneof:"):
                group = label[6:]
                if group not in oneofs:
                    oneofs[group] = len(msg.oneof_decl)
                    msg.oneof_decl.add(name=group)
                field.oneof_index = oneofs[group]
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    classes = message_factory.GetMessageClassesForFiles([fd.name], pool)
    return SimpleNamespace(**{name: classes[f"{PACKAGE}.{name}"] for name in MESSAGES})


# --- logs: what the worker's log records become on the host side (the proxy worker forwards them as RpcLog) ----


class HostLogHandler(logging.Handler):
    """Every record of the app and the worker, one JSON line on stderr, tagged with its invocation."""

    def __init__(self, invocation: Any) -> None:
        super().__init__()
        self.invocation = invocation  # azure_functions_runtime's invocation_id context variable

    def emit(self, record: logging.LogRecord) -> None:
        try:
            entry = {
                "level": record.levelname,
                "category": record.name,
                "invocation_id": self.invocation.get() or getattr(record, "invocation_id", None),
                "message": record.getMessage(),
            }
            sys.stderr.write(json.dumps(entry, default=str) + "\n")
            sys.stderr.flush()
        except Exception:  # logging must never break an invocation
            self.handleError(record)


# --- the host ----------------------------------------------------------------------------------------------------


@dataclass
class HttpFunction:
    name: str
    function_id: str
    trigger_param: str
    route: str  # template without the prefix, e.g. "predict" or "{*path}"
    methods: tuple[str, ...]  # empty: every method
    auth_level: str  # anonymous | function | admin
    pattern: re.Pattern[str]
    literal: bool


def route_pattern(template: str) -> tuple[re.Pattern[str], bool]:
    """A route template ("predict", "items/{id}", "{*path}") as a regex with named groups; literal or not."""
    out, literal = [], True
    for segment in template.strip("/").split("/"):
        m = re.fullmatch(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(:[^}]*)?\??\}", segment)
        if m is None:
            out.append(re.escape(segment))
            continue
        literal = False
        out.append(f"(?P<{m.group(2)}>.*)" if m.group(1) else f"(?P<{m.group(2)}>[^/]+)")
    return re.compile("/".join(out), re.IGNORECASE), literal


class Host:
    def __init__(self, script_root: str, keys: dict[str, str], timeout_s: float) -> None:
        import azure_functions_runtime as worker

        self.worker = worker
        self.script_root = script_root
        self.keys = keys  # {"function": key, "master": key}
        self.timeout_s = timeout_s
        self.protos = build_protos()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.functions: list[HttpFunction] = []
        host_json = read_host_json(script_root)
        prefix = host_json.get("extensions", {}).get("http", {}).get("routePrefix", "api")
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""

    def _call(self, coro: Any, timeout: float | None = None) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def _message(self, **content: Any) -> SimpleNamespace:
        msg = self.protos.StreamingMessage(request_id=str(uuid.uuid4()), **content)
        return SimpleNamespace(request=msg, properties={"host": "127.0.0.1", "protos": self.protos})

    def start_worker(self) -> None:
        """WorkerInit (the worker indexes function_app.py), FunctionsMetadata, then FunctionLoad for each."""
        p = self.protos
        self.worker.start_threadpool_executor()
        init = self._call(
            self.worker.worker_init_request(
                self._message(
                    worker_init_request=p.WorkerInitRequest(
                        host_version="4.0.0-tricloud",
                        function_app_directory=self.script_root,
                        worker_directory=os.path.dirname(self.worker.__file__),
                    )
                )
            )
        )
        self._check(init.result, "worker init (indexing function_app.py)")
        meta = self._call(
            self.worker.functions_metadata_request(
                self._message(
                    functions_metadata_request=p.FunctionsMetadataRequest(
                        function_app_directory=self.script_root
                    )
                )
            )
        )
        self._check(meta.result, "functions metadata")
        for fm in meta.function_metadata_results:
            loaded = self._call(
                self.worker.function_load_request(
                    self._message(
                        function_load_request=p.FunctionLoadRequest(function_id=fm.function_id, metadata=fm)
                    )
                )
            )
            self._check(loaded.result, f"function load {fm.name}")
            self._register(fm)
        # Literal routes win over templates, as in the host's router.
        self.functions.sort(key=lambda f: (not f.literal, f.route.count("*")))

    def _check(self, status: Any, what: str) -> None:
        if status.status != self.protos.StatusResult.Success:
            raise SystemExit(f"azure functions host: {what} failed: {status.exception.message}")

    def _register(self, fm: Any) -> None:
        for raw in fm.raw_bindings:
            binding = json.loads(raw)
            if binding.get("type") != "httpTrigger":
                continue
            template = binding.get("route") or fm.name
            pattern, literal = route_pattern(template)
            methods = tuple(m.upper() for m in (binding.get("methods") or ()))
            self.functions.append(
                HttpFunction(
                    name=fm.name,
                    function_id=fm.function_id,
                    trigger_param=binding["name"],
                    route=template,
                    methods=methods,
                    auth_level=str(binding.get("authLevel", "function")).lower(),
                    pattern=pattern,
                    literal=literal,
                )
            )

    def match(self, method: str, path: str) -> tuple[HttpFunction, dict[str, str]] | None:
        if not path.lower().startswith(self.prefix.lower() + "/") and path.lower() != self.prefix.lower():
            return None
        rest = path[len(self.prefix) :].strip("/")
        for fn in self.functions:
            m = fn.pattern.fullmatch(rest)
            if m and (not fn.methods or method in fn.methods):
                return fn, {k: v for k, v in m.groupdict().items() if v is not None}
        return None

    def authorized(self, fn: HttpFunction, headers: dict[str, str], query: dict[str, str]) -> bool:
        if fn.auth_level == "anonymous":
            return True
        given = headers.get("x-functions-key") or query.get("code") or ""
        allowed = [self.keys["master"]] if fn.auth_level == "admin" else list(self.keys.values())
        return bool(given) and given in allowed

    def invoke(
        self,
        fn: HttpFunction,
        method: str,
        url: str,
        headers: dict[str, str],
        query: dict[str, str],
        params: dict[str, str],
        body: bytes,
    ) -> tuple[int, dict[str, str], bytes]:
        p = self.protos
        invocation_id = str(uuid.uuid4())
        http = p.RpcHttp(
            method=method, url=url, headers=headers, query=query, params=params, body=p.TypedData(bytes=body)
        )
        request = p.InvocationRequest(
            invocation_id=invocation_id,
            function_id=fn.function_id,
            input_data=[p.ParameterBinding(name=fn.trigger_param, data=p.TypedData(http=http))],
            trace_context=p.RpcTraceContext(trace_parent=headers.get("traceparent", "")),
        )
        started = time.perf_counter()
        try:
            resp = self._call(
                self.worker.invocation_request(self._message(invocation_request=request)), self.timeout_s
            )
        except TimeoutError:
            log(
                f"Timeout value of {self.timeout_s:.0f} s exceeded by function '{fn.name}' (Id: {invocation_id})"
            )
            return 500, {}, b""
        ms = (time.perf_counter() - started) * 1000
        if resp.result.status != p.StatusResult.Success:
            log(
                f"Executed '{fn.name}' (Failed, Id={invocation_id}, {ms:.0f} ms): {resp.result.exception.message}"
            )
            return 500, {}, b""  # the host answers an unhandled function error with a bare 500
        log(f"Executed '{fn.name}' (Succeeded, Id={invocation_id}, Duration={ms:.0f}ms)")
        out = resp.return_value.http
        kind = out.body.WhichOneof("data")
        data = getattr(out.body, kind) if kind else b""
        payload = data.encode() if isinstance(data, str) else bytes(data)
        status = int(out.status_code or 200)
        return status, dict(out.headers), payload


def read_host_json(script_root: str) -> dict[str, Any]:
    with open(os.path.join(script_root, "host.json"), encoding="utf-8") as fh:
        return dict(json.load(fh))


def log(message: str) -> None:
    sys.stderr.write(json.dumps({"level": "Information", "category": "Host", "message": message}) + "\n")
    sys.stderr.flush()


def serve(host: Host, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY_BYTES:
                self._send(413, {}, b"")
                return
            body = self.rfile.read(length) if length else b""
            method = self.command.upper()
            found = host.match(method, urllib.parse.unquote(parts.path))
            if found is None:
                self._send(404, {}, b"")  # the host's own 404: no body
                return
            fn, params = found
            headers = {k.lower(): v for k, v in self.headers.items()}
            query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
            if not host.authorized(fn, headers, query):
                self._send(401, {}, b"")
                return
            url = f"http://{self.headers.get('host', '127.0.0.1')}{self.path}"
            self._send(*host.invoke(fn, method, url, headers, query, params, body))

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for k, v in headers.items():
                if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server


def timeout_seconds(script_root: str) -> float:
    """functionTimeout: the app setting override, else host.json, else the plan's default."""
    raw = os.environ.get("AzureFunctionsJobHost__functionTimeout")  # noqa: SIM112 (the host reads this exact name)
    if not raw:
        raw = read_host_json(script_root).get("functionTimeout")
    if not raw:
        return DEFAULT_TIMEOUT_S
    h, m, s = (float(x) for x in raw.split(":"))
    return h * 3600 + m * 60 + s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--script-root", required=True, help="the extracted Function App package")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    keys = {
        "function": os.environ.pop("TRICLOUD_FUNCTION_KEY", ""),
        "master": os.environ.pop("TRICLOUD_MASTER_KEY", ""),
    }
    if not all(keys.values()):
        print("TRICLOUD_FUNCTION_KEY and TRICLOUD_MASTER_KEY must be set", file=sys.stderr)
        return 2
    root = os.path.abspath(args.script_root)
    # As the worker does: the package's dependencies, then the app itself, ahead of everything else.
    sys.path[:0] = [os.path.join(root, ".python_packages", "lib", "site-packages"), root]
    os.chdir(root)
    from azure_functions_runtime import invocation_id_cv

    logging.getLogger().addHandler(HostLogHandler(invocation_id_cv))
    logging.getLogger().setLevel(logging.INFO)
    host = Host(root, keys, timeout_seconds(root))
    host.start_worker()
    server = serve(host, args.port)
    names = ", ".join(
        f"{f.name} ({'|'.join(f.methods) or 'any'} {host.prefix}/{f.route})" for f in host.functions
    )
    print(
        f"azure functions host on http://127.0.0.1:{server.server_address[1]} functions: {names}", flush=True
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

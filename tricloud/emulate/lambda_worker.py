"""One Lambda execution environment: `python -m tricloud.emulate.lambda_worker` (started by the local gateway).

Imports the function's handler once (the cold start), then answers invocations read as JSON lines on stdin with
JSON lines on the original stdout. As in the Lambda Python runtime, the root logger has a handler that writes
`[LEVEL]\t<time>\t<request id>\t<message>` lines, and the handler's prints are log lines too: both go to stderr,
which the gateway ships to the function's log group and log file.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import logging
import os
import sys
import time
import traceback
from typing import Any

_request_id = ""


class Context:
    """The attributes of the Lambda context object the Python runtime passes."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        self.aws_request_id = request_id
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ.get("TRICLOUD_FUNCTION_ARN", "")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


class LambdaFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = dt.datetime.fromtimestamp(record.created, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        text = f"[{record.levelname}]\t{stamp}\t{_request_id}\t{record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text.replace(
            "\n", "\r"
        )  # one log event per record, as Lambda keeps multi-line records together


class LambdaJsonFormatter(logging.Formatter):
    """Lambda's JSON log format (LoggingConfig.LogFormat = JSON): timestamp, level, message, logger, requestId,
    plus the record's extra attributes, one JSON object per line (as the Python runtime writes it)."""

    RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        stamp = dt.datetime.fromtimestamp(record.created, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        doc: dict[str, Any] = {
            "timestamp": stamp,
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": _request_id or None,
        }
        if record.exc_info:
            doc["errorType"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            doc["stackTrace"] = traceback.format_tb(record.exc_info[2])
        doc.update((k, v) for k, v in record.__dict__.items() if k not in self.RESERVED and k not in doc)
        # Compact separators (the runtime puts a space after each): `tricloud logs --audit` greps one form.
        return json.dumps({k: v for k, v in doc.items() if v is not None}, default=str, separators=(",", ":"))


def install_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    json_format = os.environ.get("AWS_LAMBDA_LOG_FORMAT", "Text").upper() == "JSON"
    handler.setFormatter(LambdaJsonFormatter() if json_format else LambdaFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "INFO").upper())


def main() -> int:
    global _request_id
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr  # handler prints are logs, not protocol
    install_logging()
    module_name, _, func_name = os.environ["_HANDLER"].rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), func_name)
    except Exception as exc:
        traceback.print_exc()
        out.write(json.dumps({"init_error": f"Runtime.ImportModuleError: {exc}"}) + "\n")
        return 1
    out.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        msg = json.loads(line)
        _request_id = msg["request_id"]
        reply: dict[str, Any]
        try:
            result = handler(msg["event"], Context(msg["request_id"], msg["deadline_ms"]))
            reply = {"result": result}
        except Exception as exc:
            logging.getLogger().error("%s: %s", type(exc).__name__, exc, exc_info=True)
            reply = {"error": {"errorType": type(exc).__name__, "errorMessage": str(exc)}}
        sys.stderr.flush()
        out.write(json.dumps(reply, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Shared logic of the API handlers: routes, validation, endpoint call bounds, fallback, audit log.

Routes (every cloud, exact): ``POST /predict`` and ``GET /health``; another method on them is a 405, any other path
a 404. ``/health`` reports the endpoint's real state (``EndpointHealth``): what the last endpoint call showed, or a
probe when that is older than 30 s. Response shape: ``{"request_id", "predictions": [price_inr, ...], "model_version", "fallback"}``; errors:
``{"request_id", "message", "errors": [{"row", "field", "value", "error"}]}``. Bodies are always valid JSON: a
non-finite number in a request is a field error, never echoed back as ``Infinity``.

Fallback rule ``rules-v1`` (used when the endpoint fails, times out or answers nonsense):
    price = city rate per sq ft x area_sqft x tier factor x exp(-0.012 x age_years) x furnishing factor
with the rates and factors of ``app.market``. It is a coarse estimate and says so (``fallback: true``).
Stdlib only: the Lambda bundle needs no numpy, pandas or scikit-learn.
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import os
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.frontend import capture
from app.market import AGE_DECAY_PER_YEAR, CITY_PRICE_PER_SQFT, FURNISHING_FACTOR, TIER_FACTOR
from app.schema import MAX_ROWS_PER_REQUEST, dumps, instances_from_json, parse_json, validate_batch

FALLBACK_VERSION = "rules-v1"
# API bodies above this are refused (413): 1000 listings fit in well under 512 KiB.
MAX_BODY_BYTES = 512 * 1024

audit_log = logging.getLogger("tricloud.audit")
log = logging.getLogger("app.frontend")


class EndpointError(Exception):
    """The model endpoint failed; ``kind`` is logged (timeout, unavailable, bad_response...)."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


@dataclass(frozen=True)
class EndpointSettings:
    timeout_ms: int = 2000
    max_attempts: int = 2
    fallback_enabled: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> EndpointSettings:
        env = os.environ if env is None else env
        timeout = _env_int(env, "ENDPOINT_TIMEOUT_MS", 2000, 50, 60000)
        attempts = _env_int(env, "ENDPOINT_MAX_ATTEMPTS", 2, 1, 5)
        flag = env.get("FALLBACK_ENABLED", "true").strip().lower()
        if flag not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"FALLBACK_ENABLED must be true or false, got {flag!r}")
        return cls(timeout, attempts, flag in ("true", "1", "yes"))


def _env_int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return value


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line, the structured form Cloud Logging (and any log shipper) parses.

    ``severity`` is Cloud Logging's level field; an audit record's fields are top-level keys, so they are
    queryable (``jsonPayload.fallback=true``) instead of buried in a message string.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"severity": record.levelname, "logger": record.name}
        fields = getattr(record, "audit", None)
        if isinstance(fields, dict):
            entry.update(fields)
        else:
            entry["message"] = record.getMessage()
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, separators=(",", ":"), default=str)


def configure_logging() -> None:
    """Set the level; give the records a handler when the host installed none.

    Lambda's runtime and the Azure Functions worker put a handler on the root logger before importing the
    handler; functions-framework does not (unless LOG_EXECUTION_ID is set), and without one the INFO audit line
    would vanish. Stderr, not stdout: some hosts (the offline Lambda worker) speak their protocol on stdout.
    """
    root = logging.getLogger()
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    root.setLevel(level if level in logging.getLevelNamesMapping() else "INFO")
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLineFormatter())
        root.addHandler(handler)


def rule_estimate(record: Mapping[str, Any]) -> float:
    """The documented fallback rule (rules-v1) for one VALID record."""
    price = (
        CITY_PRICE_PER_SQFT[record["city"]]
        * float(record["area_sqft"])
        * TIER_FACTOR[int(record["locality_tier"])]
        * math.exp(-AGE_DECAY_PER_YEAR * float(record["age_years"]))
        * FURNISHING_FACTOR[record["furnishing"]]
    )
    return float(round(price, -3))


# An endpoint call takes the validated rows and returns (predictions, model version).
EndpointCall = Callable[[list[dict[str, Any]]], tuple[list[float], str]]
# The same with the call's bounds (timeout, attempts): /health probes with shorter ones than a prediction.
BoundedCall = Callable[[list[dict[str, Any]], "EndpointSettings"], tuple[list[float], str]]


@dataclass
class ApiResult:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> str:
        return dumps(self.body)


# The API's routes and the methods each accepts; HEAD is GET without a body.
ROUTES: dict[str, tuple[str, ...]] = {"/predict": ("POST",), "/health": ("GET", "HEAD")}


def resolve_route(method: str, path: str, request_id: str | None = None) -> str | ApiResult:
    """The route a request names (exactly), or the 404/405 answer; no prefix or suffix matching."""
    allowed = ROUTES.get(path)
    if allowed is None:
        result = not_found(method, path)
    elif method.upper() not in allowed:
        result = ApiResult(
            405,
            {"message": f"method {method[:16]} not allowed on {path}; use {allowed[0]}"},
            {"Allow": ", ".join(allowed)},
        )
    else:
        return path
    if request_id:
        result.body = {"request_id": request_id, **result.body}
    return result


def check_predictions(payload: Any, rows: int) -> tuple[list[float], str | None]:
    """Accept only a well-formed answer: as many finite numbers as rows were sent."""
    if isinstance(payload, str):  # an Azure ML scoring script may return the document as a JSON string
        try:
            payload = parse_json(payload)
        except (json.JSONDecodeError, RecursionError):
            raise EndpointError("bad_response", "answer is not JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("predictions"), list):
        raise EndpointError("bad_response", "answer has no predictions list")
    preds = payload["predictions"]
    if len(preds) != rows or not all(
        isinstance(p, int | float) and not isinstance(p, bool) and math.isfinite(p) for p in preds
    ):
        raise EndpointError("bad_response", f"expected {rows} numeric predictions")
    version = payload.get("model_version") or payload.get("modelVersionId") or payload.get("deployedModelId")
    return [float(p) for p in preds], (str(version) if version else None)


@dataclass
class Prediction:
    """What one request produced: the single record every observer reads (the audit line, the capture lines of
    ``app.frontend.capture``); observing never fails the request.
    """

    request_id: str
    cloud: str
    status: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)  # the validated rows, never logged as such
    predictions: list[float] = field(default_factory=list)
    model_version: str | None = None
    fallback: bool = False
    error_kind: str | None = None
    latency_ms: float = 0.0


def predict_request(
    body: str | bytes | None,
    content_type: str | None,
    call: EndpointCall,
    settings: EndpointSettings,
    *,
    request_id: str | None = None,
    cloud: str,
) -> ApiResult:
    """Validate, call the endpoint, fall back if it fails, then observe (audit); never raises."""
    started = time.perf_counter()
    record = Prediction(request_id=request_id or str(uuid.uuid4()), cloud=cloud)
    result = _predict(body, content_type, call, settings, record)
    result.body = {"request_id": record.request_id, **result.body}
    record.status = result.status
    record.latency_ms = (time.perf_counter() - started) * 1000
    observe(record)
    return result


def observe(record: Prediction) -> None:
    """Everything that watches predictions hangs here; a failure to observe never fails the request."""
    try:
        audit(
            record.request_id,
            cloud=record.cloud,
            status=record.status,
            rows=len(record.records),
            fallback=record.fallback,
            model_version=record.model_version,
            latency_ms=record.latency_ms,
            error_kind=record.error_kind,
        )
    except Exception:  # a broken log handler must not turn a prediction into a 5xx
        log.exception("audit failed for request %s", record.request_id)
    if record.status != 200:
        return  # only answered requests are captured: an invalid one has no prediction to judge
    try:
        capture.capture(
            record.request_id,
            record.cloud,
            record.records,
            record.predictions,
            record.model_version,
            record.fallback,
            record.latency_ms,
        )
    except Exception:  # capture is best effort: a failure is logged, the answer stands
        log.exception("capture failed for request %s", record.request_id)


def _predict(
    body: str | bytes | None,
    content_type: str | None,
    call: EndpointCall,
    settings: EndpointSettings,
    record: Prediction,
) -> ApiResult:
    def bad(status: int, message: str, errors: list[Any] | None = None) -> ApiResult:
        out: dict[str, Any] = {"message": message}
        if errors is not None:
            out["errors"] = errors
        record.error_kind = "invalid_request"
        return ApiResult(status, out)

    mtype = (content_type or "").split(";", 1)[0].strip().lower()
    if mtype != "application/json":
        return bad(415, f"Content-Type {content_type!r} is not supported; send application/json")
    raw = body.encode("utf-8") if isinstance(body, str) else (body or b"")
    if len(raw) > MAX_BODY_BYTES:
        return bad(413, f"body of {len(raw)} bytes exceeds the limit of {MAX_BODY_BYTES} bytes")
    try:
        payload = parse_json(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        return bad(400, f"malformed JSON: {exc}")
    instances, err = instances_from_json(payload)
    if err is not None or instances is None:
        return bad(400, "invalid input", [err] if err else None)
    if len(instances) > MAX_ROWS_PER_REQUEST:
        return bad(413, f"{len(instances)} instances exceed the limit of {MAX_ROWS_PER_REQUEST} per request")
    clean, errors = validate_batch(instances)
    if errors:
        return bad(400, "invalid input", errors)
    record.records = clean
    try:
        preds, version = call(clean)
        record.predictions, record.model_version = preds, version or "unknown"
        _health.record("available")
        return ApiResult(
            200, {"predictions": preds, "model_version": record.model_version, "fallback": False}
        )
    except EndpointError as exc:
        record.error_kind = exc.kind
        _health.record_failure(exc.kind)
        log.warning("endpoint call failed: %s", exc)
    except Exception as exc:  # any SDK error is an endpoint failure, not a crash of the API
        record.error_kind = type(exc).__name__
        _health.record("unavailable")
        log.warning("endpoint call failed: %r", exc)
    if not settings.fallback_enabled:
        return ApiResult(503, {"message": "prediction service unavailable"})
    record.predictions = [rule_estimate(r) for r in clean]
    record.model_version, record.fallback = FALLBACK_VERSION, True
    body_out = {"predictions": record.predictions, "model_version": FALLBACK_VERSION, "fallback": True}
    return ApiResult(200, body_out)


def audit(request_id: str, **fields: Any) -> None:
    """One JSON line per prediction; counts and outcomes only, never the listing itself."""
    line = {"event": "prediction", "request_id": request_id, **fields}
    if isinstance(line.get("latency_ms"), float):
        line["latency_ms"] = round(line["latency_ms"], 2)
    # The message is the JSON line (what Lambda's and the Azure worker's handlers print); `audit` lets a
    # structured handler (JsonLineFormatter) lift the fields to the top level.
    audit_log.info(dumps(line), extra={"audit": line})


# /health is open (no credentials) and may be called often: it must never load the endpoint or wait long on it.
HEALTH_TTL_S = 30.0  # what an endpoint call showed stays the answer this long; then one probe refreshes it
HEALTH_PROBE_TIMEOUT_MS = 1000  # a probe's one attempt; /health never waits much longer than this
# The probe's listing: a valid request, so the endpoint does the work of a prediction (a refused request would
# count as a client error in the endpoint's metrics and alarms).
PROBE_LISTING: dict[str, Any] = {
    "city": "Pune",
    "locality_tier": 2,
    "area_sqft": 1000,
    "bedrooms": 2,
    "bathrooms": 2,
    "age_years": 5,
    "floor": 3,
    "parking": 1,
    "furnishing": "semi-furnished",
    "distance_to_metro_km": 2.0,
}


class EndpointHealth:
    """What this API instance knows of its endpoint: ``available``, ``unavailable`` or ``not_configured``.

    Every endpoint call a prediction makes records its outcome (``record``); ``/health`` answers from that while
    it is fresher than ``ttl_s`` and otherwise probes, one probe at a time per instance: callers that arrive while
    one runs wait for it (bounded) and share its answer, so a flood of ``/health`` calls costs at most one
    endpoint call per instance per ``ttl_s``.
    """

    def __init__(self, ttl_s: float = HEALTH_TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self.state: str | None = None
        self.at = 0.0
        self.probes = 0
        self._probing = threading.Lock()

    def record(self, state: str) -> None:
        self.state, self.at = state, self.clock()

    def record_failure(self, kind: str) -> None:
        self.record("not_configured" if kind == "not_configured" else "unavailable")

    def _stale(self) -> bool:
        return self.state is None or self.clock() - self.at >= self.ttl_s

    def current(self, probe: Callable[[], Any], wait_s: float) -> tuple[str, float]:
        """(state, seconds since it was learned), probing first when what is known is stale."""
        if self._stale() and self._probing.acquire(timeout=wait_s):
            try:
                if self._stale():  # another caller may have probed while this one waited
                    self.probes += 1
                    try:
                        probe()
                        self.record("available")
                    except EndpointError as exc:
                        log.warning("health probe: endpoint call failed: %s", exc)
                        self.record_failure(exc.kind)
                    except Exception as exc:  # any SDK error means the endpoint cannot be used
                        log.warning("health probe: endpoint call failed: %r", exc)
                        self.record("unavailable")
            finally:
                self._probing.release()
        return self.state or "unknown", max(0.0, self.clock() - self.at)


_health = EndpointHealth()  # one per process: each execution environment keeps its own, as a warm client does


def health(cloud: str, call: BoundedCall, settings: EndpointSettings) -> ApiResult:
    """``/health``: 200 ``ok`` with the endpoint available; 200 ``degraded`` when it is not but the fallback rule
    answers; 503 when it is not and the fallback is off (the API cannot predict)."""
    timeout_ms = min(settings.timeout_ms, HEALTH_PROBE_TIMEOUT_MS)
    probe_settings = EndpointSettings(timeout_ms, 1, settings.fallback_enabled)
    state, age = _health.current(lambda: call([PROBE_LISTING], probe_settings), wait_s=2 * timeout_ms / 1000)
    if state == "available":
        status, code = "ok", 200
    else:
        status, code = ("degraded", 200) if settings.fallback_enabled else ("unavailable", 503)
    return ApiResult(
        code, {"status": status, "cloud": cloud, "endpoint": state, "checked_s_ago": round(age, 1)}
    )


def not_found(method: str, path: str) -> ApiResult:
    return ApiResult(404, {"message": f"no route {method} {path[:200]}; use POST /predict or GET /health"})


def post_json_with_retries(
    url: str, payload: Any, headers: Mapping[str, str], settings: EndpointSettings
) -> Any:
    """POST JSON with a per-attempt timeout and bounded retries (timeouts, 429, 5xx, refused)."""
    data = dumps(payload).encode()
    last = EndpointError("unavailable")
    for attempt in range(settings.max_attempts):
        if attempt:
            time.sleep(min(0.05 * 2**attempt, 0.5))
        req = urllib.request.Request(
            url, data=data, method="POST", headers={"Content-Type": "application/json", **headers}
        )
        try:
            with urllib.request.urlopen(req, timeout=settings.timeout_ms / 1000) as resp:
                return parse_json(resp.read())
        except urllib.error.HTTPError as exc:
            last = EndpointError("http_" + str(exc.code), exc.reason)
            if exc.code != 429 and exc.code < 500:
                raise last from None
        except TimeoutError:
            last = EndpointError("timeout", f"no answer within {settings.timeout_ms} ms")
        except urllib.error.URLError as exc:
            kind = "timeout" if isinstance(exc.reason, TimeoutError) else "unavailable"
            last = EndpointError(kind, str(exc.reason))
        except (ConnectionError, http.client.HTTPException) as exc:
            last = EndpointError("unavailable", repr(exc))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            raise EndpointError("bad_response", "answer is not JSON") from None
    raise last

"""Shared logic of the API handlers: validation, endpoint call bounds, fallback, audit log.

Response shape (every cloud): ``{"request_id", "predictions": [price_inr, ...], "model_version",
"fallback"}``; errors: ``{"request_id", "message", "errors": [{"row", "field", "value", "error"}]}``.

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
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.market import AGE_DECAY_PER_YEAR, CITY_PRICE_PER_SQFT, FURNISHING_FACTOR, TIER_FACTOR
from app.schema import MAX_ROWS_PER_REQUEST, instances_from_json, validate_batch

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


def configure_logging() -> None:
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    logging.getLogger().setLevel(level if level in logging.getLevelNamesMapping() else "INFO")


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


@dataclass
class ApiResult:
    status: int
    body: dict[str, Any]

    def json(self) -> str:
        return json.dumps(self.body, separators=(",", ":"))


def check_predictions(payload: Any, rows: int) -> tuple[list[float], str | None]:
    """Accept only a well-formed answer: as many finite numbers as rows were sent."""
    if isinstance(payload, str):  # Azure ML may return the JSON document as a JSON string
        try:
            payload = json.loads(payload)
        except json.JSONDecodeError:
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


def predict_request(
    body: str | bytes | None,
    content_type: str | None,
    call: EndpointCall,
    settings: EndpointSettings,
    *,
    request_id: str | None = None,
    cloud: str,
) -> ApiResult:
    """Validate, call the endpoint, fall back if it fails, write one audit line; never raises."""
    started = time.perf_counter()
    rid = request_id or str(uuid.uuid4())
    result, rows, fallback, version, error_kind = _predict(body, content_type, call, settings)
    result.body = {"request_id": rid, **result.body}
    audit(
        rid,
        cloud=cloud,
        status=result.status,
        rows=rows,
        fallback=fallback,
        model_version=version,
        latency_ms=(time.perf_counter() - started) * 1000,
        error_kind=error_kind,
    )
    return result


def _predict(
    body: str | bytes | None, content_type: str | None, call: EndpointCall, settings: EndpointSettings
) -> tuple[ApiResult, int, bool, str | None, str | None]:
    def bad(
        status: int, message: str, errors: list[Any] | None = None
    ) -> tuple[ApiResult, int, bool, None, str]:
        out: dict[str, Any] = {"message": message}
        if errors is not None:
            out["errors"] = errors
        return ApiResult(status, out), 0, False, None, "invalid_request"

    mtype = (content_type or "").split(";", 1)[0].strip().lower()
    if mtype != "application/json":
        return bad(415, f"Content-Type {content_type!r} is not supported; send application/json")
    raw = body.encode("utf-8") if isinstance(body, str) else (body or b"")
    if len(raw) > MAX_BODY_BYTES:
        return bad(413, f"body of {len(raw)} bytes exceeds the limit of {MAX_BODY_BYTES} bytes")
    try:
        payload = json.loads(raw)
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
    try:
        preds, version = call(clean)
        version = version or "unknown"
        return (
            ApiResult(200, {"predictions": preds, "model_version": version, "fallback": False}),
            len(clean),
            False,
            version,
            None,
        )
    except EndpointError as exc:
        kind = exc.kind
        log.warning("endpoint call failed: %s", exc)
    except Exception as exc:  # any SDK error is an endpoint failure, not a crash of the API
        kind = type(exc).__name__
        log.warning("endpoint call failed: %r", exc)
    if not settings.fallback_enabled:
        return ApiResult(503, {"message": "prediction service unavailable"}), len(clean), False, None, kind
    preds = [rule_estimate(r) for r in clean]
    body_out = {"predictions": preds, "model_version": FALLBACK_VERSION, "fallback": True}
    return ApiResult(200, body_out), len(clean), True, FALLBACK_VERSION, kind


def audit(request_id: str, **fields: Any) -> None:
    """One JSON line per prediction; counts and outcomes only, never the listing itself."""
    line = {"event": "prediction", "request_id": request_id, **fields}
    if isinstance(line.get("latency_ms"), float):
        line["latency_ms"] = round(line["latency_ms"], 2)
    audit_log.info(json.dumps(line, separators=(",", ":")))


def health(cloud: str, endpoint_configured: bool) -> ApiResult:
    return ApiResult(200, {"status": "ok", "cloud": cloud, "endpoint_configured": endpoint_configured})


def not_found(method: str, path: str) -> ApiResult:
    return ApiResult(404, {"message": f"no route {method} {path}; use POST /predict or GET /health"})


def post_json_with_retries(
    url: str, payload: Any, headers: Mapping[str, str], settings: EndpointSettings
) -> Any:
    """POST JSON with a per-attempt timeout and bounded retries (timeouts, 429, 5xx, refused)."""
    data = json.dumps(payload).encode()
    last = EndpointError("unavailable")
    for attempt in range(settings.max_attempts):
        if attempt:
            time.sleep(min(0.05 * 2**attempt, 0.5))
        req = urllib.request.Request(
            url, data=data, method="POST", headers={"Content-Type": "application/json", **headers}
        )
        try:
            with urllib.request.urlopen(req, timeout=settings.timeout_ms / 1000) as resp:
                return json.loads(resp.read())
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
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise EndpointError("bad_response", "answer is not JSON") from None
    raise last

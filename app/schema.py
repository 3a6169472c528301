"""The one request schema of the house-price model.

Every consumer reads it from here: the Spark job's validation (``app.features.job``), the
serving adapters (``app.serve``), the API handlers (``app.frontend``) and the GCP API Gateway
config (``openapi_schema()``). Errors are field-level objects ``{"field", "value", "error"}``
(plus ``"row"`` inside a batch).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, TypedDict

SCHEMA_VERSION = "1"

CITIES: tuple[str, ...] = (
    "Mumbai",
    "Delhi",
    "Bengaluru",
    "Hyderabad",
    "Chennai",
    "Pune",
    "Kolkata",
    "Ahmedabad",
)
FURNISHING: tuple[str, ...] = ("unfurnished", "semi-furnished", "furnished")

# Plain decimal numbers only: the Spark job applies the same pattern, so "1_000", "1d", "0x10" and
# "NaN" are rejected by both validators alike.
NUMBER_PATTERN = r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"
_NUMBER_RE = re.compile(NUMBER_PATTERN)

# A batch larger than this is refused (413) before any parsing work is spent on it.
MAX_ROWS_PER_REQUEST = 1000


class ErrorCode(StrEnum):
    MISSING = "missing"
    WRONG_TYPE = "wrong_type"
    OUT_OF_RANGE = "out_of_range"
    NOT_ALLOWED = "not_allowed"
    UNKNOWN_FIELD = "unknown_field"


Kind = Literal["string", "integer", "number"]


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    description: str
    minimum: float | None = None
    maximum: float | None = None
    allowed: tuple[str, ...] | None = None
    unit: str = ""


REQUEST_FIELDS: tuple[Field, ...] = (
    Field("city", "string", "City of the listing", allowed=CITIES),
    Field("locality_tier", "integer", "Locality tier: 1 prime, 2 mid-market, 3 outskirts", 1, 3),
    Field("area_sqft", "number", "Carpet area", 150, 20000, unit="sq ft"),
    Field("bedrooms", "integer", "Bedrooms (BHK)", 1, 10),
    Field("bathrooms", "integer", "Bathrooms", 1, 10),
    Field("age_years", "number", "Age of the building", 0, 100, unit="years"),
    Field("floor", "integer", "Floor of the unit (0 = ground)", 0, 120),
    Field("parking", "integer", "Covered parking spaces", 0, 4),
    Field("furnishing", "string", "Furnishing status", allowed=FURNISHING),
    Field("distance_to_metro_km", "number", "Distance to the nearest metro station", 0, 50, unit="km"),
)
LABEL = Field("price_inr", "number", "Sale price", 1e5, 1e10, unit="INR")
TRAINING_FIELDS: tuple[Field, ...] = (*REQUEST_FIELDS, LABEL)
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in REQUEST_FIELDS)
_BY_NAME: dict[str, Field] = {f.name: f for f in TRAINING_FIELDS}


class FieldError(TypedDict, total=False):
    row: int
    field: str
    value: Any
    error: str
    code: str


def field_error(field: str, value: Any, code: ErrorCode, message: str, row: int | None = None) -> FieldError:
    err: FieldError = {"field": field, "value": _echo(value), "error": message, "code": code.value}
    if row is not None:
        err = {"row": row, **err}
    return err


def _echo(value: Any) -> Any:
    # Echo the value so the caller sees what was wrong, but never a huge blob.
    if isinstance(value, str) and len(value) > 64:
        return value[:64] + "..."
    if isinstance(value, int | float | bool | str) or value is None:
        return value
    return repr(value)[:64]


def range_message(f: Field) -> str:
    return f"must be between {_fmt(f.minimum)} and {_fmt(f.maximum)}{' ' + f.unit if f.unit else ''}"


def allowed_message(f: Field) -> str:
    return f"must be one of {', '.join(f.allowed or ())}"


def _fmt(x: float | None) -> str:
    return f"{x:g}" if x is not None else "?"


def check_value(f: Field, value: Any, *, from_text: bool = False) -> tuple[Any, FieldError | None]:
    """Validate one value; returns (normalised value, None) or (None, error).

    JSON input is strict (a number given as a string is a type error); text input (CSV) is
    parsed, since every CSV cell is a string.
    """
    if value is None or (from_text and isinstance(value, str) and value.strip() == ""):
        return None, field_error(f.name, value, ErrorCode.MISSING, "is required")
    if isinstance(value, float) and math.isnan(value):
        return None, field_error(f.name, None, ErrorCode.MISSING, "is required")
    if f.kind == "string":
        if not isinstance(value, str):
            return None, field_error(f.name, value, ErrorCode.WRONG_TYPE, "must be a string")
        v = value.strip()
        if f.allowed is not None and v not in f.allowed:
            return None, field_error(f.name, value, ErrorCode.NOT_ALLOWED, allowed_message(f))
        return v, None
    num = _to_number(value, from_text)
    if num is None or not math.isfinite(num):
        return None, field_error(f.name, value, ErrorCode.WRONG_TYPE, f"must be {_article(f.kind)}")
    if f.kind == "integer":
        if num != math.floor(num):
            return None, field_error(f.name, value, ErrorCode.WRONG_TYPE, "must be an integer")
        num = int(num)
    if (f.minimum is not None and num < f.minimum) or (f.maximum is not None and num > f.maximum):
        return None, field_error(f.name, value, ErrorCode.OUT_OF_RANGE, range_message(f))
    return num, None


def _article(kind: Kind) -> str:
    return "an integer" if kind == "integer" else "a number"


def _to_number(value: Any, from_text: bool) -> float | None:
    if isinstance(value, bool):  # JSON true/false is not a count of anything
        return None
    if isinstance(value, int | float):
        return float(value)
    if hasattr(value, "dtype") and hasattr(value, "item"):  # numpy scalars from pandas frames
        return _to_number(value.item(), from_text)
    if from_text and isinstance(value, str):
        text = value.strip()
        return float(text) if _NUMBER_RE.fullmatch(text) else None
    return None


def validate_record(
    record: Any,
    *,
    row: int | None = None,
    from_text: bool = False,
    fields: Sequence[Field] = REQUEST_FIELDS,
    allow_extra: bool = False,
) -> tuple[dict[str, Any] | None, list[FieldError]]:
    """Validate one request object; returns (clean record, []) or (None, errors)."""
    if not isinstance(record, Mapping):
        kind = type(record).__name__
        return None, [
            field_error(
                "$", record, ErrorCode.WRONG_TYPE, f"each instance must be an object, got {kind}", row
            )
        ]
    clean: dict[str, Any] = {}
    errors: list[FieldError] = []
    for f in fields:
        value, err = check_value(f, record.get(f.name), from_text=from_text)
        if err is not None:
            if row is not None:
                err = {"row": row, **err}
            errors.append(err)
        else:
            clean[f.name] = value
    if not allow_extra:
        known = {f.name for f in fields}
        for key in record:
            if key not in known:
                errors.append(
                    field_error(str(key), record[key], ErrorCode.UNKNOWN_FIELD, "is not a known field", row)
                )
    return (None, errors) if errors else (clean, [])


def validate_batch(
    records: Sequence[Any], *, from_text: bool = False
) -> tuple[list[dict[str, Any]], list[FieldError]]:
    """Validate every row; the batch is accepted only when all rows are valid."""
    if len(records) == 0:
        return [], [field_error("instances", [], ErrorCode.MISSING, "must contain at least one instance")]
    if len(records) > MAX_ROWS_PER_REQUEST:
        return [], [
            field_error(
                "instances",
                len(records),
                ErrorCode.OUT_OF_RANGE,
                f"at most {MAX_ROWS_PER_REQUEST} instances per request",
            )
        ]
    clean: list[dict[str, Any]] = []
    errors: list[FieldError] = []
    for i, rec in enumerate(records):
        ok, errs = validate_record(rec, row=i, from_text=from_text)
        if ok is None:
            errors.extend(errs)
        else:
            clean.append(ok)
    return clean, errors


def instances_from_json(payload: Any) -> tuple[list[Any] | None, FieldError | None]:
    """Accept one object, a list of objects, or ``{"instances": [...]}``."""
    if isinstance(payload, list):
        return payload, None
    if isinstance(payload, dict):
        if "instances" in payload:
            inst = payload["instances"]
            if not isinstance(inst, list):
                return None, field_error("instances", inst, ErrorCode.WRONG_TYPE, "must be a list of objects")
            return inst, None
        return [payload], None
    return None, field_error(
        "$", payload, ErrorCode.WRONG_TYPE, "body must be an object or a list of objects"
    )


class NonFiniteNumber(str):
    """A JSON number or constant with no finite float value (``1e400``, ``NaN``, ``Infinity``), kept as its text.

    Python's ``json`` turns these into ``inf``/``nan``, which no JSON document can echo back; as text they fail
    validation like any other wrong value ("must be a number", value ``"1e400"``) and serialise as strings.
    """


def parse_json(text: str | bytes) -> Any:
    """``json.loads`` for request bodies: non-finite numbers become ``NonFiniteNumber`` text, never inf/nan."""

    def number(literal: str) -> float | NonFiniteNumber:
        value = float(literal)
        return value if math.isfinite(value) else NonFiniteNumber(literal)

    def integer(literal: str) -> int | NonFiniteNumber:
        # An integer beyond float range (or beyond Python's digit limit) is as unusable as 1e400.
        if len(literal) > 308:
            return NonFiniteNumber(literal)
        return int(literal)

    return json.loads(text, parse_float=number, parse_int=integer, parse_constant=NonFiniteNumber)


def dumps(payload: Any) -> str:
    """Compact JSON that is valid everywhere: a stray inf/nan raises here instead of emitting ``Infinity``."""
    return json.dumps(payload, separators=(",", ":"), allow_nan=False)


def parse_csv_rows(text: str) -> list[dict[str, Any]]:
    """CSV rows in REQUEST_FIELDS order; an optional header row naming the fields is skipped."""
    import csv
    import io

    rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    if rows and [c.strip() for c in rows[0]] == list(FIELD_NAMES):
        rows = rows[1:]
    out: list[dict[str, Any]] = []
    for r in rows:
        # Short rows give "missing" errors; surplus cells become unknown fields, so both are reported.
        rec: dict[str, Any] = dict(zip(FIELD_NAMES, r, strict=False))
        rec.update({f"column_{i + 1}": c for i, c in enumerate(r) if i >= len(FIELD_NAMES)})
        out.append(rec)
    return out


def field(name: str) -> Field:
    return _BY_NAME[name]


def _field_json_schema(f: Field) -> dict[str, Any]:
    s: dict[str, Any] = {"type": f.kind, "description": f.description + (f" ({f.unit})" if f.unit else "")}
    if f.allowed is not None:
        s["enum"] = list(f.allowed)
    if f.minimum is not None:
        s["minimum"] = f.minimum if f.kind == "number" else int(f.minimum)
    if f.maximum is not None:
        s["maximum"] = f.maximum if f.kind == "number" else int(f.maximum)
    return s


def request_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12 subset, also valid OpenAPI 3 Schema Object) of ONE instance."""
    return {
        "type": "object",
        "title": "HouseListing",
        "additionalProperties": False,
        "required": list(FIELD_NAMES),
        "properties": {f.name: _field_json_schema(f) for f in REQUEST_FIELDS},
    }


def openapi_schema() -> dict[str, Any]:
    """OpenAPI 3 components of the prediction API: request, response and error shapes.

    The GCP API Gateway config is generated from this; the handlers in ``app.frontend`` and the
    servers in ``app.serve`` accept exactly these bodies.
    """
    instance = request_json_schema()
    return {
        "HouseListing": instance,
        "PredictRequest": {
            "oneOf": [
                {"$ref": "#/components/schemas/HouseListing"},
                {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/HouseListing"},
                    "minItems": 1,
                    "maxItems": MAX_ROWS_PER_REQUEST,
                },
                {
                    "type": "object",
                    "required": ["instances"],
                    "additionalProperties": False,
                    "properties": {
                        "instances": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/HouseListing"},
                            "minItems": 1,
                            "maxItems": MAX_ROWS_PER_REQUEST,
                        }
                    },
                },
            ]
        },
        "PredictResponse": {
            "type": "object",
            "required": ["predictions", "model_version"],
            "properties": {
                "predictions": {"type": "array", "items": {"type": "number", "description": "price in INR"}},
                "model_version": {"type": "string"},
                "fallback": {"type": "boolean"},
                "request_id": {"type": "string"},
            },
        },
        "FieldError": {
            "type": "object",
            "required": ["field", "value", "error"],
            "properties": {
                "row": {"type": "integer"},
                "field": {"type": "string"},
                "value": {},
                "error": {"type": "string"},
                "code": {"type": "string", "enum": [c.value for c in ErrorCode]},
            },
        },
        "ErrorResponse": {
            "type": "object",
            "required": ["errors"],
            "properties": {
                "message": {"type": "string"},
                "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
            },
        },
    }

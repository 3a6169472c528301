"""Feature transformations, defined once and compiled three ways.

Each feature is a small expression tree. The same tree is compiled to
- Spark Column expressions (``app.features.job``) for the curated-data job,
- vectorised numpy (``featurize_frame``) for training from raw CSV,
- one generated pure-Python function (``featurize_record``) for the serving hot path,
so train/serve skew can only come from a compiler bug, and the parity tests compare all three.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from app.schema import CITIES, FURNISHING

if TYPE_CHECKING:  # serving never needs pandas at run time
    import pandas as pd


@dataclass(frozen=True)
class Expr:
    op: str
    args: tuple[Any, ...]


def col(name: str) -> Expr:
    return Expr("col", (name,))


def log(e: Expr) -> Expr:
    return Expr("log", (e,))


def log1p(e: Expr) -> Expr:
    return Expr("log1p", (e,))


def div(a: Expr, b: Expr) -> Expr:
    return Expr("div", (a, b))


def sub(a: Expr, b: Expr) -> Expr:
    return Expr("sub", (a, b))


def least(a: Expr, bound: float) -> Expr:
    return Expr("least", (a, float(bound)))


def is_equal(a: Expr, value: str) -> Expr:
    """1.0 when the string column equals ``value``, else 0.0 (one-hot encoding)."""
    return Expr("eq", (a, value))


def lookup(a: Expr, table: Mapping[str, float]) -> Expr:
    return Expr("lookup", (a, tuple((k, float(v)) for k, v in table.items())))


FEATURES: tuple[tuple[str, Expr], ...] = (
    *((f"city_{c.lower()}", is_equal(col("city"), c)) for c in CITIES),
    ("locality_tier", col("locality_tier")),
    ("area_sqft", col("area_sqft")),
    ("log_area", log(col("area_sqft"))),
    ("bedrooms", col("bedrooms")),
    ("bathrooms", col("bathrooms")),
    ("area_per_bedroom", div(col("area_sqft"), col("bedrooms"))),
    ("bath_minus_bed", sub(col("bathrooms"), col("bedrooms"))),
    ("age_years", col("age_years")),
    ("floor_capped", least(col("floor"), 30)),
    ("parking", col("parking")),
    ("furnishing_level", lookup(col("furnishing"), {f: i for i, f in enumerate(FURNISHING)})),
    ("log_metro_km", log1p(col("distance_to_metro_km"))),
)
FEATURE_NAMES: tuple[str, ...] = tuple(name for name, _ in FEATURES)


# ---- numpy (batches) ---------------------------------------------------------------------


_NP_UNARY = {"log": np.log, "log1p": np.log1p}
_NP_BINARY = {"div": np.divide, "sub": np.subtract}
_PY_UNARY = {"log": "_log", "log1p": "_log1p"}
_PY_BINARY = {"div": "/", "sub": "-"}


def _np(e: Expr, frame: pd.DataFrame) -> np.ndarray:
    op, a = e.op, e.args
    if op == "col":
        s = frame[a[0]]
        return s.to_numpy(dtype=object) if s.dtype == object or s.dtype == "string" else s.to_numpy(float)
    if op in _NP_UNARY:
        return _NP_UNARY[op](_np(a[0], frame).astype(float))
    if op in _NP_BINARY:
        return _NP_BINARY[op](_np(a[0], frame).astype(float), _np(a[1], frame).astype(float))
    if op == "least":
        return np.minimum(_np(a[0], frame).astype(float), a[1])
    if op == "eq":
        return (_np(a[0], frame) == a[1]).astype(float)
    if op == "lookup":
        table = dict(a[1])
        return np.array([table[v] for v in _np(a[0], frame)], dtype=float)
    raise ValueError(f"unknown feature op {op!r}")


def featurize_frame(frame: pd.DataFrame) -> np.ndarray:
    """Feature matrix (rows x FEATURE_NAMES) from VALID raw rows."""
    return np.column_stack([_np(e, frame) for _, e in FEATURES]).astype(np.float64)


# ---- pure Python (serving hot path) --------------------------------------------------------


def _py(e: Expr) -> str:
    op, a = e.op, e.args
    if op == "col":
        return f"r[{a[0]!r}]"
    if op in _PY_UNARY:
        return f"{_PY_UNARY[op]}({_py(a[0])})"
    if op in _PY_BINARY:
        return f"({_py(a[0])} {_PY_BINARY[op]} {_py(a[1])})"
    if op == "least":
        return f"_min(float({_py(a[0])}), {a[1]!r})"
    if op == "eq":
        return f"(1.0 if {_py(a[0])} == {a[1]!r} else 0.0)"
    if op == "lookup":
        return f"{dict(a[1])!r}[{_py(a[0])}]"
    raise ValueError(f"unknown feature op {op!r}")


def _compile_python() -> Callable[[Mapping[str, Any]], list[float]]:
    # Source is generated from the constant FEATURES above, never from request data.
    body = ", ".join(f"float({_py(e)})" for _, e in FEATURES)
    code = f"lambda r: [{body}]"
    return eval(code, {"_log": math.log, "_log1p": math.log1p, "_min": min, "__builtins__": {"float": float}})


featurize_record: Callable[[Mapping[str, Any]], list[float]] = _compile_python()


def featurize_records(records: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Feature matrix from VALID request records (see ``app.schema.validate_record``)."""
    return np.array([featurize_record(r) for r in records], dtype=np.float64).reshape(-1, len(FEATURES))

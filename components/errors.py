"""Validation errors shared by every concept: one exception that names the field and echoes the value."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any


class InvalidArgs(ValueError):
    """An Args field (or a `tricloud:*` config key) holds a value the platform cannot deploy."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field} = {value!r}: {reason}")

    def under(self, prefix: str) -> InvalidArgs:
        """The same error with its field qualified by where it came from (a config key or a parent Args)."""
        return InvalidArgs(f"{prefix}.{self.field}" if prefix else self.field, self.value, self.reason)


def require(ok: bool, field: str, value: Any, reason: str) -> None:
    if not ok:
        raise InvalidArgs(field, value, reason)


def positive(field: str, value: int | float) -> None:
    require(value > 0, field, value, "must be greater than 0")


def in_range(field: str, value: int | float, low: int | float, high: int | float) -> None:
    require(low <= value <= high, field, value, f"must be between {low} and {high}")


def one_of(field: str, value: Any, allowed: Iterable[Any]) -> None:
    allowed = tuple(allowed)
    require(value in allowed, field, value, "must be one of " + ", ".join(str(a) for a in allowed))


def matches(field: str, value: str, pattern: str, what: str) -> None:
    require(
        isinstance(value, str) and re.fullmatch(pattern, value) is not None, field, value, f"must be {what}"
    )


# Retention periods CloudWatch Logs accepts; Azure and GCP accept any day count, so the strictest set is shared.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)

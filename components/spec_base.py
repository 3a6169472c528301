"""What every concept's spec shares: the Args base class and the output-name contract."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from components.errors import InvalidArgs


@dataclass(frozen=True, kw_only=True)
class Args:
    """Base of every concept's Args: validated on construction, so a bad value fails before any resource."""

    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for k, v in self.tags.items():
            if not isinstance(k, str) or not isinstance(v, str) or not k:
                raise InvalidArgs(f"tags.{k}", v, "tag keys and values must be non-empty strings")
        self.validate()

    def validate(self) -> None:
        """Raise InvalidArgs naming the field and the value; subclasses override."""


class Concept:
    """The cloud-neutral contract of one concept: its type name and the outputs every cloud must register."""

    name: ClassVar[str]
    outputs: ClassVar[tuple[str, ...]]

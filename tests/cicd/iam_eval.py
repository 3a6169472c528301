"""An IAM identity-policy evaluator written for these tests, independent of moto's and of the code under test.

It follows AWS's documented evaluation for one principal's identity policies: an explicit Deny wins, then any Allow
whose Action (or NotAction), Resource and every Condition match; nothing matching is an implicit deny. Actions
match case-insensitively, resources case-sensitively, `*` and `?` as wildcards. Conditions: StringEquals,
StringNotEquals, StringLike, StringNotLike, ArnEquals, ArnLike (and their IfExists forms); a key the request does
not carry fails the condition unless IfExists, as on AWS. Any other operator raises: the tests must not assume it.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _like(pattern: str, value: str, *, case: bool = True) -> bool:
    # fnmatch's [...] classes do not exist in IAM: escape them.
    pat = pattern.replace("[", "[[]")
    return fnmatch.fnmatchcase(value, pat) if case else fnmatch.fnmatchcase(value.lower(), pat.lower())


def _condition(op: str, key: str, expected: Any, context: Mapping[str, Any]) -> bool:
    base = op.removesuffix("IfExists")
    actual = context.get(key)
    if actual is None:
        return op.endswith("IfExists") or base in ("StringNotEquals", "StringNotLike")
    values = [str(v) for v in as_list(actual)]
    patterns = [str(v) for v in as_list(expected)]
    if base in ("StringEquals", "ArnEquals"):
        return any(v in patterns for v in values)
    if base in ("StringLike", "ArnLike"):
        return any(_like(p, v) for v in values for p in patterns)
    if base == "StringNotEquals":
        return all(v not in patterns for v in values)
    if base == "StringNotLike":
        return all(not _like(p, v) for v in values for p in patterns)
    raise ValueError(f"condition operator {op!r} on {key!r} is not evaluated by tests/cicd/iam_eval.py")


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: Mapping[str, Mapping[str, Any]]
    origin: str  # the policy document it came from

    def action_matches(self, action: str) -> list[str]:
        """The Action patterns that match `action` (empty when none; NotAction: ["NotAction"] when it matches)."""
        if self.not_actions:
            return [] if any(_like(a, action, case=False) for a in self.not_actions) else ["NotAction"]
        return [a for a in self.actions if _like(a, action, case=False)]

    def applies(self, action: str, resource: str, context: Mapping[str, Any]) -> bool:
        if not self.action_matches(action):
            return False
        if not any(_like(r, resource) for r in self.resources):
            return False
        return all(
            _condition(op, key, expected, context)
            for op, pairs in self.conditions.items()
            for key, expected in pairs.items()
        )


def statements(documents: Sequence[Mapping[str, Any] | str], origins: Sequence[str] = ()) -> list[Statement]:
    out: list[Statement] = []
    for i, doc in enumerate(documents):
        parsed = json.loads(doc) if isinstance(doc, str) else doc
        origin = origins[i] if i < len(origins) else f"policy {i + 1}"
        for j, st in enumerate(as_list(parsed.get("Statement"))):
            out.append(
                Statement(
                    sid=str(st.get("Sid") or f"{origin}#{j}"),
                    effect=st["Effect"],
                    actions=tuple(as_list(st.get("Action"))),
                    not_actions=tuple(as_list(st.get("NotAction"))),
                    resources=tuple(str(r) for r in as_list(st.get("Resource"))),
                    conditions=st.get("Condition") or {},
                    origin=origin,
                )
            )
    return out


@dataclass(frozen=True)
class Decision:
    allowed: bool
    allowed_by: tuple[Statement, ...]  # every Allow statement that applies
    denied_by: tuple[Statement, ...]  # every Deny statement that applies


def decide(policy: Sequence[Statement], action: str, resource: str, context: Mapping[str, Any]) -> Decision:
    applying = [s for s in policy if s.applies(action, resource, context)]
    denies = tuple(s for s in applying if s.effect == "Deny")
    allows = tuple(s for s in applying if s.effect == "Allow")
    return Decision(bool(allows) and not denies, allows, denies)

"""The policy catalogue's building blocks: a rule (metadata + check), the registry, and views over resources.

Rules are plain functions over a resource's properties (camelCase, as Pulumi hands them to a policy pack), so the
same function runs inside `pulumi preview --policy-pack policy` and offline in `tricloud policy check`. They never
import a cloud SDK: `tricloud.policy.pack` wraps them into `pulumi_policy` objects.

A resource rule sees one resource (`Res`); a stack rule sees all of them (`Stack`) and links a resource to the
ones that depend on it (an S3 bucket to its encryption configuration, say) through dependencies, which are known
during a preview, unlike the ids that connect them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MANDATORY = "mandatory"  # blocks `pulumi up` (and fails `tricloud policy check`)
ADVISORY = "advisory"  # reported, never blocks
CLOUDS = ("aws", "azure", "gcp")

# A rule reports either a message, or (item, message) when one resource holds several subjects (routes of one
# API config): an exception may then excuse one item without hiding the others.
Finding = str | tuple[str, str]


@dataclass(frozen=True)
class Res:
    """One resource as a rule sees it."""

    type: str
    name: str
    props: Mapping[str, Any]
    urn: str = ""
    dependencies: tuple[str, ...] = ()  # URNs of the resources this one depends on
    # URNs per input property, when the engine says (a real run does; offline inventories do not)
    prop_deps: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def get(self, *path: str | int, default: Any = None) -> Any:
        return dig(self.props, *path, default=default)


@dataclass
class Stack:
    """Every resource of a stack, with the reverse dependency index stack rules need."""

    resources: list[Res]
    _dependents: dict[str, list[Res]] = field(default_factory=dict, init=False, repr=False)
    _by_urn: dict[str, Res] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        for r in self.resources:
            self._by_urn[r.urn] = r
            for urn in r.dependencies:
                self._dependents.setdefault(urn, []).append(r)

    def get(self, urn: str) -> Res | None:
        return self._by_urn.get(urn)

    def depends_on(self, r: Res, *types: str) -> list[Res]:
        """The resources of `types` that `r` depends on."""
        found = (self._by_urn.get(u) for u in r.dependencies)
        return [d for d in found if d is not None and (not types or d.type in types)]

    def of_type(self, *types: str) -> list[Res]:
        return [r for r in self.resources if r.type in types]

    def dependents(self, target: Res, *types: str) -> list[Res]:
        """Resources of `types` that depend on `target` (a bucket's policy, encryption, versioning...)."""
        return [r for r in self._dependents.get(target.urn, []) if not types or r.type in types]


ResourceCheck = Callable[[Res], Iterable[Finding]]
StackCheck = Callable[[Stack], Iterable[tuple[Res, Finding]]]


@dataclass(frozen=True)
class Rule:
    id: str
    cloud: str
    title: str  # what must hold, one sentence
    level: str  # MANDATORY or ADVISORY
    remediation: str  # one line: what to change, naming the tricloud config key where there is one
    checkov: tuple[str, ...] = ()  # checkov IDs of the same check (terraform), confirmed in checkov's index
    cis: str | None = None  # CIS benchmark control, with the benchmark's name and version
    types: tuple[str, ...] = ()  # resource types a resource rule applies to
    check: ResourceCheck | None = None
    stack_check: StackCheck | None = None

    @property
    def kind(self) -> str:
        return "resource" if self.check is not None else "stack"

    def applies_to(self, type_token: str) -> bool:
        """A resource rule's types are tokens, or prefixes ending in `*` ("aws:*": every AWS resource)."""
        return any(type_token.startswith(t[:-1]) if t.endswith("*") else type_token == t for t in self.types)


RULES: list[Rule] = []


def _register(rule: Rule) -> None:
    if any(r.id == rule.id for r in RULES):
        raise ValueError(f"policy id {rule.id!r} is registered twice")
    if rule.level not in (MANDATORY, ADVISORY):
        raise ValueError(f"{rule.id}: level = {rule.level!r}: must be {MANDATORY} or {ADVISORY}")
    if rule.cloud not in CLOUDS or not rule.id.startswith(f"{rule.cloud}-"):
        raise ValueError(f"{rule.id}: the id must start with its cloud ({rule.cloud!r})")
    RULES.append(rule)


def resource_rule(id: str, *, types: Sequence[str], **meta: Any) -> Callable[[ResourceCheck], ResourceCheck]:
    """Register `fn(res) -> findings` as a policy on resources of `types`; `meta`: title, level, remediation,
    checkov, cis (the Rule fields)."""

    def deco(fn: ResourceCheck) -> ResourceCheck:
        _register(_rule(id, meta, types=tuple(types), check=fn))
        return fn

    return deco


def stack_rule(id: str, **meta: Any) -> Callable[[StackCheck], StackCheck]:
    """Register `fn(stack) -> (resource, finding)s` as a policy over the whole stack."""

    def deco(fn: StackCheck) -> StackCheck:
        _register(_rule(id, meta, stack_check=fn))
        return fn

    return deco


def _rule(id: str, meta: dict[str, Any], **kind: Any) -> Rule:
    checkov = tuple(meta.pop("checkov", ()))
    return Rule(id=id, cloud=id.split("-", 1)[0], checkov=checkov, **meta, **kind)


# --- property helpers (props are Mappings/Sequences proxies in a real preview, never plain dicts/lists) -----------


def dig(value: Any, *path: str | int, default: Any = None) -> Any:
    """`dig(props, "a", 0, "b")`: the nested value, or `default` when any step is missing."""
    for step in path:
        if isinstance(step, int):
            if not is_list(value) or not -len(value) <= step < len(value):
                return default
            value = value[step]
        else:
            if not isinstance(value, Mapping) or step not in value:
                return default
            value = value[step]
    return default if value is None else value


def is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def as_list(value: Any) -> list[Any]:
    """A JSON-ish "one or many" value as a list (IAM's Action/Resource may be a string or a list)."""
    if value is None:
        return []
    return list(value) if is_list(value) else [value]


def as_json(value: Any) -> Any:
    """A policy document given as a JSON string (most providers) or as an object."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def iter_tags(r: Res, key: str = "tags") -> Iterator[tuple[str, Any]]:
    tags = r.get(key, default={})
    if isinstance(tags, Mapping):
        yield from tags.items()

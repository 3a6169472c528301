"""The catalogue as `pulumi_policy` objects: what policy/__main__.py hands to `PolicyPack`, and what
`tricloud policy check` evaluates offline.

Each object wraps one rule. Before reporting, it looks the finding up in the stack's `tricloud:policy`
exceptions; an excused finding goes to `on_excepted` instead of `report_violation` (the offline report lists it
with its reason; inside a real preview it is silent). Building the objects starts nothing: only `PolicyPack(...)`
serves them (and blocks), which is why it lives in policy/__main__.py alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyComplianceFramework,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from tricloud.policy.model import MANDATORY, Finding, Res, Rule, Stack
from tricloud.policy.rules import all_rules
from tricloud.policy.spec import PolicyException

LEVELS = {"mandatory": EnforcementLevel.MANDATORY, "advisory": EnforcementLevel.ADVISORY}


@dataclass(frozen=True)
class Excused:
    """A finding an exception excused."""

    rule: Rule
    resource: str
    item: str | None
    message: str
    exception: PolicyException


class Exceptions:
    """Lookup of (policy, resource, item) exceptions; an exception without item covers every item, and a resource
    ending in `*` covers every resource whose name starts with what precedes it."""

    def __init__(self, exceptions: Iterable[PolicyException] = ()) -> None:
        self.all = tuple(exceptions)
        self._index = {(e.policy, e.resource, e.item): e for e in self.all}
        self._prefixes = [e for e in self.all if e.resource.endswith("*")]

    def match(self, policy: str, resource: str, item: str | None) -> PolicyException | None:
        found = self._index.get((policy, resource, item)) or self._index.get((policy, resource, None))
        if found is not None:
            return found
        return next(
            (
                e
                for e in self._prefixes
                if e.policy == policy and resource.startswith(e.resource[:-1]) and e.item in (None, item)
            ),
            None,
        )


def split(finding: Finding) -> tuple[str | None, str]:
    return finding if isinstance(finding, tuple) else (None, finding)


def text(item: str | None, message: str) -> str:
    return f"{item} {message}" if item else message


def urn_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def framework(rule: Rule) -> PolicyComplianceFramework | None:
    """`CIS AWS Foundations 5.0.0 2.1.4` -> name, version, reference."""
    if not rule.cis:
        return None
    m = re.fullmatch(r"(.+?) (\d+(?:\.\d+)+) (.+)", rule.cis)
    if not m:
        return PolicyComplianceFramework(name=rule.cis)
    return PolicyComplianceFramework(name=m.group(1), version=m.group(2), reference=m.group(3))


def res_from_policy_resource(r: PolicyResource) -> Res:
    return Res(
        type=r.resource_type,
        name=r.name,
        props=r.props,
        urn=r.urn,
        dependencies=tuple(d.urn for d in r.dependencies),
        prop_deps={k: tuple(d.urn for d in v) for k, v in (r.property_dependencies or {}).items()},
    )


ExceptionsSource = Callable[[], Exceptions]
OnExcused = Callable[[Excused], None]


def _ignore(_: Excused) -> None:
    return None


def policy_for(rule: Rule, exceptions: ExceptionsSource, on_excused: OnExcused = _ignore) -> Policy:
    """One `pulumi_policy` object for `rule`."""

    def deliver(name: str, finding: Finding, report: Callable[[str], None]) -> None:
        item, message = split(finding)
        excused = exceptions().match(rule.id, name, item)
        if excused is not None:
            on_excused(Excused(rule, name, item, message, excused))
        else:
            report(text(item, message))

    common: dict[str, Any] = {
        "name": rule.id,
        "description": rule.title,
        "enforcement_level": LEVELS[rule.level],
        "severity": Severity.HIGH if rule.level == MANDATORY else Severity.LOW,
        "framework": framework(rule),
        "tags": [rule.cloud, *rule.checkov],
        "remediation_steps": rule.remediation,
    }
    if rule.check is not None:
        check = rule.check

        def validate_resource(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
            if not rule.applies_to(args.resource_type):
                return
            res = Res(args.resource_type, args.name, args.props, args.urn)
            for finding in check(res):
                deliver(args.name, finding, lambda msg: report_violation(msg, None))

        return ResourceValidationPolicy(validate=validate_resource, **common)

    stack_check = rule.stack_check
    assert stack_check is not None

    def validate_stack(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        stack = Stack([res_from_policy_resource(r) for r in args.resources])
        for res, finding in stack_check(stack):
            deliver(res.name, finding, lambda msg, urn=res.urn: report_violation(msg, urn))

    return StackValidationPolicy(validate=validate_stack, **common)


def policies(
    exceptions: ExceptionsSource, on_excused: OnExcused = _ignore, *, cloud: str | None = None
) -> list[Policy]:
    """Every rule (of one cloud) as a `pulumi_policy` object."""
    return [policy_for(r, exceptions, on_excused) for r in all_rules(cloud)]


def exceptions_from_config(config: Mapping[str, Any] | None) -> Exceptions:
    """Exceptions from a `tricloud:policy` object, validated like the rest of the stack config."""
    from tricloud.config import NAMESPACE, build_args
    from tricloud.policy.spec import PolicyArgs

    args = build_args(PolicyArgs, config or {}, f"{NAMESPACE}:policy")
    return Exceptions(args.exceptions)  # type: ignore[attr-defined]

"""`tricloud policy check`: the pack's policy objects evaluated offline on a stack's inventory.

The inventory (the stack program under Pulumi mocks) gives every resource's inputs and dependencies; they become
the `ResourceValidationArgs` / `StackValidationArgs` the Pulumi engine would build, wrapped in the SDK's
unknown-checking proxy so rules see the same Mapping/Sequence shapes as in a real preview. `validate` is called
with a collecting `report_violation`. Unlike a preview of a new stack, every value is known here (mocks resolve
ARNs and names), so policies that read IAM documents or link resources by name always run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)
from pulumi_policy.proxy import unknown_checking_proxy

from components.errors import InvalidArgs
from tricloud.policy.model import MANDATORY, Rule
from tricloud.policy.pack import Exceptions, Excused, policy_for, text
from tricloud.policy.rules import all_rules
from tricloud.policy.spec import PolicyException


@dataclass(frozen=True)
class Violation:
    policy: str
    level: str
    resource: str
    type: str
    message: str
    remediation: str
    checkov: tuple[str, ...] = ()
    cis: str | None = None


@dataclass(frozen=True)
class AppliedException:
    policy: str
    resource: str
    item: str | None
    message: str
    reason: str


@dataclass
class Report:
    cloud: str
    stack: str
    policies: list[str]
    resources: int
    violations: list[Violation] = field(default_factory=list)
    excused: list[AppliedException] = field(default_factory=list)
    unused_exceptions: list[PolicyException] = field(default_factory=list)

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == MANDATORY]

    @property
    def advisory(self) -> list[Violation]:
        return [v for v in self.violations if v.level != MANDATORY]

    def passed(self) -> list[str]:
        failing = {v.policy for v in self.violations}
        return [p for p in self.policies if p not in failing]

    def as_dict(self) -> dict[str, Any]:
        return {
            "cloud": self.cloud,
            "stack": self.stack,
            "resources": self.resources,
            "policies": len(self.policies),
            "summary": {
                "mandatory": len(self.mandatory),
                "advisory": len(self.advisory),
                "excused": len(self.excused),
                "passed_policies": len(self.passed()),
            },
            "violations": [{**asdict(v), "checkov": list(v.checkov)} for v in self.violations],
            "exceptions": [asdict(e) for e in self.excused],
            "unused_exceptions": [
                {"policy": e.policy, "resource": e.resource, "item": e.item, "reason": e.reason}
                for e in self.unused_exceptions
            ],
        }


def _urn(inv: Mapping[str, Any], project: str, r: Mapping[str, Any]) -> str:
    return f"urn:pulumi:{inv['stack']}::{project}::{r['type']}::{r['name']}"


def _options(parent: str | None) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=parent,
    )


def policy_resources(inv: Mapping[str, Any], project: str) -> list[PolicyResource]:
    """The inventory as the engine's `PolicyResource`s: inputs as props, dependencies by logical name."""
    rows = inv["resources"]
    urns_by_name: dict[str, list[str]] = {}
    for r in rows:
        urns_by_name.setdefault(r["name"], []).append(_urn(inv, project, r))
    made: dict[str, PolicyResource] = {}
    for r in rows:
        urn = _urn(inv, project, r)
        parent = next(iter(urns_by_name.get(r["parent"] or "", [])), None)
        made[urn] = PolicyResource(
            resource_type=r["type"],
            props=unknown_checking_proxy(dict(r["inputs"])),
            urn=urn,
            name=r["name"],
            opts=_options(parent),
            provider=None,
            parent=None,
            dependencies=[],
            property_dependencies={},  # inventories record dependencies per resource, not per property
        )
    for r in rows:
        res = made[_urn(inv, project, r)]
        res.parent = made.get(res.opts.parent or "")
        res.dependencies = [
            made[u] for name in r["depends_on"] for u in urns_by_name.get(name, []) if u != res.urn
        ]
    return list(made.values())


def check_inventory(
    inv: Mapping[str, Any], exceptions: Sequence[PolicyException] = (), *, project: str | None = None
) -> Report:
    """Run every policy of the inventory's cloud over it; excused findings are listed, not reported."""
    cloud = inv["cloud"]
    for i, e in enumerate(exceptions):
        if not e.policy.startswith(f"{cloud}-"):
            raise InvalidArgs(
                f"tricloud:policy.exceptions[{i}].policy", e.policy, f"is not a policy of the {cloud} stack"
            )
    names = {r["name"] for r in inv["resources"]}
    for i, e in enumerate(exceptions):
        prefix = e.resource[:-1] if e.resource.endswith("*") else None
        if e.resource not in names and not (prefix and any(n.startswith(prefix) for n in names)):
            raise InvalidArgs(
                f"tricloud:policy.exceptions[{i}].resource",
                e.resource,
                f"no resource of this stack has that name (see `tricloud inventory {cloud}`)",
            )
    resources = policy_resources(inv, project or f"tricloud-{cloud}")
    rules = all_rules(cloud)
    lookup = Exceptions(exceptions)
    report = Report(cloud=cloud, stack=inv["stack"], policies=[r.id for r in rules], resources=len(resources))
    used: set[int] = set()

    def on_excused(x: Excused) -> None:
        report.excused.append(
            AppliedException(x.rule.id, x.resource, x.item, text(x.item, x.message), x.exception.reason)
        )
        used.add(id(x.exception))

    by_urn = {r.urn: r for r in resources}
    for rule in rules:
        policy = policy_for(rule, lambda: lookup, on_excused)

        def collect(
            message: str, urn: str | None, _rule: Rule = rule, _target: PolicyResource | None = None
        ) -> None:
            target = by_urn[urn] if urn else _target
            assert target is not None, f"{_rule.id} reported a violation without a resource"
            report.violations.append(
                Violation(
                    _rule.id,
                    _rule.level,
                    target.name,
                    target.resource_type,
                    message,
                    _rule.remediation,
                    _rule.checkov,
                    _rule.cis,
                )
            )

        if isinstance(policy, ResourceValidationPolicy):
            for r in resources:
                args = ResourceValidationArgs(r.resource_type, r.props, r.urn, r.name, r.opts, None)
                policy.validate(args, lambda m, u, _r=r: collect(m, u, _target=_r))
        else:
            policy.validate(StackValidationArgs(resources), collect)
    report.unused_exceptions = [e for e in exceptions if id(e) not in used]
    report.violations.sort(key=lambda v: (v.level != MANDATORY, v.policy, v.resource, v.message))
    report.excused.sort(key=lambda e: (e.policy, e.resource, e.message))
    return report


def check_stack(cloud: str, stack: str = "dev", *, config: Mapping[str, Any] | None = None) -> Report:
    """Validate the stack's config, build its inventory, evaluate the cloud's policies on it."""
    from tricloud.config import parse
    from tricloud.inventory import build_inventory, project_name, stack_config

    values = stack_config(cloud, stack) if config is None else dict(config)
    cfg = parse(cloud, values)  # a bad key (tricloud:policy included) fails here, before the program runs
    inv = build_inventory(cloud, stack, config=values)
    return check_inventory(inv, cfg.policy.exceptions, project=project_name(cloud))

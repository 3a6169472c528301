"""The policy catalogue: importing this package registers every rule of every cloud in `RULES`."""

from __future__ import annotations

from tricloud.policy.model import RULES, Rule
from tricloud.policy.rules import aws, azure, gcp, warehouse  # noqa: F401  (each module registers its rules)


def all_rules(cloud: str | None = None) -> list[Rule]:
    """Every rule (of one cloud), in catalogue order: cloud, then the order the modules declare them."""
    return [r for r in RULES if cloud is None or r.cloud == cloud]


def rule(policy_id: str) -> Rule:
    for r in RULES:
        if r.id == policy_id:
            return r
    raise KeyError(policy_id)


def rule_ids() -> frozenset[str]:
    return frozenset(r.id for r in RULES)

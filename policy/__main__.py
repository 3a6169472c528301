"""tricloud's Pulumi policy pack: the catalogue of tricloud/policy/rules as one pack.

`PolicyPack(...)` starts the analyzer's gRPC server and blocks, so this file does nothing else: the policy
objects are built by `tricloud.policy.pack`, which `tricloud policy check` evaluates offline. Exceptions come from
the stack's own `tricloud:policy` config (the engine hands the stack config to the pack), read on first use.
"""

import functools

import pulumi
from pulumi_policy import EnforcementLevel, PolicyPack

from tricloud.policy.pack import Exceptions, exceptions_from_config, policies


@functools.cache
def stack_exceptions() -> Exceptions:
    return exceptions_from_config(pulumi.Config("tricloud").get_object("policy"))


PolicyPack(
    name="tricloud",
    policies=policies(stack_exceptions),
    enforcement_level=EnforcementLevel.ADVISORY,  # each policy sets its own level; this is the fallback
    description="tricloud security policies (AWS, Azure, GCP), with checkov IDs and CIS controls",
)

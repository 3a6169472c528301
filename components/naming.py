"""Physical names per cloud: one function, one table of rules, so no implementation re-invents them.

Names are deterministic (`<project>-<stack>-<role>`), shortened with a stable hash when a cloud's limit demands it,
so the same program yields the same names in `pulumi up`, under mocks and in the emulator.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class NameRule:
    max_len: int
    allowed: str  # regex character class of allowed characters
    separator: str = "-"
    lowercase: bool = True


RULES: dict[str, NameRule] = {
    "aws:s3_bucket": NameRule(63, "a-z0-9-"),
    "aws:iam_role": NameRule(64, "A-Za-z0-9+=,.@_-", lowercase=False),
    "aws:sagemaker": NameRule(63, "A-Za-z0-9-", lowercase=False),
    "aws:lambda": NameRule(64, "A-Za-z0-9_-", lowercase=False),
    "aws:glue_database": NameRule(255, "a-z0-9_", separator="_"),
    "aws:generic": NameRule(128, "A-Za-z0-9_.-", lowercase=False),
    "aws:redshift_serverless": NameRule(64, "a-z0-9-"),  # namespaces and workgroups
    "aws:signer_profile": NameRule(
        38, "A-Za-z0-9_", separator="_", lowercase=False
    ),  # + 26-char suffix <= 64
    "azure:storage_account": NameRule(24, "a-z0-9", separator=""),
    "azure:key_vault": NameRule(24, "A-Za-z0-9-", lowercase=False),
    "azure:generic": NameRule(60, "A-Za-z0-9-", lowercase=False),
    "azure:ml_endpoint": NameRule(32, "a-z0-9-"),
    "azure:ml_workspace": NameRule(33, "A-Za-z0-9-", lowercase=False),
    "azure:apim": NameRule(50, "A-Za-z0-9-", lowercase=False),
    "gcp:bucket": NameRule(63, "a-z0-9_-"),
    "gcp:service_account": NameRule(30, "a-z0-9-"),
    "gcp:bigquery_dataset": NameRule(1024, "A-Za-z0-9_", separator="_", lowercase=False),
    "gcp:generic": NameRule(63, "a-z0-9-"),
    "gcp:custom_role": NameRule(64, "A-Za-z0-9_", separator="_", lowercase=False),
}


def physical_name(kind: str, *parts: str) -> str:
    """`physical_name("aws:s3_bucket", "tricloud", "dev", "raw")` -> "tricloud-dev-raw".

    Characters a cloud rejects are replaced; a name over the limit keeps its head and gains an 8-character hash
    of the full name, so two long names never collide.
    """
    try:
        rule = RULES[kind]
    except KeyError:
        raise ValueError(f"kind = {kind!r}: must be one of {', '.join(sorted(RULES))}") from None
    full = rule.separator.join(p for p in parts if p)
    if rule.lowercase:
        full = full.lower()
    name = re.sub(f"[^{rule.allowed}]", rule.separator or "", full)
    if rule.separator:
        name = re.sub(f"{re.escape(rule.separator)}+", rule.separator, name).strip(rule.separator)
    if len(name) > rule.max_len:
        digest = hashlib.sha256(full.encode()).hexdigest()[:8]
        head = name[: rule.max_len - len(digest) - len(rule.separator)].rstrip(rule.separator)
        name = f"{head}{rule.separator}{digest}"
    return name

"""Checks every cloud shares: the standard tags, and secrets that must be references, never values."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from components.tags import STANDARD_KEYS
from tricloud.policy.model import Res, dig, is_list

# Names that say "this is a credential". `_KEY` only at the end: ENDPOINT_KEY is a secret, KEY_VAULT_URI is not.
SECRET_NAME = re.compile(
    r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CONNECTION_?STRING|CREDENTIAL|_KEY$)",
    re.IGNORECASE,
)
# Values that are credentials whatever the setting is called.
SECRET_VALUE = re.compile(
    r"(AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|AccountKey=|SharedAccessKey=|[?&]sig=|"
    r"gh[pousr]_[A-Za-z0-9]{20,}|xox[abpr]-)"
)
# Where a setting points at a secret store instead of holding the secret.
SECRET_REFERENCE = re.compile(
    r"^(@Microsoft\.KeyVault\(|arn:aws[a-z-]*:(secretsmanager|ssm):|\{\{resolve:|projects/[^/]+/secrets/|sm://)"
)
# Microsoft documents the Application Insights connection string as an identifier, not a credential; with local
# authentication disabled (tricloud's default) it cannot ingest telemetry on its own.
NOT_SECRETS = frozenset({"APPLICATIONINSIGHTS_CONNECTION_STRING"})


def plaintext_secrets(settings: Mapping[str, Any] | None) -> Iterator[str]:
    """Names (never values) of settings holding what looks like a credential instead of a reference to one."""
    for name, value in (settings or {}).items():
        if name.upper() in NOT_SECRETS:
            continue
        text = str(value) if value is not None else ""
        if SECRET_VALUE.search(text):
            yield f"{name} holds a value that looks like a credential"
        elif SECRET_NAME.search(name) and text and not SECRET_REFERENCE.match(text):
            yield f"{name} looks like a credential and holds a value instead of a secret-store reference"


def name_value_settings(items: Any, *, name: str = "name", value: str = "value") -> dict[str, Any]:
    """`[{"name": ..., "value": ...}, ...]` (Azure app settings) as a mapping."""
    out: dict[str, Any] = {}
    for item in items if is_list(items) else []:
        if isinstance(item, Mapping) and dig(item, name):
            out[str(item[name])] = dig(item, value)
    return out


def missing_standard_tags(r: Res, key: str) -> Iterator[str]:
    """The standard tags (components/tags.py) a tagged resource lacks; untagged types are not this check's."""
    tags = r.get(key)
    if not isinstance(tags, Mapping):
        return
    missing = [k for k in STANDARD_KEYS if not str(tags.get(k) or "").strip()]
    if missing:
        yield f"{key} lack the standard keys {', '.join(missing)}"

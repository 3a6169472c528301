"""Standard tags, merged with the user's and normalised per cloud in one place.

Every taggable resource carries project, stack, component, owner, cost-center and managed-by, so that cost reports
and policies can attribute it. AWS and Azure keep the keys as written; GCP labels are restricted
(lowercase letters, digits, `_` and `-`, at most 63 characters, keys start with a letter).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

STANDARD_KEYS = ("project", "stack", "component", "owner", "cost-center", "managed-by")

_GCP_MAX = 63
_AZURE_FORBIDDEN = re.compile(r"[<>%&\\?/]")


def standard_tags(
    *, project: str, stack: str, component: str, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The standard tags with the user's merged over them; `owner`/`cost-center` come from the user's tags."""
    tags = {
        "project": project,
        "stack": stack,
        "component": component,
        "owner": "unassigned",
        "cost-center": "unassigned",
        "managed-by": "pulumi",
    }
    tags.update({str(k): str(v) for k, v in (extra or {}).items()})
    # The component and manager tags identify the resource; a user tag must not disguise it.
    tags["component"] = component
    tags["managed-by"] = "pulumi"
    return tags


def gcp_label(text: str, *, key: bool) -> str:
    out = re.sub(r"[^a-z0-9_-]", "_", text.lower())[:_GCP_MAX]
    if key and not re.match(r"[a-z]", out):
        out = ("k" + out)[:_GCP_MAX]
    return out


def normalise(tags: Mapping[str, str], cloud: str) -> dict[str, str]:
    """Tags as the cloud accepts them. Collisions after normalisation keep the first key in sorted order."""
    if cloud == "gcp":
        out: dict[str, str] = {}
        for k in sorted(tags):
            out.setdefault(gcp_label(k, key=True), gcp_label(tags[k], key=False))
        return out
    if cloud == "azure":
        return {_AZURE_FORBIDDEN.sub("-", k)[:512]: str(v)[:256] for k, v in tags.items()}
    if cloud == "aws":
        return {k[:128]: str(v)[:256] for k, v in tags.items()}
    raise ValueError(f"cloud = {cloud!r}: must be one of aws, azure, gcp")


def component_tags(cloud: str, component: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Tags for the children of one component, for the current Pulumi project and stack."""
    import pulumi  # imported here so the pure helpers above stay importable without the SDK

    return normalise(
        standard_tags(
            project=pulumi.get_project(), stack=pulumi.get_stack(), component=component, extra=extra
        ),
        cloud,
    )

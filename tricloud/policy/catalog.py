"""The catalogue as data: `tricloud policy list`, and the table docs/security.md keeps (checked by a test)."""

from __future__ import annotations

from typing import Any

from tricloud.policy.rules import all_rules


def catalogue(cloud: str | None = None) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "cloud": r.cloud,
            "level": r.level,
            "kind": r.kind,
            "title": r.title,
            "checkov": list(r.checkov),
            "cis": r.cis,
            "remediation": r.remediation,
        }
        for r in all_rules(cloud)
    ]


def markdown_table(rules: list[dict[str, Any]]) -> str:
    """One row per policy: id, level, checkov, CIS, what must hold."""
    rows = ["| policy | level | checkov | CIS | what must hold |", "|---|---|---|---|---|"]
    for r in rules:
        checkov = ", ".join(r["checkov"]) or "-"
        rows.append(f"| `{r['id']}` | {r['level']} | {checkov} | {r['cis'] or '-'} | {r['title']} |")
    return "\n".join(rows) + "\n"

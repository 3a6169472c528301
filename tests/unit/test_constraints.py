"""constraints.txt (the pinned install `make install` uses) must satisfy every requirement pyproject.toml declares for
the extras the Makefile installs: a dependency added or narrowed without `make lock` fails here, not in CI's pip."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def pins(text: str) -> dict[str, str]:
    found = (re.match(r"([A-Za-z0-9._-]+)==(\S+)", line) for line in text.splitlines())
    return {canonicalize_name(m[1]): m[2] for m in found if m}


def makefile_extras() -> list[str]:
    return re.search(r"^EXTRAS\s*:=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M)[1].split(",")


def requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in makefile_extras():
        declared += project["optional-dependencies"][extra]
    reqs = [Requirement(r) for r in declared]
    return [r for r in reqs if canonicalize_name(r.name) != "tricloud"]


def unmet(reqs: list[Requirement], pinned: dict[str, str]) -> list[str]:
    problems = []
    for req in reqs:
        version = pinned.get(canonicalize_name(req.name))
        if version is None:
            problems.append(f"{req.name}: not pinned")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name}: pinned {version}, pyproject asks {req.specifier}")
    return problems


def test_every_requirement_is_pinned_within_its_range():
    reqs = requirements()
    assert len(reqs) > 20 and makefile_extras() == ["aws", "azure", "gcp", "spark", "emulate", "dev"]
    assert unmet(reqs, pins((ROOT / "constraints.txt").read_text())) == [], "run `make lock`"


def test_a_stale_pin_is_reported_by_name():
    reqs = [Requirement("moto[server]>=5.1,<6"), Requirement("duckdb>=1.1")]
    assert unmet(reqs, {"moto": "4.2.0"}) == [
        "moto: pinned 4.2.0, pyproject asks <6,>=5.1",
        "duckdb: not pinned",
    ]
    assert unmet(reqs, pins("moto==5.1.4\n    # via tricloud\nDuckDB==1.2.0\n")) == []

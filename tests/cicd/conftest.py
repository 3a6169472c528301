"""Fixtures of the CI permission tests: moto (its own process) with stacks/aws applied, the deploy job's claims."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
# offline.py (moto + the applied stack, as tests/model use it) and the OIDC claims of tests/workflows.
for folder in (HERE, HERE.parent / "model", HERE.parent / "workflows"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

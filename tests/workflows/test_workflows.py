"""The GitHub workflows lint clean offline: actionlint (syntax, expressions, shell) and zizmor (security)."""

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert path, f"{name} is not installed: it comes with the dev extra (make install)"
    return path


def test_actionlint_is_clean() -> None:
    result = subprocess.run([_tool("actionlint")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing() -> None:
    result = subprocess.run(
        [_tool("zizmor"), "--offline", "--config", ".github/zizmor.yml", ".github/workflows"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_deploy_is_keyless_and_gated() -> None:
    deploy = yaml.safe_load((ROOT / ".github/workflows/deploy.yml").read_text())
    job = deploy["jobs"]["deploy"]
    assert job["environment"] == "production"  # the CiIdentity trust policy names this environment
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    text = (ROOT / ".github/workflows/deploy.yml").read_text()
    assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY }}" not in text

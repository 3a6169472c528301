"""Clean virtualenvs holding exactly an artifact's declared dependencies (plus its host), cached by content.

Each venv is keyed by a hash of its name, its requirement lines, the pip options and the interpreter's version, and
lives under `.tricloud/venvs/`; the first use builds it (pip's cache keeps that to seconds after the first time),
later uses find the `.complete` marker and start at once. A build holds a file lock, so two test processes never
build the same venv at the same time, and a build that died half-way is redone (no marker).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
VENV_ROOT = REPO_ROOT / ".tricloud" / "venvs"
PIP_TIMEOUT_S = 900  # a cold pip cache downloads numpy/pandas/pyarrow/scikit-learn for the image venv


class VenvError(RuntimeError):
    """A venv could not be built; the message names the requirements and pip's last words."""


@dataclass(frozen=True)
class Interpreter:
    path: Path
    version: str  # "3.12"
    exact: bool  # False: the wanted version was not found and this one stands in (a deviation to report)


def _reports(path: str, version: str) -> bool:
    """True when `path` runs and is Python `version` (a pyenv shim for an unselected version is not)."""
    try:
        out = subprocess.run(
            [path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except OSError:
        return False
    return out.returncode == 0 and out.stdout.strip() == version


def find_python(version: str) -> Interpreter:
    """A `pythonX.Y` for the runtime a cloud runs: this interpreter, pyenv's, PATH's; else this one, said so."""
    mine = f"{sys.version_info.major}.{sys.version_info.minor}"
    if mine == version:
        return Interpreter(Path(sys.executable), version, True)
    candidates: list[str] = []
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    versions = Path(pyenv_root) / "versions"
    if versions.is_dir():
        candidates += [str(p / "bin" / f"python{version}") for p in sorted(versions.glob(f"{version}.*"))]
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(on_path)
    for c in candidates:
        if Path(c).is_file() and _reports(c, version):
            return Interpreter(Path(c), version, True)
    return Interpreter(Path(sys.executable), mine, False)


@dataclass(frozen=True)
class Venv:
    path: Path
    interpreter: Interpreter

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def bin(self, name: str) -> Path:
        return self.path / "bin" / name


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _pip(venv: Path, args: Sequence[str], what: str) -> None:
    cmd = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        *args,
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise VenvError(f"pip did not finish installing {what} within {PIP_TIMEOUT_S} s") from None
    if proc.returncode != 0:
        tail = "\n".join(line for line in proc.stderr.splitlines() if "WARNING: Location" not in line)
        raise VenvError(f"pip could not install {what}: {tail.strip()[-800:]}")


def ensure_venv(
    name: str,
    requirements: Sequence[str],
    interpreter: Interpreter,
    *,
    host_packages: Sequence[str] = (),
    host_pip_args: Sequence[str] = (),
    root: Path = VENV_ROOT,
) -> Venv:
    """A venv with `requirements` installed (with their dependencies) and `host_packages` (with host_pip_args).

    `requirements` is the artifact's own list; `host_packages` is what the cloud's runtime brings (the Azure
    Functions worker), installed separately so the two never mix in one resolution.
    """
    key_text = "\n".join(
        [
            name,
            interpreter.version,
            str(interpreter.exact),
            *requirements,
            "--",
            *host_packages,
            *host_pip_args,
        ]
    )
    key = hashlib.sha256(key_text.encode()).hexdigest()[:12]
    path = root / f"{name}-py{interpreter.version}-{key}"
    marker = path / ".complete"
    if marker.is_file():
        return Venv(path, interpreter)
    with locked(root / f".{path.name}.lock"):
        if marker.is_file():  # built by another process while this one waited
            return Venv(path, interpreter)
        shutil.rmtree(path, ignore_errors=True)
        proc = subprocess.run(
            [str(interpreter.path), "-m", "venv", str(path)], capture_output=True, text=True, timeout=120
        )
        if proc.returncode != 0:
            raise VenvError(f"{interpreter.path} -m venv failed: {proc.stderr.strip()[-400:]}")
        if requirements:
            _pip(path, list(requirements), f"{', '.join(requirements)} into {path.name}")
        if host_packages:
            _pip(path, [*host_pip_args, *host_packages], f"the host ({', '.join(host_packages)})")
        marker.write_text(key_text + "\n")
    return Venv(path, interpreter)


def image_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> tuple[str, ...]:
    """What `pip install .` in app/Dockerfile resolves: the project's core dependencies, no extras."""
    data = tomllib.loads(pyproject.read_text())
    return tuple(data["project"]["dependencies"])


def installed(venv: Venv) -> set[str]:
    """Normalised names of the distributions in a venv (tests check nothing undeclared crept in)."""
    code = "import importlib.metadata as m; print('\\n'.join(sorted({d.metadata['Name'] for d in m.distributions()})))"
    out = subprocess.run(
        [str(venv.python), "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return {line.strip().lower().replace("_", "-") for line in out.stdout.splitlines() if line.strip()}

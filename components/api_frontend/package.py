"""The deployable artifacts of the API front-end, built once here for the components, the tests and the emulator.

- Cloud Function source (`cloud_function_source`): the handler module and the `app.*` modules it imports,
  `main.py` (the entry point) and a pinned `requirements.txt`; Cloud Build installs the requirements.
- Function App package (`function_app_package`): the same for the Azure handler, `function_app.py` (where the
  Python v2 model's indexing looks), `host.json`, `requirements.txt`, and the requirements themselves installed
  for the Function App's Python under `.python_packages/lib/site-packages`: with `WEBSITE_RUN_FROM_PACKAGE`
  pointing at a blob, the platform runs the zip as it is and builds nothing.

Requirements are pinned: the versions tests/hosts installs into a clean venv and runs under the real host are the
versions that deploy. Each artifact is returned as a Pulumi archive plus a content digest, so a change to any file
(or pin) gives a new object name and redeploys.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pulumi

from components.api_frontend.spec import HANDLERS

REPO_ROOT = Path(__file__).resolve().parents[2]
# Built dependency folders are cached by content (requirements + target Python), like pip's own cache.
CACHE_DIR = REPO_ROOT / ".tricloud" / "artifacts"

GCP_RUNTIME = "python312"
GCP_ENTRY_POINT = "predict"  # the functions-framework function in HANDLERS["gcp"]
# app.frontend.gcp_function's third-party imports: the framework, google-auth, and `requests` for
# google.auth.transport.requests (google-auth does not depend on it; without it every call falls back).
GCP_REQUIREMENTS = ("functions-framework==3.10.2", "google-auth==2.63.0", "requests==2.34.2")

AZURE_PYTHON = "3.12"  # linux_fx_version Python|3.12: Linux Consumption gets no newer Python
AZURE_PLATFORM = "manylinux2014_x86_64"  # the Function App's workers are x86_64 Linux
AZURE_REQUIREMENTS = ("azure-functions==1.26.0",)  # the last release for Python < 3.13
AZURE_ROUTE_PREFIX = "api"
AZURE_PACKAGES_DIR = ".python_packages/lib/site-packages"  # the path the Python worker adds to sys.path


@dataclass(frozen=True)
class Artifact:
    archive: pulumi.AssetArchive
    digest: str  # 16 hex digits of the content hash
    requirements: tuple[str, ...]


def handler_files(module: str, root: Path = REPO_ROOT) -> dict[str, Path]:
    """The handler module and every `app.*` module it imports (transitively), with their packages' __init__.

    Only what the handler needs is shipped: the rest of app/ (Spark job, training, numpy serving) would drag
    pyspark, pandas and numpy into the function.
    """

    def source(mod: str) -> Path | None:
        base = root.joinpath(*mod.split("."))
        for path in (base.with_suffix(".py"), base / "__init__.py"):
            if path.is_file():
                return path
        return None

    files: dict[str, Path] = {}
    seen: set[str] = set()
    todo = [module]
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        seen.add(mod)
        path = source(mod)
        if path is None:
            continue  # `from app import name` where name is not a module
        parts = mod.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parent packages' __init__
        files[path.relative_to(root).as_posix()] = path
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                todo.extend(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                todo.append(node.module)
                todo.extend(f"{node.module}.{a.name}" for a in node.names)
        todo = [m for m in todo if m.split(".")[0] == "app"]
    return dict(sorted(files.items()))


def requirements_text(requirements: tuple[str, ...]) -> str:
    return "".join(f"{r}\n" for r in requirements)


def _artifact(
    files: dict[str, Path],
    generated: dict[str, str],
    requirements: tuple[str, ...],
    extra: dict | None = None,
) -> Artifact:
    digest = hashlib.sha256()
    for rel, path in files.items():
        digest.update(rel.encode() + b"\0" + path.read_bytes())
    for rel, text in sorted(generated.items()):
        digest.update(rel.encode() + b"\0" + text.encode())
    assets: dict[str, pulumi.Asset | pulumi.Archive] = {
        rel: pulumi.FileAsset(str(p)) for rel, p in files.items()
    }
    assets.update({rel: pulumi.StringAsset(text) for rel, text in generated.items()})
    assets.update(extra or {})
    return Artifact(pulumi.AssetArchive(assets), digest.hexdigest()[:16], requirements)


def cloud_function_source() -> Artifact:
    """The Cloud Function's source zip: handler + app modules + main.py + requirements.txt."""
    main = f"from {HANDLERS['gcp']} import {GCP_ENTRY_POINT}  # noqa: F401  (the function's entry point)\n"
    generated = {"main.py": main, "requirements.txt": requirements_text(GCP_REQUIREMENTS)}
    return _artifact(handler_files(HANDLERS["gcp"]), generated, GCP_REQUIREMENTS)


def azure_host_json() -> str:
    return json.dumps(
        {
            "version": "2.0",
            "extensions": {"http": {"routePrefix": AZURE_ROUTE_PREFIX}},
            # The handler's own log lines (audit) are INFO; the host's default would sample them away.
            "logging": {"logLevel": {"default": "Information"}},
        },
        sort_keys=True,
    )


def site_packages(
    requirements: tuple[str, ...], python_version: str, platform: str, cache_dir: Path = CACHE_DIR
) -> Path:
    """`pip install --target` of the requirements for another Python and platform (wheels only), cached.

    The folder is built once per (requirements, Python, platform) and renamed into place, so a concurrent or
    interrupted build never leaves a half-filled folder behind.
    """
    key = hashlib.sha256(f"{requirements}|{python_version}|{platform}".encode()).hexdigest()[:16]
    target = cache_dir / f"site-packages-py{python_version}-{key}"
    if target.is_dir():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=cache_dir))
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",  # bytecode for another Python would be stale; the worker compiles its own
        "--target",
        str(staging),
        "--platform",
        platform,
        "--python-version",
        python_version,
        "--implementation",
        "cp",
        "--only-binary=:all:",
        *requirements,
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ})
        if proc.returncode != 0:
            raise RuntimeError(
                f"pip could not install {', '.join(requirements)} for Python {python_version} ({platform}): "
                f"{proc.stderr.strip()[-800:]}"
            )
        try:
            staging.rename(target)
        except OSError:  # another build finished first: keep its folder
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def function_app_package(cache_dir: Path = CACHE_DIR) -> Artifact:
    """The Function App's zip: handler + app modules, function_app.py, host.json, requirements and their wheels."""
    entry = f"from {HANDLERS['azure']} import app  # noqa: F401  (indexed by the Python worker)\n"
    generated = {
        "function_app.py": entry,
        "host.json": azure_host_json(),
        "requirements.txt": requirements_text(AZURE_REQUIREMENTS),
    }
    packages = site_packages(AZURE_REQUIREMENTS, AZURE_PYTHON, AZURE_PLATFORM, cache_dir)
    extra = {AZURE_PACKAGES_DIR: pulumi.FileArchive(str(packages))}
    # The packages folder is a function of the pins already hashed in requirements.txt.
    return _artifact(handler_files(HANDLERS["azure"]), generated, AZURE_REQUIREMENTS, extra)

"""The real hosts of the deployed artifacts, each in a clean venv holding only what that artifact declares.

- `ImageContainer`: app/Dockerfile's image as a process. Its Python is the Dockerfile's `FROM python:X.Y`, its
  venv holds the project's core dependencies (what the Dockerfile's `pip install .` resolves), its working
  directory is the Dockerfile's build context (`pyproject.toml`, `README.md`, `app/`), its environment the
  Dockerfile's `ENV` plus what the cloud sets, and it runs the image's entry point (`python -m app.container`).
- `CloudFunction`: the `functions-framework` CLI (Cloud Run functions' Python host) serving the extracted source
  archive, in a venv built from the archive's `requirements.txt` on the function's runtime Python, with the
  variables Cloud Run sets (`K_SERVICE`, `K_REVISION`, `FUNCTION_TARGET`, ...).
- `AzureFunctionsHost`: the Python worker (`azure-functions-runtime`) indexing and invoking the extracted Function
  App package, driven by `azure_worker/host.py` in place of the .NET Functions host (see that file). Its venv
  holds the worker only; the app's own dependencies come from the package's `.python_packages`, as on Azure.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from tricloud.emulate.hosts.processes import Proc, base_env
from tricloud.emulate.hosts.venvs import (
    REPO_ROOT,
    Interpreter,
    Venv,
    ensure_venv,
    find_python,
    image_requirements,
)

DOCKERFILE = REPO_ROOT / "app" / "Dockerfile"
BUILD_CONTEXT = ("pyproject.toml", "README.md", "app")  # the Dockerfile's COPY lines
READY_TIMEOUT_S = 120.0
# The Python worker Azure runs, as a library (azure-functions-runtime, published for 3.13+; the 3.12 worker that
# Linux Consumption runs is the same code lineage but not on PyPI), pinned so the host never drifts.
AZURE_WORKER = ("azure-functions-runtime==1.3.0", "azurefunctions-extensions-base==1.2.0", "protobuf==7.36.2")
# Its own folder, run with -P: nothing beside it (such as this package's `azure` or `platform`) shadows an import.
AZURE_WORKER_SCRIPT = Path(__file__).parent / "azure_worker" / "host.py"


def dockerfile_python(dockerfile: Path = DOCKERFILE) -> str:
    m = re.search(r"^FROM\s+python:(\d+\.\d+)", dockerfile.read_text(), re.MULTILINE)
    if m is None:
        raise ValueError(f"{dockerfile}: no `FROM python:X.Y` line")
    return m.group(1)


def dockerfile_env(dockerfile: Path = DOCKERFILE) -> dict[str, str]:
    """The `ENV KEY=value ...` instructions (with line continuations) of the Dockerfile."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip().upper().startswith("ENV "):
            for key, value in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\S+)", line.strip()[4:]):
                env[key] = value.strip("\"'")
    return env


class ImageContainer:
    def __init__(self, workdir: Path) -> None:
        self.interpreter = find_python(dockerfile_python())
        self.venv: Venv = ensure_venv("image", image_requirements(), self.interpreter)
        self.context = workdir / "image"
        if self.context.exists():
            shutil.rmtree(self.context)
        self.context.mkdir(parents=True)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        for name in BUILD_CONTEXT:
            src = REPO_ROOT / name
            if src.is_dir():
                shutil.copytree(src, self.context / name, ignore=ignore)
            else:
                shutil.copy2(src, self.context / name)

    def env(self, cloud_env: Mapping[str, str]) -> dict[str, str]:
        return base_env({**dockerfile_env(), **cloud_env})

    def train(self, args: Sequence[str], cloud_env: Mapping[str, str], timeout: float = 600) -> str:
        """`<image> train ...`; returns stdout (app.train's JSON summary), raises with stderr on failure."""
        proc = subprocess.run(
            [str(self.venv.python), "-m", "app.container", "train", *args],
            cwd=self.context,
            env=self.env(cloud_env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"training exited {proc.returncode}: {proc.stderr.strip()[-1500:]}")
        return proc.stdout

    def serve(self, cloud_env: Mapping[str, str], args: Sequence[str] = ()) -> tuple[Proc, str, str]:
        """`<image> serve` on 127.0.0.1 (the cloud would bind 0.0.0.0); returns (process, url, ready line)."""
        proc = Proc(
            "model server",
            [
                str(self.venv.python),
                "-m",
                "app.container",
                "serve",
                *args,
                "--host",
                "127.0.0.1",
                "--port",
                "0",
            ],
            env=self.env(cloud_env),
            cwd=self.context,
        )
        m = proc.wait_for(r"^serving (\S+) model (\S+) on (http://127\.0\.0\.1:\d+)", READY_TIMEOUT_S)
        return proc, m.group(3), m.group(0)


def function_requirements(source_dir: Path) -> list[str]:
    lines = (source_dir / "requirements.txt").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def runtime_python(runtime: str) -> Interpreter:
    """`python312` (Cloud Functions) or `Python|3.12` (App Service) -> the matching interpreter."""
    m = re.search(r"(\d)\.?(\d+)$", runtime)
    if m is None:
        raise ValueError(f"cannot read a Python version from runtime {runtime!r}")
    return find_python(f"{m.group(1)}.{m.group(2)}")


class CloudFunction:
    def __init__(
        self,
        source_dir: Path,
        *,
        entry_point: str,
        runtime: str,
        name: str,
        env: Mapping[str, str],
        workdir: Path,
    ) -> None:
        self.venv = ensure_venv("cloud-function", function_requirements(source_dir), runtime_python(runtime))
        run_dir = workdir / "cloud-run"
        run_dir.mkdir(parents=True, exist_ok=True)
        cloud_run = {
            "K_SERVICE": name,
            "K_REVISION": f"{name}-00001-loc",
            "K_CONFIGURATION": name,
            "FUNCTION_TARGET": entry_point,
            "FUNCTION_SIGNATURE_TYPE": "http",
            # Not Cloud Run's: gunicorn's start-up lines carry the ephemeral port; its control socket stays here.
            "GUNICORN_LOG_LEVEL": "info",
            "XDG_RUNTIME_DIR": str(run_dir),
        }
        self.proc = Proc(
            "functions-framework",
            [
                self.venv.bin("functions-framework"),
                "--target",
                entry_point,
                "--source",
                source_dir / "main.py",
                "--signature-type",
                "http",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
            ],
            env=base_env({**env, **cloud_run}),
            cwd=source_dir,
        )
        self.url = self.proc.wait_for(r"Listening at: (http://127\.0\.0\.1:\d+)", READY_TIMEOUT_S).group(1)

    def close(self) -> None:
        self.proc.stop()


class AzureFunctionsHost:
    def __init__(self, script_root: Path, *, linux_fx_version: str, app_settings: Mapping[str, str]) -> None:
        self.venv = ensure_venv(
            "azure-functions-host",
            (),
            runtime_python(linux_fx_version),
            host_packages=AZURE_WORKER,
            # The library declares Python >= 3.13 and would pull azure-functions 2.x (3.13 only): the app's own
            # azure-functions comes from its package, as the worker finds it on Azure.
            host_pip_args=("--no-deps", "--ignore-requires-python"),
        )
        self.function_key = secrets.token_urlsafe(24)
        master = secrets.token_urlsafe(24)
        keys = {"TRICLOUD_FUNCTION_KEY": self.function_key, "TRICLOUD_MASTER_KEY": master}
        self.proc = Proc(
            "azure functions host",
            [self.venv.python, "-P", AZURE_WORKER_SCRIPT, "--script-root", script_root, "--port", "0"],
            env=base_env({**app_settings, **keys}),
            cwd=script_root,
        )
        m = self.proc.wait_for(
            r"azure functions host on (http://127\.0\.0\.1:\d+) functions: (.*)$", READY_TIMEOUT_S
        )
        self.url, self.functions = m.group(1), m.group(2)

    def close(self) -> None:
        self.proc.stop()

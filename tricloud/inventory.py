"""Run a stack program under Pulumi mocks (no CLI, no cloud) and list what it would create.

`build_inventory("aws")` reads `stacks/aws/Pulumi.dev.yaml`, runs `stacks/aws/__main__.py` with
`tricloud.mocks.RecordingMocks` and returns a sorted, byte-stable description of every resource (components too) and
the stack outputs. `run_program(cloud, stack, mocks)` is the same run with any Mocks subclass (the local engine's).
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from components.errors import InvalidArgs
from tricloud.config import REGION_KEYS

REPO_ROOT = Path(__file__).resolve().parents[1]


def stack_dir(cloud: str) -> Path:
    path = REPO_ROOT / "stacks" / cloud
    if cloud not in REGION_KEYS or not (path / "__main__.py").is_file():
        raise InvalidArgs(
            "cloud", cloud, f"must be one of {', '.join(REGION_KEYS)} with a stacks/<cloud>/__main__.py"
        )
    return path


def project_name(cloud: str) -> str:
    return str(yaml.safe_load((stack_dir(cloud) / "Pulumi.yaml").read_text())["name"])


def stack_config(cloud: str, stack: str = "dev") -> dict[str, Any]:
    """The `config:` block of `Pulumi.<stack>.yaml`, values as the YAML holds them."""
    path = stack_dir(cloud) / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise InvalidArgs("stack", stack, f"{path.relative_to(REPO_ROOT)} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidArgs(str(path.relative_to(REPO_ROOT)), where, f"is not valid YAML: {problem}") from None
    if not isinstance(data, Mapping):
        raise InvalidArgs(str(path.relative_to(REPO_ROOT)), type(data).__name__, "must be a YAML mapping")
    config = data.get("config") or {}
    if not isinstance(config, Mapping):
        raise InvalidArgs(f"{path.name}: config", config, "must be a mapping")
    return dict(config)


def engine_config(values: Mapping[str, Any]) -> dict[str, str]:
    """Config as the engine hands it to a program: strings, objects and lists as JSON."""
    out: dict[str, str] = {}
    for key, value in values.items():
        if isinstance(value, Mapping) and set(value) == {"secure"}:
            continue  # encrypted values need the stack's secrets provider; the loader reports them if required
        if isinstance(value, str):
            out[key] = value
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = json.dumps(value, sort_keys=True)
    return out


def run_program(
    cloud: str,
    stack: str,
    mocks: Any,
    *,
    config: Mapping[str, Any] | None = None,
    monitor: Any | None = None,
) -> dict[str, Any]:
    """Run `stacks/<cloud>/__main__.py` under `mocks` and return the resolved stack outputs.

    `config` replaces the Pulumi.<stack>.yaml values (tests use it for variants). A `RecordingMocks` gets the
    recording monitor automatically, so parents and dependencies are known.
    """
    import pulumi
    from pulumi.runtime import config as runtime_config
    from pulumi.runtime import mocks as runtime_mocks
    from pulumi.runtime.sync_await import _sync_await

    from tricloud.mocks import install

    values = stack_config(cloud, stack) if config is None else dict(config)
    install(mocks, project=project_name(cloud), stack=stack, monitor=monitor)
    runtime_config.set_all_config(engine_config(values))
    main = stack_dir(cloud) / "__main__.py"
    result: dict[str, Any] = {}

    def program() -> Any:
        # Stacks import from the repository root (components, tricloud) as `pulumi up` does with the venv.
        if str(REPO_ROOT) not in sys.path:
            sys.path.insert(0, str(REPO_ROOT))
        runpy.run_path(str(main), run_name="__main__")
        stack_res = pulumi.runtime.get_root_resource()
        outputs = dict(getattr(stack_res, "outputs", {}) or {})
        return pulumi.Output.from_input(outputs).apply(result.update)

    # The engine passes config through PULUMI_CONFIG; here the stack file (or `config`) is the only source, so a
    # variable left in the shell cannot change an inventory.
    saved_env = os.environ.pop("PULUMI_CONFIG", None)
    try:
        _sync_await(runtime_mocks.run_pulumi_func(lambda: _sync_await(program().future())))
    finally:
        runtime_config.set_all_config({})
        if saved_env is not None:
            os.environ["PULUMI_CONFIG"] = saved_env
    return result


def build_inventory(
    cloud: str, stack: str = "dev", *, config: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`{"cloud", "stack", "region", "resources": [...], "outputs"}`, sorted; identical JSON across runs."""
    from tricloud.mocks import RecordingMocks

    values = stack_config(cloud, stack) if config is None else dict(config)
    region = str(values.get(REGION_KEYS[cloud], ""))
    mocks = RecordingMocks(cloud, region)
    outputs = run_program(cloud, stack, mocks, config=values)
    return {
        "cloud": cloud,
        "stack": stack,
        "region": region,
        "resources": mocks.sorted_resources(),
        "outputs": {k: _plain(v) for k, v in sorted(outputs.items())},
    }


def _plain(value: Any) -> Any:
    from tricloud.mocks import scrub

    return scrub(value)


def format_inventory_table(inv: Mapping[str, Any]) -> str:
    """A plain-text table: type, name, parent; then the outputs (for terminals without rich)."""
    rows = [(r["type"], r["name"], r["parent"] or "") for r in inv["resources"]]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(("type", "name", "parent"))]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [
        f"{inv['cloud']} / {inv['stack']} ({inv['region']}): {len(rows)} resources",
        line.format("type", "name", "parent"),
        line.format(*("-" * w for w in widths)),
        *(line.format(*r) for r in rows),
        "",
        "outputs:",
        *(f"  {k} = {v}" for k, v in sorted(inv["outputs"].items())),
    ]
    return "\n".join(out) + "\n"

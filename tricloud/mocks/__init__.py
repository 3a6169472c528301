"""One recording `pulumi.runtime.Mocks` for the inventory, the unit tests and (subclassed) the local engine.

Per-cloud computed outputs live in `tricloud.mocks.<cloud>`, a module exposing

    computed_state(type_token: str, name: str, inputs: dict, region: str) -> tuple[str, dict]
    invoke(token: str, args: dict, region: str) -> dict          # provider functions (getCallerIdentity, ...)

so Azure and GCP plug in by adding their module; nothing here names a cloud's resource types.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks

# Pulumi's wire marker for secret values (what mocks receive instead of the plaintext's wrapper).
SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_MARKER = "[secret]"
REPO_ROOT = Path(__file__).resolve().parents[2]


def cloud_module(cloud: str) -> ModuleType:
    """The `tricloud.mocks.<cloud>` module with computed_state/invoke."""
    try:
        return importlib.import_module(f"tricloud.mocks.{cloud}")
    except ModuleNotFoundError as e:
        if e.name == f"tricloud.mocks.{cloud}":
            raise ValueError(f"cloud = {cloud!r}: no mocks module tricloud/mocks/{cloud}.py") from None
        raise


@dataclass
class Recorded:
    type: str
    name: str
    parent: str | None
    inputs: dict[str, Any]
    depends_on: list[str] = field(default_factory=list)
    custom: bool = True
    id: str = ""
    state: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "inputs": self.inputs,
            "depends_on": self.depends_on,
        }


def _urn_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _urn_type(urn: str) -> str:
    return urn.split("::")[2].split("$")[-1]


def scrub(value: Any) -> Any:
    """Inputs as plain JSON: secrets -> "[secret]", whole floats -> int, assets -> repo-relative descriptions."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == "1b47061264138c4ac30d75fd1eb44270":
            return SECRET_MARKER
        return {str(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, pulumi.AssetArchive):
        return {"archive": {k: scrub(v) for k, v in sorted(value.assets.items())}}
    if isinstance(value, pulumi.FileArchive | pulumi.FileAsset):
        kind = "file_archive" if isinstance(value, pulumi.FileArchive) else "file_asset"
        return {kind: _relative(value.path)}
    if isinstance(value, pulumi.StringAsset):
        return {"string_asset": value.text}
    if isinstance(value, pulumi.Resource):
        return {"resource": value.pulumi_resource_name}
    return value


def _relative(path: str) -> str:
    """Asset paths relative to the repository, so inventories never carry this machine's paths."""
    p = Path(path).resolve()
    try:
        return p.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return p.name


def unwrap_secrets(value: Any) -> Any:
    """Inputs with Pulumi's secret wrappers replaced by their plaintext (state a provider would return)."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == "1b47061264138c4ac30d75fd1eb44270":
            return unwrap_secrets(value.get("value"))
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


class RecordingMocks(Mocks):
    """Records every registered resource and answers with the cloud's computed outputs.

    Subclasses (the local engine) override `create(args, region)` to return a real id and state from an emulator;
    recording, parents and secrets handling stay here.
    """

    def __init__(self, cloud: str, region: str) -> None:
        self.cloud = cloud
        self.region = region
        self._module = cloud_module(cloud)
        self._lock = threading.Lock()
        self._meta: dict[tuple[str, str], tuple[str | None, list[str]]] = {}
        self.resources: list[Recorded] = []
        self.registered_outputs: dict[
            str, list[str]
        ] = {}  # component name -> names passed to register_outputs
        # Provider functions answered by state rather than constants (the engine's emulator, a test's SSM store).
        self.invokes: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}

    # --- hooks for subclasses ---

    def create(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        """Id and extra state of a custom resource; the default computes plausible provider outputs."""
        computed: Callable[[str, str, dict, str], tuple[str, dict]] = self._module.computed_state
        return computed(args.typ, args.name, unwrap_secrets(args.inputs), self.region)

    # --- Mocks interface ---

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        if args.custom:
            rid, extra = self.create(args)
            state = {**args.inputs, **extra}
        else:
            rid, state = f"{args.name}-component", {}
        with self._lock:
            parent, deps = self._meta.pop((args.typ, args.name), (None, []))
            self.resources.append(
                Recorded(
                    type=args.typ,
                    name=args.name,
                    parent=parent,
                    inputs=scrub(args.inputs),
                    depends_on=deps,
                    custom=bool(args.custom),
                    id=rid,
                    state=state,
                )
            )
        return rid, state

    def call(self, args: MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        answer = self.invokes.get(args.token)
        if answer is not None:
            return answer(dict(args.args)), []
        invoke: Callable[[str, dict, str], dict] = self._module.invoke
        return invoke(args.token, dict(args.args), self.region), []

    # --- called by RecordingMonitor (same thread as new_resource) ---

    def note(self, typ: str, name: str, parent: str | None, deps: list[str]) -> None:
        with self._lock:
            self._meta[(typ, name)] = (parent, deps)

    def note_outputs(self, name: str, keys: list[str]) -> None:
        with self._lock:
            self.registered_outputs[name] = sorted(keys)

    # --- queries ---

    def of_type(self, typ: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.resources if r.type == typ]

    def one(self, typ: str, name: str | None = None) -> Recorded:
        found = [r for r in self.of_type(typ) if name is None or r.name == name]
        if len(found) != 1:
            names = sorted(r.name for r in self.of_type(typ))
            raise AssertionError(f"expected one {typ}{' ' + name if name else ''}, found {names}")
        return found[0]

    def sorted_resources(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.as_dict() for r in sorted(self.resources, key=lambda r: (r.type, r.name))]


class RecordingMonitor(MockMonitor):
    """Sees the registration request, so parents and dependencies (invisible to `Mocks`) can be recorded."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self._recorder = mocks

    def RegisterResource(self, request: Any) -> Any:
        if request.type != "pulumi:pulumi:Stack":
            parent = (
                request.parent
                if request.parent and _urn_type(request.parent) != "pulumi:pulumi:Stack"
                else ""
            )
            deps = sorted({_urn_name(u) for u in request.dependencies})
            self._recorder.note(request.type, request.name, _urn_name(parent) if parent else None, deps)
        return super().RegisterResource(request)

    def RegisterResourceOutputs(self, request: Any) -> Any:
        if _urn_type(request.urn) != "pulumi:pulumi:Stack":
            self._recorder.note_outputs(_urn_name(request.urn), list(request.outputs.keys()))
        return super().RegisterResourceOutputs(request)


def install(
    mocks: Mocks, *, project: str = "tricloud", stack: str = "dev", monitor: Any | None = None
) -> Mocks:
    """`pulumi.runtime.set_mocks` on a fresh root stack (with the recording monitor for RecordingMocks).

    set_mocks keeps an existing root Stack, whose exported outputs would leak from one run into the next.
    """
    from pulumi.runtime import settings

    settings.ROOT.set(None)
    if monitor is None and isinstance(mocks, RecordingMocks):
        monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    return mocks

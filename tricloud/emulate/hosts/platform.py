"""What `tricloud emulate azure` and `tricloud emulate gcp` share: the stack program under Pulumi mocks (every
location, name, setting and artifact comes from the resources it declares), timed phases, a deviations table,
and one exit path that stops every process by PID and removes the run's temporary folder."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tricloud.emulate.hosts.processes import Proc
from tricloud.mocks import Recorded, RecordingMocks, unwrap_secrets

SAMPLE = {  # one listing in app.schema's request shape (the same one `emulate aws` sends)
    "city": "Pune",
    "locality_tier": 2,
    "area_sqft": 1050,
    "bedrooms": 2,
    "bathrooms": 2,
    "age_years": 6,
    "floor": 4,
    "parking": 1,
    "furnishing": "semi-furnished",
    "distance_to_metro_km": 1.8,
}
RAW_NAME = "listings/listings.csv"


class HostPlatformError(Exception):
    """A phase failed; the message names the phase and the cause."""


@dataclass
class Options:
    stack: str = "dev"
    rows: int = 5000
    seed: int = 42
    malformed_fraction: float = 0.02
    config: dict[str, Any] | None = None  # stack config override (tests)


@dataclass
class HostPlatform:
    """Subclasses set `cloud` and implement the phases; `run()` runs them in order."""

    options: Options = field(default_factory=Options)
    on_phase: Callable[[str, str, float], None] = lambda phase, detail, seconds: None
    cloud: str = ""
    region: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    deviations: list[tuple[str, str]] = field(default_factory=list)
    mocks: RecordingMocks | None = None

    def __post_init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix=f"tricloud-emulate-{self.cloud}-"))
        self._cleanup = contextlib.ExitStack()

    def run(self) -> dict[str, Any]:
        """Every phase in order; returns the first (model) prediction's body."""
        self.inventory()
        self.lake()
        self.data()
        self.train()
        self.serve()
        self.function()
        body = self.smoke()
        self.fallback()
        return body

    def lake(self) -> None:
        raise NotImplementedError

    def data(self) -> None:
        raise NotImplementedError

    def train(self) -> None:
        raise NotImplementedError

    def serve(self) -> None:
        raise NotImplementedError

    def function(self) -> None:
        raise NotImplementedError

    # --- phases ---------------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[dict[str, Any]]:
        info: dict[str, Any] = {}
        started = time.perf_counter()
        try:
            yield info
        except HostPlatformError:
            raise
        except Exception as exc:
            raise HostPlatformError(f"{name}: {type(exc).__name__}: {exc}") from exc
        seconds = time.perf_counter() - started
        self.timings[name] = seconds
        self.details[name] = info
        self.on_phase(name, info.get("summary", ""), seconds)

    def deviation(self, part: str, detail: str) -> None:
        if (part, detail) not in self.deviations:
            self.deviations.append((part, detail))

    def inventory(self) -> dict[str, Any]:
        """The stack program under recording mocks: the resources the later phases read their settings from."""
        from tricloud.config import REGION_KEYS
        from tricloud.inventory import run_program, stack_config

        with self.phase("inventory") as info:
            values = (
                stack_config(self.cloud, self.options.stack)
                if self.options.config is None
                else self.options.config
            )
            self.region = str(values.get(REGION_KEYS[self.cloud], ""))
            self.mocks = RecordingMocks(self.cloud, self.region)
            self.outputs = run_program(self.cloud, self.options.stack, self.mocks, config=values)
            custom = [r for r in self.mocks.resources if r.custom]
            info["summary"] = (
                f"{len(custom)} resources declared by stacks/{self.cloud} (Pulumi mocks, nothing created)"
            )
            info["resources"] = len(custom)
        return self.outputs

    def resource(self, typ: str, name: str | None = None) -> Recorded:
        assert self.mocks is not None, "inventory() first"
        return self.mocks.one(typ, name)

    def mocks_of(self, typ: str) -> list[Recorded]:
        assert self.mocks is not None, "inventory() first"
        return self.mocks.of_type(typ)

    def state(self, typ: str, name: str | None = None) -> dict[str, Any]:
        """A resource's inputs and computed outputs, secrets unwrapped (assets stay Pulumi objects)."""
        return dict(unwrap_secrets(self.resource(typ, name).state))

    def runtime_deviation(self, what: str, interpreter: Any) -> None:
        if not interpreter.exact:
            self.deviation(
                "runtime",
                f"{what}: Python {interpreter.version} stands in for the runtime's (not installed here)",
            )

    # --- the prediction checks (the subclass says how to call its front-end and what can be taken down) --------

    predict_label = "POST /predict"

    def predict(self, payload: Any) -> tuple[int, Any]:
        raise NotImplementedError

    def outage_switch(self) -> Any:
        """The stand-in of the cloud's model endpoint API, whose `outage` flag makes it answer 503."""
        raise NotImplementedError

    def frontend_process(self) -> Proc:
        raise NotImplementedError

    model_version: str = ""

    def smoke(self) -> dict[str, Any]:
        """One prediction through the front-end: a model answer (not the fallback) from the trained version."""
        with self.phase("first prediction") as info:
            status, body = self.predict({"instances": [SAMPLE]})
            if status != 200 or not isinstance(body, dict) or body.get("fallback") is not False:
                raise HostPlatformError(f"first prediction: {self.predict_label} answered {status}: {body}")
            if body.get("model_version") != self.model_version:
                raise HostPlatformError(
                    f"first prediction: answered by model {body.get('model_version')}, trained {self.model_version}"
                )
            info.update(status=status, response=body)
            info["summary"] = f"{body['predictions'][0]:,.0f} INR (model {body['model_version']})"
        return body

    def fallback(self) -> dict[str, Any]:
        """The endpoint answers 503 for one request: the front-end answers with the rule, and audits both."""
        with self.phase("fallback") as info:
            switch = self.outage_switch()
            switch.outage = True
            try:
                status, body = self.predict({"instances": [SAMPLE]})
            finally:
                switch.outage = False
            if status != 200 or not isinstance(body, dict) or body.get("fallback") is not True:
                raise HostPlatformError(
                    f"fallback: with the endpoint down {self.predict_label} answered {status}: {body}"
                )
            audit = audit_lines_wait(self.frontend_process(), 2)
            if [a.get("fallback") for a in audit[-2:]] != [False, True]:
                raise HostPlatformError(f"fallback: the front-end's log lacks the two audit lines: {audit}")
            info.update(response=body, audit=audit)
            info["summary"] = (
                f"endpoint down -> {body['predictions'][0]:,.0f} INR ({body['model_version']}); "
                f"audit lines for both requests in the front-end's log"
            )
        return body

    # --- storage and training (the subclass says how objects are read and written in its emulated store) -------

    def read_object(self, store: str, name: str) -> bytes:
        raise NotImplementedError

    def write_object(self, store: str, name: str, data: bytes) -> None:
        raise NotImplementedError

    def train_in_image(
        self,
        info: dict[str, Any],
        *,
        raw: tuple[str, str],
        mount: Path,
        job_env: dict[str, str],
        model_at: tuple[str, str],
        history_at: tuple[str, str],
    ) -> None:
        """The image's `train` on the raw listings, the model folder published where serving reads it and under
        its version in the training output: what the cloud's job does with mounted folders, by copying."""
        from tricloud.emulate.hosts.runtimes import ImageContainer

        self.image = ImageContainer(self.workdir)
        data, out = mount / "inputs" / "training_data" / "listings.csv", mount / "outputs" / "model"
        data.parent.mkdir(parents=True)
        data.write_bytes(self.read_object(*raw))
        self.image.train(["--train-data", str(data), "--model-output", str(out)], job_env)
        self.model_version = str(json.loads((out / "metadata.json").read_text())["version"])
        for f in sorted(out.iterdir()):
            self.write_object(model_at[0], f"{model_at[1]}{f.name}", f.read_bytes())
            self.write_object(history_at[0], f"{history_at[1]}{self.model_version}/{f.name}", f.read_bytes())
        metrics = json.loads((out / "metrics.json").read_text())
        info.update(version=self.model_version, metrics=metrics)
        info["summary"] = (
            f"r2 {metrics.get('r2', 0):.3f}, model {self.model_version} -> {model_at[0]}/{model_at[1]}"
        )
        self.runtime_deviation("image", self.image.interpreter)

    def listings_csv(self) -> Path:
        from app.data.generator import generate, write_listings

        frame = generate(
            self.options.rows, seed=self.options.seed, malformed_fraction=self.options.malformed_fraction
        )
        return write_listings(frame, self.workdir / "raw" / "listings.csv")

    # --- resources that must be released ---------------------------------------------------------------------------

    def keep(self, closable: Any) -> Any:
        """Register something with close() or stop(); close() releases everything in reverse order."""
        self._cleanup.callback(getattr(closable, "close", None) or closable.stop)
        return closable

    def close(self) -> None:
        try:
            self._cleanup.close()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)


def archive_bytes(asset: Any) -> bytes:
    """A Pulumi archive (what the stack hands the provider) as the zip the cloud receives."""
    from tricloud.engine.archive import build_zip

    return build_zip(asset).data


def extract(zip_bytes: bytes, dest: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        for info in zf.infolist():
            target = (dest / info.filename).resolve()
            if not target.is_relative_to(dest.resolve()):
                raise HostPlatformError(f"refusing archive member {info.filename!r} outside {dest}")
        zf.extractall(dest)
    return dest


def audit_lines(proc: Proc) -> list[dict[str, Any]]:
    """The audit records a host printed: structured lines (GCP) or the Azure host's log entries."""
    found = []
    for line in proc.output():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        if entry.get("logger") == "tricloud.audit" and entry.get("event") == "prediction":
            found.append(entry)
        elif entry.get("category") == "tricloud.audit":
            with contextlib.suppress(ValueError, TypeError):
                found.append(json.loads(entry["message"]))
    return found


def audit_lines_wait(
    proc: Proc, count: int, timeout: float = 5.0, request_ids: set[str] | None = None
) -> list[dict[str, Any]]:
    """Hosts write their logs asynchronously: wait (briefly) for `count` audit lines, or for the lines of
    `request_ids` (returning only those)."""
    deadline = time.monotonic() + timeout

    def ready() -> list[dict[str, Any]] | None:
        lines = audit_lines(proc)
        if request_ids is not None:
            lines = [a for a in lines if a.get("request_id") in request_ids]
            return lines if {a.get("request_id") for a in lines} >= request_ids else None
        return lines if len(lines) >= count else None

    found = ready()
    while found is None and time.monotonic() < deadline:
        time.sleep(0.05)
        found = ready()
    return found if found is not None else audit_lines(proc)

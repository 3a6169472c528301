"""Helpers of the offline `tricloud model` tests: moto with the applied AWS stack, curated data, held-out listings.

The stack is applied by the real local engine into an in-process moto server; curated data is written in the
Spark job's layout (`listings/<run>/part-*.parquet` + `_SUCCESS`, `f_*` feature columns and the price) without
running Spark, so each test stays within seconds.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from app.data.generator import generate
from app.features import FEATURE_NAMES, featurize_frame
from app.schema import LABEL, TRAINING_FIELDS, validate_record
from tricloud.config import parse
from tricloud.engine import Emulator, Engine
from tricloud.engine.emulator import reachable
from tricloud.inventory import stack_config
from tricloud.model.base import Context

REGION = "ap-south-1"


def split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def curated_frame(rows: int, seed: int) -> pd.DataFrame:
    """Listings validated and featurized as the Spark job writes them (f_<feature> columns + price_inr)."""
    raw = generate(rows, seed=seed, malformed_fraction=0.0)
    clean = []
    for rec in raw.to_dict("records"):
        ok, _ = validate_record(rec, from_text=False, fields=TRAINING_FIELDS, allow_extra=True)
        if ok is not None:
            clean.append(ok)
    good = pd.DataFrame(clean)
    X = featurize_frame(good)
    frame = pd.DataFrame(X, columns=[f"f_{n}" for n in FEATURE_NAMES])
    frame[LABEL.name] = good[LABEL.name].to_numpy()
    return frame


@dataclass
class OfflineStack:
    emulator: Emulator
    outputs: dict[str, Any]
    state_path: Path
    outputs_file: Path

    def s3(self) -> Any:
        return self.emulator.client("s3")

    def put_curated(
        self, run: str, rows: int = 1500, seed: int = 7, frame: pd.DataFrame | None = None
    ) -> str:
        bucket, prefix = split(self.outputs["curated_uri"])
        key = f"{prefix}listings/{run}/"
        buf = io.BytesIO()
        (frame if frame is not None else curated_frame(rows, seed)).to_parquet(buf, index=False)
        self.s3().put_object(Bucket=bucket, Key=key + "part-00000.parquet", Body=buf.getvalue())
        self.s3().put_object(Bucket=bucket, Key=key + "_SUCCESS", Body=b"")
        return f"s3://{bucket}/{key}"

    def put_holdout(self, rows: int = 400, seed: int = 99) -> str:
        bucket, prefix = split(self.outputs["curated_uri"])
        csv = generate(rows, seed=seed, malformed_fraction=0.0).to_csv(index=False).encode()
        self.s3().put_object(Bucket=bucket, Key=f"{prefix}holdout/listings.csv", Body=csv)
        return f"s3://{bucket}/{prefix}holdout/"


@contextlib.contextmanager
def moto_process() -> Iterator[str]:
    """`python -m tricloud.engine.moto_server` (moto with the SigV4 fixes IAM enforcement needs) on a free loopback port, stopped by its PID; yields its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tricloud.engine.moto_server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not reachable(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto server did not start on {url} (exit {proc.poll()})")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def apply_stack(emulator: Emulator, workdir: Path) -> OfflineStack:
    state = workdir / "aws-dev.local.json"
    result = Engine(emulator, stack="dev", state_path=state).apply()
    outputs = {k: str(v) for k, v in result.outputs.items()}
    outputs_file = workdir / "outputs.json"
    outputs_file.write_text(json.dumps(outputs))
    return OfflineStack(emulator, outputs, state, outputs_file)


def aws_context(offline: OfflineStack, workdir: Path, **sections: dict[str, Any]) -> Context:
    """A Context on the offline stack with the dev config, some `tricloud:<section>` keys replaced."""
    values = stack_config("aws", "dev")
    for name, value in sections.items():
        values[f"tricloud:{name}"] = {**(values.get(f"tricloud:{name}") or {}), **value}
    lines: list[str] = []
    ctx = Context(
        cloud="aws",
        stack="dev",
        project="tricloud-aws",
        config=parse("aws", values),
        outputs=dict(offline.outputs),
        endpoint=offline.emulator.moto_url,
        report=lines.append,
        git_commit="0123456789abcdef0123456789abcdef01234567",
        workdir=workdir,
    )
    ctx.lines = lines  # type: ignore[attr-defined]
    return ctx


def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any] | None, str]:
    """`tricloud <args>` in-process: (exit code, the --json document or None, stderr)."""
    from typer.testing import CliRunner

    from tricloud.cli import app

    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    doc = json.loads(result.stdout) if result.stdout.strip().startswith("{") else None
    return result.exit_code, doc, result.stderr


def model_files(root: Path) -> dict[str, dict[str, bytes]]:
    """Two real model folders from app.train: a good one and a deliberately weak one (one boosting iteration)."""
    from app.train.core import Hyperparameters, train

    data = root / "listings.csv"
    generate(1200, seed=3).to_csv(data, index=False)
    out: dict[str, dict[str, bytes]] = {}
    for name, hp in (
        ("good", Hyperparameters(max_iter=80)),
        ("weak", Hyperparameters(max_iter=1, min_r2=-1.0)),
    ):
        train(data, root / name, hp)
        out[name] = {p.name: p.read_bytes() for p in sorted((root / name).iterdir())}
    return out


def folder_digest(files: dict[str, bytes]) -> str:
    """Independent of the code under test: sorted names with each file's sha256."""
    import hashlib

    h = hashlib.sha256()
    for name in sorted(files):
        h.update(f"{name}\0{hashlib.sha256(files[name]).hexdigest()}\n".encode())
    return h.hexdigest()


LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"


def with_raw_cold_after(days: int) -> dict[str, Any]:
    """The dev config with the raw zone's lifecycle edited: a change outside the endpoint (dev: 30 days)."""
    values = stack_config("aws", "dev")
    values["tricloud:lake"] = {**(values.get("tricloud:lake") or {}), "raw_cold_after_days": days}
    return values


def raw_cold_after(emulator: Emulator, state_path: Path) -> tuple[str, int]:
    """(the state's input hash, the transition days in the emulator) of the raw zone's lifecycle."""
    from tricloud.engine.state import State

    (entry,) = [e for e in State.load(state_path).ordered() if e.type == LIFECYCLE and "-raw-" in e.name]
    rules = emulator.client("s3").get_bucket_lifecycle_configuration(Bucket=entry.id)["Rules"]
    (days,) = {t["Days"] for r in rules for t in r.get("Transitions", [])}
    return entry.input_hash, days

"""`tricloud monitor drift` on anyone's files: what a reference or a current PATH may be, read into the job's types.

Reference: a ``reference.json`` profile, a model folder or ``model.tar.gz`` holding one, or a data file (CSV,
Parquet, JSON lines; a folder of them) whose columns become the profile (strings categorical, numbers numeric).
Current: capture files (any envelope ``app.monitor.capture`` reads), or CSV / Parquet / JSON-lines rows.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pandas as pd

from app.artifact import REFERENCE_FILE
from app.monitor.capture import records_from_bytes, window_from_records
from app.monitor.profile import (
    CATEGORICAL,
    NUMERIC,
    PREDICTION,
    Profile,
    SchemaMismatch,
    Window,
    build_profile,
    profile_from_dict,
    window_from_columns,
)

DATA_SUFFIXES = (".csv", ".parquet", ".json", ".jsonl", ".gz", ".log")
IGNORED_COLUMNS = {"request_id", "row", "ts", "event", "v", "cloud", "model_version", "fallback", "latency_ms",
                   "price_inr"}  # fmt: skip


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))
        if found:
            return found
        raise SchemaMismatch(f"{str(path)!r} holds no files")
    raise SchemaMismatch(f"{str(path)!r} does not exist")


def _frame(files: list[Path]) -> pd.DataFrame | None:
    """Tabular files as one frame; None when they are log/capture files instead."""
    frames = []
    for p in files:
        if p.suffix == ".parquet":
            frames.append(pd.read_parquet(p))
        elif p.suffix == ".csv":
            frames.append(pd.read_csv(p))
        else:
            return None
    return pd.concat(frames, ignore_index=True) if frames else None


def load_reference(path: Path) -> Profile:
    if path.is_dir() and (path / REFERENCE_FILE).is_file():
        path = path / REFERENCE_FILE
    if path.is_file() and path.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(path, "r:gz") as tar:
            try:
                member = tar.extractfile(REFERENCE_FILE)
            except KeyError:
                member = None
            if member is None:
                raise SchemaMismatch(f"{str(path)!r} holds no {REFERENCE_FILE} (train it with this version)")
            return profile_from_dict(json.loads(member.read()), f"{path}:{REFERENCE_FILE}")
    if path.is_file() and path.suffix == ".json":
        doc = json.loads(path.read_text())
        if isinstance(doc, dict) and str(doc.get("format", "")).startswith("tricloud.reference/"):
            return profile_from_dict(doc, str(path))
    columns, _ = _columns(path, "reference")
    kinds = {k: _kind(v) for k, v in columns.items() if k not in IGNORED_COLUMNS and k != PREDICTION}
    if not kinds:
        raise SchemaMismatch(f"reference {str(path)!r} has no feature columns")
    preds = columns.get(PREDICTION)
    return build_profile(columns, preds, kinds=kinds, source=str(path))


def load_current(path: Path, profile: Profile) -> Window:
    kinds = {k: f.kind for k, f in profile.features.items()}
    columns, records = _columns(path, "current")
    if records is not None:
        return window_from_records(records, kinds)
    window = window_from_columns(columns, kinds, where=f"current {str(path)!r}")
    _check_kinds(columns, kinds, str(path))
    return window


def _columns(path: Path, what: str) -> tuple[dict[str, list[Any]], list[dict[str, Any]] | None]:
    """(columns, capture records or None) of a PATH."""
    files = _files(path)
    frame = _frame(files)
    if frame is not None:
        return {str(c): frame[c].tolist() for c in frame.columns}, None
    records: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for p in files:
        data = p.read_bytes()
        found = records_from_bytes(data)
        if found:
            records += found
            continue
        for line in io.BytesIO(data).read().decode("utf-8", errors="replace").splitlines():
            if line.strip().startswith("{"):
                doc = json.loads(line)
                if isinstance(doc, dict):
                    rows.append(doc)
    if records:
        cols = sorted({k for r in records for k in r})
        return {c: [r.get(c) for r in records] for c in cols}, records
    if not rows:
        raise SchemaMismatch(
            f"{what} {str(path)!r}: no CSV, Parquet, JSON-lines rows or capture records found"
        )
    cols = sorted({k for r in rows for k in r})
    return {c: [r.get(c) for r in rows] for c in cols}, None


def _kind(values: list[Any]) -> str:
    sample = [v for v in values if v is not None and not (isinstance(v, float) and v != v)]
    if sample and all(isinstance(v, int | float) and not isinstance(v, bool) for v in sample):
        return NUMERIC
    return CATEGORICAL


def _check_kinds(columns: dict[str, list[Any]], kinds: dict[str, str], where: str) -> None:
    wrong = []
    for name, kind in kinds.items():
        have = _kind(columns[name])
        if have != kind and not (kind == CATEGORICAL and have == NUMERIC and _small_ints(columns[name])):
            wrong.append(f"{name} is {have} in {where} but {kind} in the reference")
    if wrong:
        raise SchemaMismatch("; ".join(wrong))


def _small_ints(values: list[Any]) -> bool:
    return all(isinstance(v, int) for v in values if v is not None)

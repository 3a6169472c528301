"""Input normalisation: secrets unwrapped, whole floats as ints, Pulumi archives as deterministic zip bytes.

The normalised inputs are what handlers receive and what the input hash covers, so a change to a file inside the
Lambda's code archive changes the hash (and updates the function) while an untouched tree hashes the same.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from tricloud.mocks import SECRET_SIG

SKIP_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache"}
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # zip timestamps fixed: the same files give the same bytes


@dataclass(frozen=True)
class Zip:
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def sha256_b64(self) -> str:
        """The form Lambda reports as CodeSha256."""
        return base64.b64encode(hashlib.sha256(self.data).digest()).decode()


def _files(path: Path, prefix: str) -> list[tuple[str, Path]]:
    if path.is_file():
        return [(prefix or path.name, path)]
    out = []
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path)
        if p.is_file() and not SKIP_PARTS.intersection(rel.parts) and p.suffix != ".pyc":
            out.append((f"{prefix}/{rel.as_posix()}" if prefix else rel.as_posix(), p))
    return out


def _collect(value: Any, prefix: str, out: dict[str, bytes]) -> None:
    if isinstance(value, pulumi.AssetArchive):
        for name, asset in sorted(value.assets.items()):
            _collect(asset, f"{prefix}/{name}" if prefix else name, out)
    elif isinstance(value, pulumi.FileArchive | pulumi.FileAsset):
        path = Path(value.path)
        if isinstance(value, pulumi.FileArchive) and path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    if not info.is_dir():
                        out[f"{prefix}/{info.filename}" if prefix else info.filename] = zf.read(info)
            return
        if not path.exists():
            raise ValueError(f"archive path {value.path!r} does not exist")
        for arcname, p in _files(path, prefix):
            out[arcname] = p.read_bytes()
    elif isinstance(value, pulumi.StringAsset):
        out[prefix] = value.text.encode()
    else:
        raise ValueError(f"unsupported asset {type(value).__name__} at {prefix!r}")


def build_zip(value: pulumi.Archive | pulumi.Asset) -> Zip:
    files: dict[str, bytes] = {}
    _collect(value, "", files)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, files[name])
    return Zip(buf.getvalue())


def normalize(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == "1b47061264138c4ac30d75fd1eb44270":
            return normalize(value.get("value"))
        return {str(k): normalize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalize(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, pulumi.Archive | pulumi.Asset):
        return build_zip(value)
    return value


def input_hash(inputs: dict[str, Any]) -> str:
    text = json.dumps(
        inputs, sort_keys=True, default=lambda o: {"zip": o.sha256} if isinstance(o, Zip) else str(o)
    )
    return hashlib.sha256(text.encode()).hexdigest()

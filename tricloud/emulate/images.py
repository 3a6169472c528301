"""Container images offline: the emulated ECR holds the manifests, this store the layers, a container runs its layer.

There is no Docker offline. An image is the `app/` tree as one gzipped tar layer (what app/Dockerfile's `COPY app`
adds to its base), its digest the sha256 of that blob as in a registry, and its OCI manifest is put to the
emulated ECR (PutImage), which answers with the manifest's digest: the `repo@sha256:...` a training job and a
SageMaker Model pin. moto's ECR keeps manifests only, so the layer blobs live next to the state files
(`<state dir>/images/sha256/<hex>.tar.gz`). A container started for a Model runs its image's layer unpacked: a
version pinned to an older image serves that image's code, as on SageMaker.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from tricloud.engine.state import default_path

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
CODE_DIR = "app"  # what the image holds of the repository


def store_root(repo_root: Path) -> Path:
    """`<state dir>/images`: `.tricloud/images`, or under TRICLOUD_STATE_DIR."""
    return default_path(repo_root, "aws", "x").parent / "images"


def build_layer(src_root: Path) -> bytes:
    """`src_root/app` as a reproducible gzipped tar: sorted names, no times, owners or caches, so the same code
    always gives the same digest and any change of a file gives another."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted((src_root / CODE_DIR).rglob("*")):
            rel = path.relative_to(src_root)
            if "__pycache__" in rel.parts or path.suffix == ".pyc":
                continue
            info = tar.gettarinfo(str(path), arcname=rel.as_posix())
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            info.mode = 0o755 if path.is_dir() else 0o644
            if path.is_file():
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            elif path.is_dir():
                tar.addfile(info)
    return gzip.compress(raw.getvalue(), mtime=0)


def manifest(layer_digest: str, layer_size: int) -> str:
    """The image's OCI manifest: one layer (the code) and a config naming it."""
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [layer_digest]}},
        sort_keys=True,
    ).encode()
    doc = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
            "size": len(config),
        },
        "layers": [{"mediaType": LAYER_TYPE, "digest": layer_digest, "size": layer_size}],
    }
    return json.dumps(doc, sort_keys=True)


class ImageStore:
    """Layer blobs by digest, and their unpacked trees (each unpacked once)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def blob_path(self, digest: str) -> Path:
        algo, _, hexd = digest.partition(":")
        if algo != "sha256" or len(hexd) != 64 or not all(c in "0123456789abcdef" for c in hexd):
            raise ValueError(f"layer digest {digest!r} is not sha256:<64 hex>")
        return self.root / "sha256" / f"{hexd}.tar.gz"

    def put(self, blob: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        path = self.blob_path(digest)
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(blob)
            tmp.replace(path)  # atomic: a reader never sees half a blob
        return digest

    def unpack(self, digest: str) -> Path:
        """The layer's tree (a folder holding `app/`), unpacked under the store once per digest."""
        target = self.root / "trees" / digest.replace(":", "-")
        if (target / CODE_DIR).is_dir():
            return target
        blob = self.blob_path(digest)
        if not blob.is_file():
            raise LookupError(f"layer {digest} is not in the local image store {self.root}")
        if hashlib.sha256(blob.read_bytes()).hexdigest() != digest.partition(":")[2]:
            raise ValueError(f"layer {blob} does not match its digest {digest}")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="unpack-", dir=target.parent))
        with tarfile.open(blob, mode="r:gz") as tar:
            tar.extractall(staging, filter="data")
        try:
            staging.replace(target)
        except OSError:  # another process unpacked it first: theirs is the same bytes
            shutil.rmtree(staging, ignore_errors=True)
        return target


def publish(ecr: Any, store: ImageStore, repository: str, tag: str, src_root: Path) -> tuple[str, str]:
    """Put `src_root/app` as `repository:tag` into the emulated ECR; (manifest digest, layer digest)."""
    blob = build_layer(src_root)
    layer = store.put(blob)
    out = ecr.put_image(
        repositoryName=repository,
        imageManifest=manifest(layer, len(blob)),
        imageManifestMediaType=MANIFEST_TYPE,
        imageTag=tag,
    )
    return str(out["image"]["imageId"]["imageDigest"]), layer


def layer_of(ecr: Any, repository: str, reference: str) -> str | None:
    """The code layer's digest of `repository` at a tag or `sha256:` digest, from its manifest in ECR."""
    image_id = {"imageDigest": reference} if reference.startswith("sha256:") else {"imageTag": reference}
    found = ecr.batch_get_image(
        repositoryName=repository, imageIds=[image_id], acceptedMediaTypes=[MANIFEST_TYPE]
    )
    for image in found.get("images", []):
        layers = json.loads(image.get("imageManifest") or "{}").get("layers") or []
        if layers:
            return str(layers[-1]["digest"])
    return None

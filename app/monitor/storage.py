"""Objects of the lake by URI, the same three verbs on every store: list a prefix, read, write.

Local paths (and ``file://``), ``s3://`` (boto3; ``AWS_ENDPOINT_URL_S3`` reaches an emulator), ``gs://``
(google-cloud-storage; ``STORAGE_EMULATOR_HOST``) and ``abfss://filesystem@account.dfs.core.windows.net/`` (the Data
Lake SDK with the platform's identity). The cloud SDKs are imported only when their scheme is used: the job runs
where only one of them is installed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit


class StorageError(RuntimeError):
    """A lake object could not be listed, read or written: the message names the URI."""


@dataclass(frozen=True)
class Obj:
    uri: str
    size: int


class Store(Protocol):
    def list(self, prefix: str) -> list[Obj]: ...
    def read(self, uri: str) -> bytes: ...
    def write(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> None: ...


class LocalStore:
    def list(self, prefix: str) -> list[Obj]:
        root = Path(prefix.removeprefix("file://"))
        if root.is_file():
            return [Obj(str(root), root.stat().st_size)]
        if not root.exists():
            return []
        return [Obj(str(p), p.stat().st_size) for p in sorted(root.rglob("*")) if p.is_file()]

    def read(self, uri: str) -> bytes:
        try:
            return Path(uri.removeprefix("file://")).read_bytes()
        except OSError as exc:
            raise StorageError(f"cannot read {uri!r}: {exc}") from None

    def write(self, uri: str, data: bytes, content_type: str = "") -> None:
        path = Path(uri.removeprefix("file://"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _split(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    return parts.netloc, parts.path.lstrip("/")


class S3Store:
    def __init__(self, client: Any | None = None) -> None:
        if client is None:
            import boto3
            from botocore.config import Config

            # Bounded: a scheduled job must fail, not hang, when S3 is unreachable.
            client = boto3.client("s3", config=Config(retries={"max_attempts": 5, "mode": "standard"},
                                                      connect_timeout=10, read_timeout=60))  # fmt: skip
        self.s3 = client

    def list(self, prefix: str) -> list[Obj]:
        bucket, key = _split(prefix)
        out = []
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
                out += [Obj(f"s3://{bucket}/{o['Key']}", int(o["Size"])) for o in page.get("Contents", [])]
        except Exception as exc:
            raise StorageError(f"cannot list {prefix!r}: {exc}") from None
        return out

    def read(self, uri: str) -> bytes:
        bucket, key = _split(uri)
        try:
            return bytes(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except Exception as exc:
            raise StorageError(f"cannot read {uri!r}: {exc}") from None

    def write(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        bucket, key = _split(uri)
        try:
            self.s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
        except Exception as exc:
            raise StorageError(f"cannot write {uri!r}: {exc}") from None


class GcsStore:
    def __init__(self) -> None:
        from google.cloud import storage

        if os.environ.get("STORAGE_EMULATOR_HOST"):
            from google.auth.credentials import AnonymousCredentials

            self.client = storage.Client(project="local", credentials=AnonymousCredentials())
        else:
            self.client = storage.Client()

    def list(self, prefix: str) -> list[Obj]:
        bucket, key = _split(prefix)
        return [
            Obj(f"gs://{bucket}/{b.name}", int(b.size or 0))
            for b in self.client.list_blobs(bucket, prefix=key)
        ]

    def read(self, uri: str) -> bytes:
        bucket, key = _split(uri)
        return bytes(self.client.bucket(bucket).blob(key).download_as_bytes())

    def write(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        bucket, key = _split(uri)
        self.client.bucket(bucket).blob(key).upload_from_string(data, content_type=content_type)


class AdlsStore:
    """abfss://<filesystem>@<account>.dfs.core.windows.net/<path> with DefaultAzureCredential (managed identity)."""

    def __init__(self) -> None:
        from azure.identity import DefaultAzureCredential

        self.credential = DefaultAzureCredential()
        self.clients: dict[str, Any] = {}

    def _fs(self, uri: str) -> tuple[Any, str]:
        from azure.storage.filedatalake import DataLakeServiceClient

        parts = urlsplit(uri)
        filesystem, _, host = parts.netloc.partition("@")
        if host not in self.clients:
            self.clients[host] = DataLakeServiceClient(f"https://{host}", credential=self.credential)
        return self.clients[host].get_file_system_client(filesystem), parts.path.lstrip("/")

    def list(self, prefix: str) -> list[Obj]:
        fs, path = self._fs(prefix)
        base = prefix.split("@", 1)[0] + "@" + urlsplit(prefix).netloc.split("@", 1)[1]
        return [
            Obj(f"{base}/{p.name}", int(p.content_length or 0))
            for p in fs.get_paths(path=path or None, recursive=True)
            if not p.is_directory
        ]

    def read(self, uri: str) -> bytes:
        fs, path = self._fs(uri)
        return bytes(fs.get_file_client(path).download_file().readall())

    def write(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        from azure.storage.filedatalake import ContentSettings

        fs, path = self._fs(uri)
        fs.get_file_client(path).upload_data(
            data, overwrite=True, content_settings=ContentSettings(content_type=content_type)
        )


_STORES: dict[str, Store] = {}


def store_for(uri: str) -> Store:
    scheme = urlsplit(uri).scheme if "://" in uri else ""
    if scheme in ("", "file"):
        return LocalStore()
    if scheme not in ("s3", "s3a", "gs", "abfss"):
        raise StorageError(f"unsupported URI scheme in {uri!r}: use a path, s3://, gs:// or abfss://")
    if scheme not in _STORES:
        _STORES[scheme] = {"s3": S3Store, "s3a": S3Store, "gs": GcsStore, "abfss": AdlsStore}[scheme]()
    return _STORES[scheme]


def join(base: str, *parts: str) -> str:
    out = base.rstrip("/")
    for p in parts:
        out += "/" + p.strip("/")
    return out


def use(scheme: str, store: Store) -> None:
    """Serve `scheme` URIs from this store (the toolkit's emulator-bound client, a test's fake)."""
    _STORES[scheme] = store
    if scheme == "s3":
        _STORES["s3a"] = store

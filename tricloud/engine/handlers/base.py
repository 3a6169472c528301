"""The handler table: one class per AWS type token, mapping the program's camelCase inputs to boto3 calls."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from tricloud.engine.emulator import Emulator
from tricloud.engine.state import Entry

HANDLERS: dict[str, Handler] = {}

# Error codes that mean "already gone": a delete of something missing is done, not failed.
GONE_CODES = {
    "NoSuchEntity",
    "NoSuchBucket",
    "NoSuchBucketPolicy",
    "NoSuchPublicAccessBlockConfiguration",
    "OwnershipControlsNotFoundError",
    "NoSuchLifecycleConfiguration",
    "ResourceNotFoundException",
    "NotFoundException",
    "EntityNotFoundException",
    "RepositoryNotFoundException",
    "NotFound",
    "404",
    "ResourceNotFound",
    "InvalidRequest",
}


# Error codes (or messages) of a create whose name is taken: the resource exists but no state file lists it.
ALREADY_CODES = {
    "EntityAlreadyExists",
    "BucketAlreadyOwnedByYou",
    "BucketAlreadyExists",
    "ResourceAlreadyExistsException",
    "AlreadyExistsException",
    "ResourceConflictException",
    "RepositoryAlreadyExistsException",
    "ConflictException",
}


class Replace(Exception):
    """Raised by `update` when the change cannot be made in place."""


@dataclass
class Resource:
    """One resource registration as a handler sees it."""

    type: str
    name: str  # logical (Pulumi) name
    inputs: dict[str, Any]
    autoname: str  # what Pulumi's auto-naming would give: <name>-<7 hex>, stable across re-applies
    deviations: list[str] = field(default_factory=list)
    # set by a create that took over an existing resource instead of making one: what it did
    adopted: str = ""

    def get(self, key: str, default: Any = None) -> Any:
        value = self.inputs.get(key)
        return default if value is None else value

    def physical(self, key: str = "name") -> str:
        return str(self.inputs.get(key) or self.autoname)

    def deviate(self, message: str) -> None:
        """A setting the emulator cannot take as AWS would: recorded in state and printed in the summary."""
        self.deviations.append(message)


@dataclass
class Ctx:
    emulator: Emulator
    region: str
    account: str
    code_store: Path  # Lambda code zips by sha256: moto keeps the bytes but cannot hand them back

    def client(self, service: str) -> Any:
        return self.emulator.client(service)

    def arn(self, service: str, resource: str, *, region: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account}:{resource}"


class Handler:
    """create -> (id, outputs); update -> (id, outputs) or raise Replace; delete; exists; locate."""

    type: str = ""
    service: str = ""
    # Replacement order: False deletes the old one first (fixed physical names collide), True creates the new one
    # first and deletes the old after the run (auto-named resources, as Pulumi does).
    create_before_delete: bool = False
    # True when create is an idempotent put: a crash in the middle leaves nothing the next run's put would not
    # overwrite, so it needs no announcement in the state file and no clean-up.
    idempotent: bool = False

    def create(self, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def update(self, ctx: Ctx, r: Resource, old: Entry) -> tuple[str, dict[str, Any]]:
        raise Replace

    def delete(self, ctx: Ctx, e: Entry) -> None:
        raise NotImplementedError

    def exists(self, ctx: Ctx, e: Entry) -> bool:
        return True

    def locate(self, ctx: Ctx, r: Resource) -> list[Entry]:
        """What a create of `r` may have left in the emulator without a state entry (a crash, a lost state file):
        entries `delete` accepts. By default the physical name is the id; types with generated ids override it."""
        if self.idempotent:
            return []
        e = Entry(self.type, r.name, r.physical(), {"name": r.physical()}, "")
        return [e] if self.exists(ctx, e) else []


class PutHandler(Handler):
    """Settings applied with an idempotent put: an update is the same put again."""

    idempotent = True

    def update(self, ctx: Ctx, r: Resource, old: Entry) -> tuple[str, dict[str, Any]]:
        return self.create(ctx, r)


def register(type_token: str, service: str) -> Callable[[type[Handler]], type[Handler]]:
    def deco(cls: type[Handler]) -> type[Handler]:
        inst = cls()
        inst.type, inst.service = type_token, service
        HANDLERS[type_token] = inst
        return cls

    return deco


def gone(exc: ClientError) -> bool:
    code = exc.response.get("Error", {}).get("Code", "")
    msg = exc.response.get("Error", {}).get("Message", "") or ""
    return code in GONE_CODES or "not found" in msg.lower() or "does not exist" in msg.lower()


def already_exists(exc: ClientError) -> bool:
    code = exc.response.get("Error", {}).get("Code", "")
    msg = exc.response.get("Error", {}).get("Message", "") or ""
    return code in ALREADY_CODES or "already exist" in msg.lower()


def ignore_gone(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except ClientError as exc:
        if not gone(exc):
            raise


def found(fn: Callable[[], Any]) -> bool:
    try:
        fn()
        return True
    except ClientError as exc:
        if gone(exc):
            return False
        raise


def new_autoname(name: str) -> str:
    return f"{name}-{secrets.token_hex(4)[:7]}"


_FIRST = re.compile(r"^[a-z]")


def pascal(value: Any, overrides: Mapping[str, str] | None = None) -> Any:
    """camelCase keys (Pulumi inputs) -> PascalCase keys (most boto3 APIs), recursively, dropping None values."""
    overrides = overrides or {}
    if isinstance(value, Mapping):
        return {
            overrides.get(k, _FIRST.sub(lambda m: m.group(0).upper(), k)): pascal(v, overrides)
            for k, v in value.items()
            if v is not None
        }
    if isinstance(value, list):
        return [pascal(v, overrides) for v in value]
    return value


def compact(value: Any) -> Any:
    """Inputs with None values dropped (boto3 rejects None), for APIs that take camelCase as Pulumi does."""
    if isinstance(value, Mapping):
        return {k: compact(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [compact(v) for v in value]
    return value


def tag_list(tags: Mapping[str, str] | None, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: str(v)} for k, v in sorted((tags or {}).items())]


def as_json(doc: Any) -> str:
    return doc if isinstance(doc, str) else json.dumps(doc)

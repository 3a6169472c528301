"""The local engine: run the stack program under mocks whose `new_resource` creates each resource in the emulator.

Pulumi mocks have no diff, update or delete, so those are this engine's: every resource's normalised inputs are
hashed and compared with the state file; unchanged resources return their stored id and outputs, changed ones are
updated in place or replaced, and resources the program no longer registers are deleted after the run.

Targeted apply (`apply(targets=...)`, `pulumi up --target`): only the targeted resources are diffed and changed;
the rest keep their state entry and outputs with no emulator call (see `Engine.apply`).

Crash consistency: a create or replace is announced in the state file before the emulator sees it. A run that
finds announcements (its predecessor was killed mid-change) first deletes whatever those changes left, found by
physical name or, for generated ids, by name and tags (`Handler.locate`); a create that still meets a taken name
(a lost state file) replaces what it finds. Either way the run converges to the program's resources, and says so.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs

from tricloud.engine.archive import Zip, input_hash, normalize
from tricloud.engine.emulator import Emulator
from tricloud.engine.handlers import HANDLERS, Ctx, Replace, Resource
from tricloud.engine.handlers.base import already_exists, new_autoname
from tricloud.engine.handlers.registry import emulator_invokes
from tricloud.engine.state import Entry, State, StateError, default_path, key_of
from tricloud.mocks import RecordingMocks, scrub

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPONENT_PREFIX = "tricloud:"
REPLACED = "~replaced-"  # the old half of a create-before-delete replacement: `<name>~replaced-<id>`


class UnhandledResourceType(Exception):
    def __init__(self, type_token: str, name: str) -> None:
        super().__init__(
            f"no local handler for {type_token} (resource {name!r}): the local engine cannot create it. "
            f"Add one to tricloud/engine/handlers, or change the stack config so it is not used."
        )
        self.type_token, self.name = type_token, name


class StaleState(StateError):
    """The state file describes resources of an emulator that is gone or different."""


class TargetError(Exception):
    """A targeted apply would have to change a resource outside its targets (Pulumi refuses the same)."""


@dataclass(frozen=True)
class Event:
    action: str  # create | update | replace | unchanged | delete | record | skip (untargeted)
    type: str
    name: str
    seconds: float
    deviations: tuple[str, ...] = ()


@dataclass
class Result:
    counts: dict[str, int] = field(default_factory=dict)
    deviations: list[tuple[str, str, str]] = field(default_factory=list)  # (type, name, message)
    # (type, name, message): what a crashed run or a lost state file had left, and what was done with it
    recovered: list[tuple[str, str, str]] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    # (type, name, what a full apply would do: "update" | "create" | "delete") for untargeted resources whose
    # change a targeted apply left pending; untargeted and unchanged ones are only counted ("skip").
    untargeted: list[tuple[str, str, str]] = field(default_factory=list)

    def count(self, action: str) -> int:
        return self.counts.get(action, 0)

    def summary(self) -> str:
        parts = [f"{self.count('create')} to create"]
        for action in ("update", "replace", "delete"):
            if self.count(action):
                parts.append(
                    f"{self.count(action)} {action}d"
                    if action != "delete"
                    else f"{self.count(action)} deleted"
                )
        parts.append(f"{self.count('unchanged')} unchanged")
        if self.count("skip"):
            pending = [f"{n} {w}" for w in ("update", "create", "delete") if (n := self._pending(w))]
            parts.append(
                f"{self.count('skip')} untargeted"
                + (f" ({', '.join(pending)} left for a full apply)" if pending else "")
            )
        return ", ".join(parts)

    def _pending(self, what: str) -> int:
        return sum(1 for _, _, w in self.untargeted if w == what)


def _discard_failed_run() -> None:
    """Cancel the failed program's pending tasks and forget its error: the SDK keeps both on its event loop, and
    the next run in this process (a re-apply, a test) would otherwise inherit the old failure."""
    import asyncio

    from pulumi.runtime.settings import SETTINGS, _get_rpc_manager
    from pulumi.runtime.sync_await import _ensure_event_loop

    loop = _ensure_event_loop()
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in pending:
        t.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    _get_rpc_manager().clear()
    with SETTINGS.lock:
        SETTINGS.outputs.clear()


def jsonable(inputs: Any) -> Any:
    """Inputs as the state file can hold them: archives by their hash."""
    if isinstance(inputs, dict):
        return {k: jsonable(v) for k, v in inputs.items()}
    if isinstance(inputs, list):
        return [jsonable(v) for v in inputs]
    if isinstance(inputs, Zip):
        return {"zip_sha256": inputs.sha256}
    return inputs


def _quiet_unretrieved_futures() -> None:
    """After a failed resource every later registration fails too, and asyncio would print each one's traceback
    ("Future exception was never retrieved": thousands of lines). The first error is what the caller gets."""
    from pulumi.runtime.sync_await import _ensure_event_loop

    loop = _ensure_event_loop()

    def handler(loop: Any, context: dict[str, Any]) -> None:
        if "never retrieved" not in str(context.get("message", "")):
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


class EngineMocks(RecordingMocks):
    """The recording mocks with `create` answered by the emulator."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine.cloud, engine.region)
        self.engine = engine
        self.invokes.update(emulator_invokes(engine.ctx))  # provider functions answered from the emulator

    def meta(self, typ: str, name: str) -> tuple[str | None, list[str]]:
        with self._lock:
            return self._meta.get((typ, name), (None, []))

    def create(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return self.engine.apply_resource(args)

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        if not args.custom:
            self.engine.record_component(args)
        return super().new_resource(args)

    def call(self, args: MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        result, deps = super().call(args)
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            ident = self.engine.emulator.client("sts").get_caller_identity()
            result = {**result, "accountId": ident["Account"], "arn": ident["Arn"], "userId": ident["UserId"]}
        return result, deps


class Engine:
    def __init__(
        self,
        emulator: Emulator,
        *,
        cloud: str = "aws",
        stack: str = "dev",
        state_path: Path | None = None,
        config: dict[str, Any] | None = None,
        on_event: Callable[[Event], None] | None = None,
        before_change: Callable[[str, str, str], None] | None = None,
        after_change: Callable[[str, str, str], None] | None = None,
        on_change: Callable[[str, Entry], None] | None = None,
    ) -> None:
        from tricloud.config import REGION_KEYS
        from tricloud.inventory import stack_config

        self.emulator = emulator
        self.cloud, self.stack = cloud, stack
        self.config = dict(config) if config is not None else stack_config(cloud, stack)
        self.region = str(self.config.get(REGION_KEYS[cloud], emulator.region))
        self.state_path = state_path or default_path(REPO_ROOT, cloud, stack)
        self.state = State.load(self.state_path)
        self.on_event = on_event or (lambda e: None)
        # Tests inject faults here: called with (action, type, name) before any emulator call for a change, and
        # after the emulator answered but before the state file records it (the window a crash leaves orphans in).
        self.before_change = before_change or (lambda action, typ, name: None)
        self.after_change = after_change or (lambda action, typ, name: None)
        # Called with (action, entry) once a create/update/replace is recorded: the data plane follows the control
        # plane here (a SageMaker endpoint update re-routes the runtime shim, for instance).
        self.on_change = on_change or (lambda action, entry: None)
        self._lock = threading.Lock()
        self._ctx: Ctx | None = None
        self.started = False
        self.targets: frozenset[str] | None = None  # of the current apply; None: the whole stack

    # --- shared ---

    def ctx(self) -> Ctx:
        if self._ctx is None:
            code_store = self.state_path.parent / "lambda-code"
            self._ctx = Ctx(self.emulator, self.region, self.emulator.account_id(), code_store)
        return self._ctx

    def _emit(
        self, action: str, typ: str, name: str, started: float, deviations: list[str] | tuple = ()
    ) -> None:
        with self._lock:
            self.result.counts[action] = self.result.counts.get(action, 0) + 1
            self.result.deviations.extend((typ, name, d) for d in deviations)
        self.on_event(Event(action, typ, name, time.perf_counter() - started, tuple(deviations)))

    def check_state(self, state: State) -> None:
        """Refuse a state file written for another emulator; forget resources the emulator lost (of a targeted
        apply, only the targeted ones: the others are neither read nor changed)."""
        if not state.entries:
            return
        old = state.emulator
        here = self.emulator.describe()
        if old.get("in_process") and old.get("pid") != os.getpid():
            raise StaleState(
                f"{self.state_path} was written by an in-process moto (pid {old.get('pid')}) that ended with its "
                f"process, so its {len(state.entries)} resources no longer exist. Run `tricloud destroy "
                f"{self.cloud} --local` to forget them (or delete the file), then run again."
            )
        if old.get("moto_url") and old.get("moto_url") != here["moto_url"]:
            raise StaleState(
                f"{self.state_path} belongs to the emulator at {old.get('moto_url')}, not {here['moto_url']}: "
                f"pass --endpoint {old.get('moto_url')} or run `tricloud destroy {self.cloud} --local` first."
            )
        checked = missing = 0
        for e in state.ordered():
            handler = HANDLERS.get(e.type)
            if not e.custom or handler is None or type(handler).exists is Handler_exists:
                continue
            if not self.targeted(e):
                continue
            checked += 1
            if not handler.exists(self.ctx(), e):
                missing += 1
                state.remove(e.key)  # drift: the emulator lost it; this run creates it again
        if checked and missing == checked:
            raise StaleState(
                f"{self.state_path}: none of its resources exist in the emulator at {here['moto_url']} (it was "
                f"restarted?). Run `tricloud destroy {self.cloud} --local` to forget them, then run again."
            )

    # --- apply ---

    def targeted(self, e: Entry | str) -> bool:
        """Whether this apply may change the resource (an entry, or its key); the old half of a replacement goes
        with its resource."""
        if self.targets is None:
            return True
        key = e if isinstance(e, str) else key_of(e.type, e.name.split(REPLACED)[0])
        return key in self.targets

    def apply(self, targets: Collection[str] | None = None) -> Result:
        """Run the program and bring the emulator to it; with `targets` (state keys, `<type>::<name>`: this
        engine's URNs), only those resources, as `pulumi up --target` (no `--target-dependents`) does.

        Pulumi's rules, mirrored from its step generator (pkg/resource/deploy/step_generator.go, `generateSteps`,
        `validateSteps`, `GenerateDeletes`; docs: pulumi.com/docs/iac/guides/basics/targeted-updates):
        - an untargeted resource in the state is a `same` step: no Check, no Diff, no provider call; the program
          gets its old id and outputs and the state keeps its old entry, so a later full apply still applies its
          pending change;
        - an untargeted resource that would be created is a skipped create: not created, not written to the
          state; a targeted resource that depends on it (or is its child) fails the apply ("untargeted create");
        - a resource the program no longer declares is deleted only when targeted; deleting a target that an
          untargeted resource in the state depends on fails ("delete untargeted resource");
        - a target found neither in the state nor in the program fails ("could not be found in the stack").
        """
        from tricloud.inventory import run_program

        if targets is not None and not targets:
            raise ValueError("a targeted apply needs at least one target (None applies the whole stack)")
        self.targets = frozenset(targets) if targets is not None else None
        started = time.perf_counter()
        self.result = Result()
        self.skipped_creates: set[str] = set()  # names (dependencies are recorded by name)
        # The drift check reads every (targeted) resource: the engine's bookkeeping (Pulumi reads its state backend
        # instead), so it signs as the deployer even when the engine applies as a role (`Emulator.sign_as`).
        signer = getattr(self.emulator, "signer", None)
        if signer is not None:
            self.emulator.sign_as(None)
        try:
            self.check_state(self.state)
        finally:
            if signer is not None:
                self.emulator.sign_as(signer)
        self.started = True  # past the state check: this run owns what the state file lists
        self.state.emulator = self.emulator.describe()
        self.recover()
        self.seen: set[str] = set()
        self.deferred: list[Entry] = []
        self.mocks = EngineMocks(self)
        self.aborted = False
        self.first_error: BaseException | None = None
        self._inflight = 0
        self._idle = threading.Condition(self._lock)
        _quiet_unretrieved_futures()
        try:
            outputs = run_program(self.cloud, self.stack, self.mocks, config=self.config)
        except BaseException:
            # Other threads may still be creating resources: stop new ones and wait for those in flight, so the
            # state file lists everything that exists when the error reaches the caller.
            with self._idle:
                self.aborted = True
                self._idle.wait_for(lambda: self._inflight == 0, timeout=120)
            _discard_failed_run()
            if self.first_error is not None:
                raise self.first_error from None  # the cause, not an "aborted" of a later resource
            raise
        # Resources the program no longer registers, then the old halves of create-before-delete replacements.
        # (A replaced half is listed once: it is in `deferred`, and unseen in the state too.)
        deferred = {e.key for e in self.deferred}
        unknown = sorted((self.targets or frozenset()) - self.seen - {e.key for e in self.state.ordered()})
        if unknown:  # Pulumi: "Target '<urn>' could not be found in the stack"
            raise TargetError(f"target(s) {', '.join(unknown)} found neither in the state nor in the program")
        gone = [e for e in self.state.ordered() if e.key not in self.seen and e.key not in deferred]
        left = [e for e in gone if not self.targeted(e)]
        gone = [e for e in gone if self.targeted(e)]
        self._refuse_orphaning(gone + self.deferred)
        for e in left:  # kept in the state: a later full apply deletes them
            if e.custom:
                self._skip(e.type, e.name, "delete", time.perf_counter())
        for e in sorted(gone, key=lambda e: -e.order) + self.deferred:
            self._delete(e)
        self.state.outputs = scrub(outputs)
        self.state.save()
        self.result.outputs = outputs
        self.result.seconds = time.perf_counter() - started
        return self.result

    def _refuse_orphaning(self, deleting: list[Entry]) -> None:
        """A targeted delete must not leave an untargeted resource depending on what it deletes."""
        if self.targets is None or not deleting:
            return
        doomed = {e.key for e in deleting}
        names = {e.name for e in deleting}
        for kept in self.state.ordered():
            if kept.key in doomed:
                continue
            hit = sorted(names & {*kept.dependencies, *([kept.parent] if kept.parent else [])})
            if hit:
                raise TargetError(
                    f"{kept.type} {kept.name!r} (not targeted) depends on {', '.join(map(repr, hit))}, which this "
                    f"targeted apply deletes: target it too, or apply the whole stack"
                )

    def _skip(self, typ: str, name: str, pending: str, started: float) -> None:
        """An untargeted resource: counted, and its pending change (if any) reported; no emulator call."""
        if pending:
            with self._lock:
                self.result.untargeted.append((typ, name, pending))
        self._emit("skip", typ, name, started)

    def recover(self) -> None:
        """Delete what the changes a killed run announced (and never finished) left in the emulator."""
        for key, rec in sorted(self.state.pending.items()):
            handler = HANDLERS.get(rec["type"])
            if handler is not None and rec.get("action") in ("create", "replace"):
                r = Resource(
                    rec["type"], rec["name"], rec.get("inputs") or {}, autoname=rec.get("autoname", "")
                )
                for e in handler.locate(self.ctx(), r):
                    handler.delete(self.ctx(), e)
                    with self._lock:
                        self.result.recovered.append(
                            (
                                rec["type"],
                                rec["name"],
                                f"deleted {e.id!r}, left half-made by an interrupted run",
                            )
                        )
                if rec["action"] == "replace" and not handler.create_before_delete:
                    self.state.remove(
                        key
                    )  # the old one is gone (or just deleted): the program creates it anew
            self.state.finish(key, None)

    def record_component(self, args: MockResourceArgs) -> None:
        """Component resources are recorded (their place in the tree), never created."""
        key = key_of(args.typ, args.name)
        with self._lock:
            self.seen.add(key)
        if self.state.get(key) is None and not self.targeted(key):
            with self._lock:
                self.skipped_creates.add(args.name)  # a skipped create: not in the state
            return
        if self.state.get(key) is None:
            parent, deps = self.mocks.meta(args.typ, args.name)
            self.state.put(
                Entry(
                    args.typ,
                    args.name,
                    f"{args.name}-component",
                    {},
                    "",
                    deps,
                    parent,
                    self.state.next_order(),
                    False,
                )
            )
        self._emit("record", args.typ, args.name, time.perf_counter())

    def apply_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        with self._idle:
            if self.aborted:
                raise RuntimeError(f"apply aborted by an earlier error; {args.typ} {args.name} not applied")
            self._inflight += 1
        try:
            return self._apply_resource(args)
        except BaseException as exc:
            # The SDK registers the rest of the program even after one resource failed: stop changing anything.
            with self._idle:
                self.aborted = True
                if self.first_error is None:
                    self.first_error = exc
            raise
        finally:
            with self._idle:
                self._inflight -= 1
                self._idle.notify_all()

    def _apply_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        started = time.perf_counter()
        typ, name = args.typ, args.name
        handler = HANDLERS.get(typ)
        if handler is None:
            raise UnhandledResourceType(typ, name)
        key = key_of(typ, name)
        with self._lock:
            self.seen.add(key)
        inputs = normalize(dict(args.inputs))
        digest = input_hash(inputs)
        old = self.state.get(key)
        parent, deps = self.mocks.meta(typ, name)
        if not self.targeted(key):
            if old is None:
                with self._lock:
                    self.skipped_creates.add(name)
                self._skip(typ, name, "create", started)
                return "", {}  # Pulumi's skipped create: no id; the SDK resolves outputs from the inputs
            self._skip(typ, name, "update" if old.input_hash != digest else "", started)
            return old.id, old.outputs
        with self._lock:
            missing = sorted(self.skipped_creates & {*deps, *([parent] if parent else [])})
        if missing:
            raise TargetError(
                f"{typ} {name!r} is targeted but depends on {', '.join(map(repr, missing))}, which would be "
                f"created and is not targeted: target it too, or apply the whole stack"
            )
        if old is not None and old.input_hash == digest:
            self._emit("unchanged", typ, name, started)
            return old.id, old.outputs
        r = Resource(
            typ, name, inputs, autoname=(old.autoname if old and old.autoname else new_autoname(name))
        )
        ctx = self.ctx()
        if old is None:
            action = "create"
            self.before_change(action, typ, name)
            self._announce(handler, key, action, r)
            rid, outputs = self._create(handler, ctx, r)
            order = self.state.next_order()
        else:
            try:
                action = "update"
                self.before_change(action, typ, name)
                rid, outputs = handler.update(ctx, r, old)
                order = old.order
            except Replace:
                action = "replace"
                if handler.create_before_delete:
                    r.autoname = new_autoname(name)
                    self._announce(handler, key, action, r)
                    rid, outputs = self._create(handler, ctx, r)
                    self.state.put(Entry(**{**old.__dict__, "name": f"{name}{REPLACED}{old.id}"}))
                    self.deferred.append(self.state.get(key_of(typ, f"{name}{REPLACED}{old.id}")))  # type: ignore[arg-type]
                else:
                    self._announce(handler, key, action, r)
                    handler.delete(ctx, old)
                    self.state.remove(key)
                    rid, outputs = self._create(handler, ctx, r)
                order = self.state.next_order()
        self.after_change(action, typ, name)
        entry = Entry(
            typ, name, rid, outputs, digest, deps, parent, order, True, list(r.deviations), r.autoname
        )
        self.state.finish(key, entry)
        self.on_change(action, entry)
        self._emit(action, typ, name, started, r.deviations)
        return rid, outputs

    def _announce(self, handler: Any, key: str, action: str, r: Resource) -> None:
        if not handler.idempotent:
            rec = {"type": r.type, "name": r.name, "action": action, "autoname": r.autoname}
            self.state.begin(key, {**rec, "inputs": jsonable(r.inputs)})

    def _create(self, handler: Any, ctx: Ctx, r: Resource) -> tuple[str, dict[str, Any]]:
        try:
            out = handler.create(ctx, r)
            if r.adopted:
                with self._lock:
                    self.result.recovered.append((r.type, r.name, r.adopted))
            return out
        except ClientError as exc:
            if not already_exists(exc):
                raise
            # The name is taken by a resource no state lists (a state file deleted or written elsewhere): it is
            # this stack's (names carry project and stack), so it is replaced by the program's.
            taken = handler.locate(ctx, r)
            if not taken:
                raise
            for e in taken:
                handler.delete(ctx, e)
            with self._lock:
                self.result.recovered.append(
                    (
                        r.type,
                        r.name,
                        f"replaced {', '.join(e.id for e in taken)}: it existed but no state listed it",
                    )
                )
            return handler.create(ctx, r)

    # --- destroy ---

    def _delete(self, e: Entry) -> None:
        started = time.perf_counter()
        if e.custom:
            handler = HANDLERS.get(e.type)
            if handler is None:
                raise UnhandledResourceType(e.type, e.name)
            self.before_change("delete", e.type, e.name)
            e.deviations = []
            handler.delete(self.ctx(), e)
        self.state.remove(e.key)
        if e.custom:
            self._emit("delete", e.type, e.name, started, e.deviations)

    def remove(self, drop: Callable[[Entry], bool]) -> Result:
        """Delete the state's resources that `drop` selects, newest first, as an apply does for resources the
        program no longer declares (the CI permission test stages a deploy that removes resources this way)."""
        self.result = Result()
        self.state = State.load(self.state_path)
        for e in sorted(self.state.ordered(), key=lambda e: -e.order):
            if drop(e):
                self._delete(e)
        self.state.save()
        return self.result

    def destroy_plan(self) -> list[Entry]:
        """What `destroy` would delete, in its order."""
        return sorted(State.load(self.state_path).ordered(), key=lambda e: -e.order)

    def sweep(self) -> None:
        """Delete what carries this stack's names or tags but no state lists (a state file lost or deleted)."""
        from tricloud.engine.leftovers import sweep
        from tricloud.inventory import project_name

        for kind, ident in sweep(self.emulator, self.ctx(), project_name(self.cloud), self.stack):
            self.result.counts["delete"] = self.result.counts.get("delete", 0) + 1
            self.result.recovered.append(
                (kind, ident, "deleted: the stack's by name or tags, but in no state")
            )

    def destroy(self) -> Result:
        """Delete every resource in reverse creation order (a resource is created after all it depends on), the
        half-made ones an interrupted run announced first."""
        started = time.perf_counter()
        self.result = Result()
        self.state = State.load(self.state_path)
        self.recover()
        for e in sorted(self.state.ordered(), key=lambda e: -e.order):
            self._delete(e)
        self.sweep()
        if self.state.processes or self.state.workdirs:
            self.state.save()  # the run's processes and folders are the caller's to stop and remove
        else:
            self.state.delete_file()
        self.result.seconds = time.perf_counter() - started
        return self.result


from tricloud.engine.handlers.base import Handler  # noqa: E402

Handler_exists = Handler.exists

"""Apply: execute a plan so that the node ends exactly as planned or exactly as it was.

Each planned step becomes backend operations; before each operation the one that undoes
it is appended to the journal (fsynced). Any error, Ctrl-C or SIGTERM undoes what was done,
newest first; a rollback error is reported together with the error that caused it, and the
journal is then kept for ``pe-plan recover``. The executor never re-diffs: it runs the plan
it was given. Verification (refresh and re-plan to zero) is the caller's ``verify``, and
recording the new state its ``record``: a failure there undoes the apply too, unless the
new state could be saved elsewhere (the node then matches that saved state).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import FrameType
from typing import NoReturn, Protocol, runtime_checkable

import msgspec

from pe_plan.backends.kernel import KernelBackend
from pe_plan.errors import BackendError, PePlanError, RolledBackError, StateError, StateWriteError
from pe_plan.frr_diff import FrrDelta, diff_frr
from pe_plan.journal import Journal, UndoEntry
from pe_plan.model import (
    Address,
    FrrInstance,
    Link,
    Netns,
    NodeState,
    Object,
    Role,
    Sysctl,
    link_address,
)
from pe_plan.operations import (
    AddAddress,
    CreateLink,
    CreateNetns,
    DeleteAddress,
    DeleteLink,
    DeleteNetns,
    MoveLink,
    Operation,
    RestoreFrr,
    SetLink,
    SetSysctl,
    StartFrr,
    StopFrr,
    describe_operation,
)
from pe_plan.plan import FRR_ADDRESS, Action, FrrAction, Plan, Step

ZERO_MAC = "00:00:00:00:00:00"


class FrrControl(Protocol):
    """The FRR instance's config, as the executor needs it (see ``backends.frr.Vtysh``)."""

    def running_config(self) -> str: ...

    def apply(self, delta: FrrDelta) -> None: ...

    def restore(self, snapshot: str) -> None: ...


class FrrDaemons(Protocol):
    """Start and stop the managed FRR instance (see ``backends.frr.ManagedFrr``)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class Runner(Protocol):
    """Everything apply writes goes through one of these two methods."""

    def run(self, operation: Operation) -> None: ...

    def apply_frr(self, delta: FrrDelta) -> None: ...

    def frr_snapshot(self) -> str: ...


@runtime_checkable
class BatchingRunner(Protocol):
    """A runner that can send a run of kernel writes together (``NetlinkBackend.batch``).

    Sending a thousand VNIs' writes pipelined instead of one by one halves the kernel's time,
    and journaling their undos with one fsync saves 2 ms a write. Runners without it (the
    fault-injecting ones of the tests) get every write on its own.
    """

    def batch(self) -> AbstractContextManager[object]: ...


# Steps per batch: enough to pipeline, few enough to keep progress lines coming.
BATCH_STEPS = 1000


DaemonsFor = Callable[[str, tuple[str, ...]], FrrDaemons]
"""The daemons (names) of the FRR instance of a pathspace (see ``backends.frr.ManagedFrr``)."""


class BackendRunner:
    """Runs operations on the real backends."""

    def __init__(
        self,
        kernel: KernelBackend,
        frr: FrrControl | None,
        daemons: DaemonsFor | None,
        managed: FrrDaemons | None = None,
    ) -> None:
        self.kernel = kernel
        self.frr = frr
        self.daemons = daemons
        self.managed = managed

    def run(self, operation: Operation) -> None:
        kernel = self.kernel
        match operation:
            case CreateNetns(name=name):
                kernel.create_netns(name)
            case DeleteNetns(name=name):
                kernel.delete_netns(name)
            case CreateLink(link=link, peer=peer):
                # exist_ok: a veth's second leg already exists once its pair is created,
                # and an undo replayed after a crash may find its link already there.
                kernel.add_link(link, exist_ok=True)
                if peer is not None:
                    kernel.update_link(peer, exact=True)
            case DeleteLink(namespace=namespace, name=name):
                kernel.delete_link(namespace, name)
            case SetLink(link=link, exact=exact):
                kernel.update_link(link, exact=exact)
            case MoveLink(name=name, source=source, target=target):
                kernel.move_link(name, source, target)
            case AddAddress(address=address):
                kernel.add_address(address)
            case DeleteAddress(address=address):
                kernel.delete_address(address)
            case SetSysctl(namespace=namespace, key=key, value=value):
                kernel.set_sysctl(namespace, key, value)
            case StartFrr(pathspace=pathspace, daemons=daemons):
                self._daemons(pathspace, daemons).start()
            case StopFrr(pathspace=pathspace, daemons=daemons):
                self._daemons(pathspace, daemons).stop()
            case RestoreFrr(snapshot_file=snapshot_file):
                try:
                    snapshot = Path(snapshot_file).read_text()
                except OSError as err:
                    raise BackendError(
                        f"cannot read the FRR snapshot {snapshot_file}: {err.strerror}"
                    ) from err
                if self.managed is not None:
                    # Managed daemons that died during the change would make the restore,
                    # and every recover after it, fail: they come back first (a no-op
                    # when they run; an undo later in the log stops them if the apply
                    # started them).
                    self.managed.start()
                self._frr().restore(snapshot)

    def batch(self) -> AbstractContextManager[object]:
        return self.kernel.batch()

    def apply_frr(self, delta: FrrDelta) -> None:
        self._frr().apply(delta)

    def frr_snapshot(self) -> str:
        return self._frr().running_config()

    def _frr(self) -> FrrControl:
        if self.frr is None:
            raise BackendError("the plan changes FRR but no FRR instance is configured")
        return self.frr

    def _daemons(self, pathspace: str, names: tuple[str, ...]) -> FrrDaemons:
        if self.daemons is None:
            raise BackendError("the plan starts or stops FRR but FRR is not managed here")
        return self.daemons(pathspace, names)


Pair = tuple[Operation | None, Operation | None]
"""A write and the write that undoes it; either may be missing (nothing to write or undo)."""


def step_operations(step: Action, observed: Mapping[str, Object], router_ns: str) -> list[Pair]:
    """The operations of one object step, each with the operation that undoes it."""
    before, after = step.before, step.after
    if step.action == "create" and after is not None:
        return _create(after, observed, router_ns)
    if step.action == "update" and after is not None and before is not None:
        return _update(before, after, router_ns)
    if step.action == "delete" and before is not None:
        return _delete(before, observed, router_ns)
    msg = f"malformed plan step {step.action} {step.address}"
    raise ValueError(msg)


def _create(obj: Object, observed: Mapping[str, Object], router_ns: str) -> list[Pair]:
    match obj:
        case Netns(name=name):
            return [(CreateNetns(name), DeleteNetns(name))]
        case FrrInstance(pathspace=pathspace, daemons=daemons):
            return [(StartFrr(pathspace, router_ns, daemons), StopFrr(pathspace, daemons))]
        case Sysctl(namespace=namespace, key=key, value=value):
            # A sysctl is "created" only in a namespace this plan creates: undoing that
            # deletes the namespace, and the value with it.
            return [(SetSysctl(namespace, key, value), None)]
        case Address():
            return [(AddAddress(obj), DeleteAddress(obj))]
        case Link(moved_from=source) if source is not None:
            return _move_in(obj, source, observed)
        case Link():
            return [(CreateLink(obj), DeleteLink(obj.namespace, obj.name))]
    msg = f"cannot create {obj!r}"
    raise ValueError(msg)


def _move_in(link: Link, origin: Role, observed: Mapping[str, Object]) -> list[Pair]:
    """The underlay NIC: moved in with its addresses, then given its attributes."""
    found = observed.get(link_address(origin, link.name))
    pairs: list[Pair] = [
        (
            MoveLink(link.name, origin, link.namespace),
            MoveLink(link.name, link.namespace, origin),
        )
    ]
    undo = None
    if isinstance(found, Link):
        undo = SetLink(msgspec.structs.replace(found, namespace=link.namespace), exact=True)
    pairs.append((SetLink(link), undo))
    return pairs


def _update(before: Object, after: Object, router_ns: str) -> list[Pair]:
    if isinstance(after, Link) and isinstance(before, Link):
        return [(SetLink(after), SetLink(before, exact=True))]
    if isinstance(after, Sysctl) and isinstance(before, Sysctl):
        key, namespace = after.key, after.namespace
        return [(SetSysctl(namespace, key, after.value), SetSysctl(namespace, key, before.value))]
    if isinstance(after, FrrInstance) and isinstance(before, FrrInstance):
        # Another set of daemons: a restart. The executor gives the new daemons the running
        # config back; its snapshot restores it after an undo.
        old, new = before.daemons, after.daemons
        return [
            (StopFrr(before.pathspace, old), StartFrr(before.pathspace, router_ns, old)),
            (StartFrr(after.pathspace, router_ns, new), StopFrr(after.pathspace, new)),
        ]
    msg = f"{type(after).__name__} {after.address} cannot be updated in place"
    raise ValueError(msg)


def _delete(obj: Object, observed: Mapping[str, Object], router_ns: str) -> list[Pair]:
    match obj:
        case Netns(name=name):
            return [(DeleteNetns(name), CreateNetns(name))]
        case FrrInstance(pathspace=pathspace, daemons=daemons):
            return [(StopFrr(pathspace, daemons), StartFrr(pathspace, router_ns, daemons))]
        case Sysctl(namespace=namespace, key=key, value=value):
            # Nothing to write: it goes with its namespace. But an undo that makes the
            # namespace again must give it back its value.
            return [(None, SetSysctl(namespace, key, value))]
        case Address():
            return [(DeleteAddress(obj), AddAddress(obj))]
        case Link(moved_from=origin) if origin is not None:
            # The underlay NIC goes back where it came from, addresses and all.
            return [
                (
                    MoveLink(obj.name, obj.namespace, origin),
                    MoveLink(obj.name, origin, obj.namespace),
                )
            ]
        case Link(kind="veth", peer=peer) if peer is not None:
            # The kernel deletes the peer too: the undo gives it back what it had.
            found = observed.get(link_address(obj.peer_namespace or obj.namespace, peer))
            restore = _recreate(obj, found if isinstance(found, Link) else None)
            return [(DeleteLink(obj.namespace, obj.name), restore)]
        case Link():
            return [(DeleteLink(obj.namespace, obj.name), _recreate(obj))]
    msg = f"cannot delete {obj!r}"
    raise ValueError(msg)


def _recreate(link: Link, peer: Link | None = None) -> CreateLink:
    """Make a deleted link again as it was observed.

    A bridge without ports shows the all-zero MAC, which the kernel does not take: it then
    gets one of its own, as it did when it was made.
    """
    if link.mac == ZERO_MAC:
        link = msgspec.structs.replace(link, mac=None)
    return CreateLink(link, peer)


class StepDone(msgspec.Struct, frozen=True):
    """Progress: one planned step completed (``subject``: ``vxlan vni110 [router]``)."""

    address: str
    action: str
    subject: str
    outcome: str
    elapsed_ms: int

    def line(self) -> str:
        return f"{self.subject}: {self.outcome} ({self.elapsed_ms} ms)"


class Interrupted(BaseException):
    """Ctrl-C (SIGINT) or SIGTERM arrived during the apply: it is undone."""


_STOPPING = (signal.SIGINT, signal.SIGTERM)


def _ignore_signals() -> None:
    """From now on a rollback or the recording of the result runs to its end.

    SIGINT and SIGTERM are ignored, not blocked: a blocked mask would be inherited by the FRR
    daemons an undo starts, which then could not be stopped by SIGTERM (an ignored signal
    is not a problem for them: they install their own handlers).
    """
    for signum in _STOPPING:
        signal.signal(signum, signal.SIG_IGN)


@contextmanager
def _signals_handled(
    handler: Callable[[int, FrameType | None], None] | signal.Handlers,
) -> Iterator[None]:
    """SIGINT and SIGTERM go to ``handler`` inside the block."""
    previous = {signum: signal.getsignal(signum) for signum in _STOPPING}
    for signum in _STOPPING:
        signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, action in previous.items():
            # None: a handler not set from Python, which cannot be set back; the default is.
            signal.signal(signum, signal.SIG_DFL if action is None else action)


@contextmanager
def _swallowed_quietly() -> Iterator[None]:
    """Inside the block, an interruption that Python drops is not printed as a traceback.

    The executor raises it again at its next step; other dropped exceptions are printed as
    Python prints them.
    """

    def hook(unraisable: sys.UnraisableHookArgs) -> None:
        if not isinstance(unraisable.exc_value, Interrupted):
            previous(unraisable)

    previous = sys.unraisablehook
    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


class RollbackFailure(msgspec.Struct, frozen=True):
    operation: str
    error: str


def undo(entries: Sequence[UndoEntry], runner: Runner, journal: Journal) -> list[RollbackFailure]:
    """Run undo entries newest first, marking each that worked in the journal; go on past
    failures and return them.

    Once a step has failed, the namespace is not deleted nor FRR stopped: they would take
    away what the failed step still needs (the NIC to move back, the FRR config to restore),
    and running the journal again once the cause is fixed could then not complete it.
    """
    failures: list[RollbackFailure] = []
    with _signals_handled(signal.SIG_IGN):
        for entry in reversed(entries):
            operation = entry.undo
            if failures and isinstance(operation, DeleteNetns | StopFrr):
                failures.append(
                    RollbackFailure(
                        describe_operation(operation), "not run, because an undo step failed"
                    )
                )
                continue
            try:
                runner.run(operation)
            except Exception as err:  # noqa: BLE001 - every undo gets its chance
                message = err.message if isinstance(err, PePlanError) else repr(err)
                failures.append(RollbackFailure(describe_operation(operation), message))
                continue
            journal.undone(entry)
    return failures


class Executor:
    """Runs one plan inside a journal; undoes it on any failure."""

    def __init__(
        self,
        runner: Runner,
        journal: Journal,
        *,
        router_ns: str,
        frr_secrets: Callable[[FrrDelta], FrrDelta],
        on_step: Callable[[StepDone], None],
    ) -> None:
        self.runner = runner
        self.journal = journal
        self.router_ns = router_ns
        self.frr_secrets = frr_secrets
        self.on_step = on_step
        self.undo_log: list[UndoEntry] = []
        self._snapshot_taken = False
        self._batching = runner if isinstance(runner, BatchingRunner) else None
        self._signal: str | None = None

    def _interrupt(self, signum: int, _frame: FrameType | None) -> None:
        self._signal = signal.Signals(signum).name
        raise Interrupted(self._signal)

    def _stop_if_signalled(self) -> None:
        """Raise for a signal whose exception was swallowed where it was raised.

        Python runs its at-fork callbacks (the logging module's, at every subprocess and
        fork) in a context that drops any exception (see :func:`_swallowed_quietly`): a
        SIGTERM arriving then would be lost and the apply would go on to its end. Found by
        signalling applies on a busy machine.
        """
        if self._signal is not None:
            raise Interrupted(self._signal)

    def run(
        self,
        plan: Plan,
        observed: Mapping[str, Object],
        verify: Callable[[], None],
        record: Callable[[], None],
    ) -> None:
        """Execute every step, verify and record; on failure undo everything and raise.

        ``record`` writes the new state. When it raises :class:`StateWriteError` having
        saved the state elsewhere, the node is kept (it matches that state) and the error
        says how to put it in place; any other failure to record is undone like a failed
        step, so that the node matches the state it still has.
        """
        current = "the start"
        # SIGINT is caught even where it was ignored (a process started in the background
        # inherits that), and SIGTERM would end the process on the spot: either way the node
        # would be left half done, with only the journal to say so.
        with _signals_handled(self._interrupt), _swallowed_quietly():
            try:
                for steps in self._runs(plan.actions):
                    self._stop_if_signalled()
                    labels = [_label(step) for step in steps]
                    current = f"{labels[0][0]} ({steps[0].action})"
                    if len(steps) > 1:
                        current += f" or one of the {len(steps) - 1} steps sent with it"
                    started = time.monotonic()
                    self._steps(steps, observed)
                    # A step sent in a batch is shown with its share of the batch's time.
                    elapsed = int((time.monotonic() - started) * 1000 / len(steps))
                    for step, (subject, outcome) in zip(steps, labels, strict=True):
                        self.on_step(
                            StepDone(
                                address=step.address if isinstance(step, Action) else FRR_ADDRESS,
                                action=step.action,
                                subject=subject,
                                outcome=outcome,
                                elapsed_ms=elapsed,
                            )
                        )
                self._stop_if_signalled()
                current = "verification"
                verify()
                self._stop_if_signalled()
            except (Exception, Interrupted) as err:  # noqa: BLE001 - undo on anything
                _ignore_signals()
                self._fail(current, err)
            _ignore_signals()
            self._record(record)
            self.journal.finish()

    def _record(self, record: Callable[[], None]) -> None:
        try:
            record()
        except StateWriteError as err:
            if err.saved_to is None:
                self._fail("recording the state", err, cause=err.reason)
            message, hint = f"the node was changed and verified, but {err.message}", err.hint
            try:
                self.journal.finish()
            except StateError as left:
                # Once the saved state is in place, the next command sees that the apply
                # was recorded and removes the journal without undoing anything.
                message += f"; and {left.message}"
                hint = f"{hint}; the next pe-plan command then removes the journal"
            raise StateError(message, hint=hint) from err
        except Exception as err:  # noqa: BLE001 - the node must match the state it has
            self._fail("recording the state", err)

    def _runs(self, steps: Sequence[Step]) -> Iterator[list[Step]]:
        """The plan's steps in order, runs of batchable steps together if the runner batches."""
        run: list[Step] = []
        for step in steps:
            if run and (not _batchable(step) or len(run) == BATCH_STEPS):
                yield run
                run = []
            if self._batching is not None and _batchable(step):
                run.append(step)
            else:
                yield [step]
        if run:
            yield run

    def _steps(self, steps: Sequence[Step], observed: Mapping[str, Object]) -> None:
        """One step, or a run of batchable steps sent together (``NetlinkBackend.batch``).

        The undos of a whole run are journaled, with one fsync, before the first of its
        writes is sent; if one write fails, or the process dies, the run's other writes may
        or may not have been made, which the rollback does not mind (see :func:`_batchable`).
        """
        if len(steps) == 1:
            self._step(steps[0], observed)
            return
        assert self._batching is not None  # noqa: S101 - only a batching runner gets runs
        pairs = [
            (step.address, pair)
            for step in steps
            if isinstance(step, Action)  # always: a run holds batchable steps only
            for pair in step_operations(step, observed, self.router_ns)
        ]
        undos = [(address, backward) for address, (_, backward) in pairs if backward is not None]
        self.undo_log += self.journal.record_all(undos)
        with self._batching.batch():
            for _, (forward, _) in pairs:
                if forward is not None:
                    self.runner.run(forward)

    def _step(self, step: Action | FrrAction, observed: Mapping[str, Object]) -> None:
        if isinstance(step, FrrAction):
            self._snapshot_frr()
            self.runner.apply_frr(self.frr_secrets(FrrDelta(contexts=step.contexts)))
            return
        running = None
        if step.action == "update" and isinstance(step.before, FrrInstance):
            # A restart: an undo must be able to bring back the config the old daemons ran.
            self._snapshot_frr()
            running = self.runner.frr_snapshot()
        for forward, backward in step_operations(step, observed, self.router_ns):
            if backward is not None:
                self._journal(step.address, backward)
            if forward is not None:
                self.runner.run(forward)
        if running is not None:
            # Restarted daemons begin empty: they get the config the old ones ran.
            self.runner.apply_frr(diff_frr(self.runner.frr_snapshot(), running))

    def _snapshot_frr(self) -> None:
        """Keep FRR's running config before its first change, and journal its restore."""
        if self._snapshot_taken:
            return
        _write_private(self.journal.snapshot, self.runner.frr_snapshot())
        self._journal(FRR_ADDRESS, RestoreFrr(str(self.journal.snapshot)))
        self._snapshot_taken = True

    def _journal(self, address: str, operation: Operation) -> None:
        self.undo_log.append(self.journal.record(address, operation))

    def _fail(self, where: str, err: BaseException, *, cause: str | None = None) -> NoReturn:
        cause = cause or _explain(err)
        command = self.journal.header.command
        failures = undo(self.undo_log, self.runner, self.journal)
        if failures:
            self.journal.close()
            details = "\n".join(f"  {f.operation}: {f.error}" for f in failures)
            raise PePlanError(
                f"{command} failed at {where}: {cause}\nand the rollback failed too "
                f"({len(failures)} of {len(self.undo_log)} undo steps):\n{details}",
                hint=f"the journal {self.journal.path} is kept; fix the cause and run "
                "`pe-plan recover` to finish the rollback",
            ) from err
        message = (
            f"{command} failed at {where}: {cause}\nrolled back: {len(self.undo_log)} undo "
            f"steps ran, the node is as it was before the {command}"
        )
        hint = "the state file is unchanged; fix the cause and run `pe-plan plan` again"
        try:
            self.journal.finish()
        except StateError as left:
            message += f"; but {left.message}"
            hint = f"the node and the state file are as they were: {left.hint}"
        raise RolledBackError(message, hint=hint) from err


def objects_made(
    entries: Sequence[UndoEntry],
    desired: NodeState,
    observed: NodeState,
    recorded: Mapping[str, Object],
) -> dict[str, Object]:
    """What an interrupted apply left on the node that the state does not record yet.

    That is every object the journal has an undo step for, every object the configuration
    wants in a router namespace the journal shows created (nothing else can have put it
    there), and the peers of those that are veths (made together, journaled once), as far as
    they exist. Each is given as the configuration wants it, as apply records what it
    makes, so that one the apply had not finished is updated by the next apply instead of
    being refused as an unmanaged object; one the configuration no longer wants is given as
    it is (a NIC with the namespace it came from), so that the next apply removes it.
    """
    made = {entry.action for entry in entries}
    if any(isinstance(entry.undo, DeleteNetns) for entry in entries):
        made.update(a for a, obj in desired.objects.items() if _in_router_namespace(obj))
    origins = {
        link_address(e.undo.source, e.undo.name): e.undo.target
        for e in entries
        if isinstance(e.undo, MoveLink)
    }
    found: dict[str, Object] = {}
    for address in sorted(made):
        current = observed.objects.get(address)
        if current is None or address in recorded:
            continue
        obj = desired.objects.get(address, current)
        if isinstance(obj, Link) and address in origins:
            obj = msgspec.structs.replace(obj, moved_from=origins[address])
        found[address] = obj
    for link in list(found.values()):
        if isinstance(link, Link) and link.kind == "veth" and link.peer is not None:
            peer = link_address(link.peer_namespace or link.namespace, link.peer)
            current = observed.objects.get(peer)
            if current is not None and peer not in recorded:
                found[peer] = desired.objects.get(peer, current)
    return found


def _in_router_namespace(obj: Object) -> bool:
    return isinstance(obj, Sysctl | Link | Address) and obj.namespace == "router"


def _batchable(step: Step) -> bool:
    """Whether ``step`` can join a batch: one kernel write whose undo needs nothing else.

    In a batch every undo is journaled before any write, so a crash can leave undos of
    writes never made; replaying one is harmless only if the step is a single write on a
    link, an address or a sysctl (not a namespace, FRR, an underlay NIC move, whose undo of
    the second write needs the first made, nor a replacement, whose undo of the create
    would delete the old object the delete never reached).
    """
    if not isinstance(step, Action) or step.replacement:
        return False
    obj = step.after or step.before
    if isinstance(obj, Link):
        return obj.moved_from is None
    return isinstance(obj, Address | Sysctl)


_OUTCOMES = {"create": "created", "update": "updated", "delete": "destroyed"}


def _label(step: Action | FrrAction) -> tuple[str, str]:
    """What a progress line names, and what happened to it."""
    if isinstance(step, FrrAction):
        return "FRR config", "lines removed" if step.action == "remove" else "lines added"
    obj = step.after or step.before
    subject = describe_object(obj) if obj else step.address
    outcome = _OUTCOMES[step.action]
    return subject, f"{outcome} (replacing)" if step.replacement else outcome


def describe_object(obj: Object) -> str:
    """``vxlan vni110 [router]``: how progress lines name an object."""
    match obj:
        case Link(kind=kind, name=name, namespace=namespace):
            return f"{kind} {name} [{namespace}]"
        case Address(cidr=cidr, link=link, namespace=namespace):
            return f"address {cidr} on {link} [{namespace}]"
        case Sysctl(key=key, namespace=namespace):
            return f"sysctl {key} [{namespace}]"
        case Netns(name=name):
            return f"namespace {name}"
        case FrrInstance(pathspace=pathspace):
            return f"FRR instance {pathspace}"
    return obj.address


def _explain(err: BaseException) -> str:
    if isinstance(err, PePlanError):
        return err.message
    if isinstance(err, Interrupted):
        return f"interrupted ({err})"
    return repr(err)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as stream:
        stream.write(text)
        stream.flush()
        os.fsync(stream.fileno())

"""Apply: execute a plan so that the node ends exactly as planned or exactly as it was.

Each planned step becomes backend operations; before each operation the one that undoes
it is appended to the journal (fsynced). Any error, Ctrl-C or SIGTERM undoes what was done,
newest first; a rollback error is reported together with the error that caused it, and the
journal is then kept for ``pe-plan recover``. The executor never re-diffs: it runs the plan
it was given. Verification (refresh and re-plan to zero) is the caller's ``verify``.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Protocol

import msgspec

from pe_plan.backends.kernel import KernelBackend
from pe_plan.errors import BackendError, PePlanError, RolledBackError
from pe_plan.frr_diff import FrrDelta
from pe_plan.journal import Journal
from pe_plan.model import Address, FrrInstance, Link, Netns, Object, Role, Sysctl, link_address
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
from pe_plan.plan import FRR_ADDRESS, Action, FrrAction, Plan


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


class BackendRunner:
    """Runs operations on the real backends."""

    def __init__(
        self,
        kernel: KernelBackend,
        frr: FrrControl | None,
        daemons: Callable[[str], FrrDaemons] | None,
    ) -> None:
        self.kernel = kernel
        self.frr = frr
        self.daemons = daemons

    def run(self, operation: Operation) -> None:
        kernel = self.kernel
        match operation:
            case CreateNetns(name=name):
                kernel.create_netns(name)
            case DeleteNetns(name=name):
                kernel.delete_netns(name)
            case CreateLink(link=link):
                # exist_ok: a veth's second leg already exists once its pair is created,
                # and an undo replayed after a crash may find its link already there.
                kernel.add_link(link, exist_ok=True)
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
            case StartFrr(pathspace=pathspace):
                self._daemons(pathspace).start()
            case StopFrr(pathspace=pathspace):
                self._daemons(pathspace).stop()
            case RestoreFrr(snapshot_file=snapshot_file):
                self._frr().restore(Path(snapshot_file).read_text())

    def apply_frr(self, delta: FrrDelta) -> None:
        self._frr().apply(delta)

    def frr_snapshot(self) -> str:
        return self._frr().running_config()

    def _frr(self) -> FrrControl:
        if self.frr is None:
            raise BackendError("the plan changes FRR but no FRR instance is configured")
        return self.frr

    def _daemons(self, pathspace: str) -> FrrDaemons:
        if self.daemons is None:
            raise BackendError("the plan starts or stops FRR but FRR is not managed here")
        return self.daemons(pathspace)


Pair = tuple[Operation, Operation | None]


def step_operations(step: Action, observed: Mapping[str, Object], router_ns: str) -> list[Pair]:
    """The operations of one object step, each with the operation that undoes it."""
    before, after = step.before, step.after
    if step.action == "create" and after is not None:
        return _create(after, observed, router_ns)
    if step.action == "update" and after is not None and before is not None:
        return _update(before, after)
    if step.action == "delete" and before is not None:
        return _delete(before, router_ns)
    msg = f"malformed plan step {step.action} {step.address}"
    raise ValueError(msg)


def _create(obj: Object, observed: Mapping[str, Object], router_ns: str) -> list[Pair]:
    match obj:
        case Netns(name=name):
            return [(CreateNetns(name), DeleteNetns(name))]
        case FrrInstance(pathspace=pathspace):
            return [(StartFrr(pathspace=pathspace, netns=router_ns), StopFrr(pathspace))]
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


def _update(before: Object, after: Object) -> list[Pair]:
    if isinstance(after, Link) and isinstance(before, Link):
        return [(SetLink(after), SetLink(before, exact=True))]
    if isinstance(after, Sysctl) and isinstance(before, Sysctl):
        key, namespace = after.key, after.namespace
        return [(SetSysctl(namespace, key, after.value), SetSysctl(namespace, key, before.value))]
    msg = f"{type(after).__name__} {after.address} cannot be updated in place"
    raise ValueError(msg)


def _delete(obj: Object, router_ns: str) -> list[Pair]:
    match obj:
        case Netns(name=name):
            return [(DeleteNetns(name), CreateNetns(name))]
        case FrrInstance(pathspace=pathspace):
            return [(StopFrr(pathspace), StartFrr(pathspace=pathspace, netns=router_ns))]
        case Sysctl():
            return []  # it goes with its namespace
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
        case Link():
            return [(DeleteLink(obj.namespace, obj.name), CreateLink(obj))]
    msg = f"cannot delete {obj!r}"
    raise ValueError(msg)


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
    """SIGTERM arrived: treated like Ctrl-C, the apply is undone."""


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    def handler(signum: int, _frame: FrameType | None) -> None:
        raise Interrupted(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _signals_blocked() -> Iterator[None]:
    """A rollback runs to its end: Ctrl-C and SIGTERM wait until it is done."""
    blocked = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class RollbackFailure(msgspec.Struct, frozen=True):
    operation: str
    error: str


def undo(operations: Sequence[Operation], runner: Runner) -> list[RollbackFailure]:
    """Run undo operations newest first; go on past failures and return them."""
    failures: list[RollbackFailure] = []
    with _signals_blocked():
        for operation in reversed(operations):
            try:
                runner.run(operation)
            except Exception as err:  # noqa: BLE001 - every undo gets its chance
                message = err.message if isinstance(err, PePlanError) else repr(err)
                failures.append(RollbackFailure(describe_operation(operation), message))
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
        self.undo_log: list[Operation] = []
        # Absolute: `pe-plan recover` may run from another directory.
        self.snapshot_file = journal.path.with_name(journal.path.name + ".frr").absolute()

    def run(self, plan: Plan, observed: Mapping[str, Object], verify: Callable[[], None]) -> None:
        """Execute every step and verify; on failure undo everything and raise."""
        current = "the start"
        try:
            with _terminate_as_interrupt():
                for step in plan.actions:
                    subject, outcome = _label(step)
                    current = f"{subject} ({step.action})"
                    started = time.monotonic()
                    self._step(step, observed)
                    elapsed = int((time.monotonic() - started) * 1000)
                    self.on_step(
                        StepDone(
                            address=step.address if isinstance(step, Action) else FRR_ADDRESS,
                            action=step.action,
                            subject=subject,
                            outcome=outcome,
                            elapsed_ms=elapsed,
                        )
                    )
                current = "verification"
                verify()
        except (Exception, KeyboardInterrupt, Interrupted) as err:  # noqa: BLE001 - undo on anything
            self._fail(current, err)
        self.snapshot_file.unlink(missing_ok=True)

    def _step(self, step: Action | FrrAction, observed: Mapping[str, Object]) -> None:
        if isinstance(step, FrrAction):
            if not self.snapshot_file.exists():
                snapshot = self.runner.frr_snapshot()
                _write_private(self.snapshot_file, snapshot)
                self._record(FRR_ADDRESS, RestoreFrr(str(self.snapshot_file)))
            self.runner.apply_frr(self.frr_secrets(FrrDelta(contexts=step.contexts)))
            return
        for forward, backward in step_operations(step, observed, self.router_ns):
            if backward is not None:
                self._record(step.address, backward)
            self.runner.run(forward)

    def _record(self, address: str, operation: Operation) -> None:
        self.journal.record(address, operation)
        self.undo_log.append(operation)

    def _fail(self, where: str, err: BaseException) -> None:
        cause = _explain(err)
        failures = undo(self.undo_log, self.runner)
        if failures:
            details = "\n".join(f"  {f.operation}: {f.error}" for f in failures)
            raise PePlanError(
                f"apply failed at {where}: {cause}\nand the rollback failed too "
                f"({len(failures)} of {len(self.undo_log)} undo steps):\n{details}",
                hint=f"the journal {self.journal.path} is kept; fix the cause and run "
                "`pe-plan recover` to finish the rollback",
            ) from err
        self.journal.finish()
        self.snapshot_file.unlink(missing_ok=True)
        raise RolledBackError(
            f"apply failed at {where}: {cause}\nrolled back: {len(self.undo_log)} undo "
            "steps ran, the node is as it was before the apply",
            hint="the state file is unchanged; fix the cause and run `pe-plan plan` again",
        ) from err


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
    if isinstance(err, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    if isinstance(err, Interrupted):
        return f"interrupted ({err})"
    return repr(err)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as stream:
        stream.write(text)
        stream.flush()
        os.fsync(stream.fileno())

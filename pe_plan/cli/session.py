"""One command's hold on a node: the state lock, the backends, and the shared pipeline steps.

``plan``, ``apply``, ``destroy``, ``refresh``, ``import`` and ``recover`` all start the same
way: lock the state, refuse to go on while an interrupted apply's journal is pending, read
the state, refresh the node. :class:`Session` does that once; :func:`prepare` then runs
derive → desired → plan, the part every planning verb shares.
"""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path
from types import TracebackType
from typing import Self

import click
import msgspec

from pe_plan.backends.frr import LocalHost, ManagedFrr, Vtysh
from pe_plan.backends.netlink import NetlinkBackend
from pe_plan.config import Config, NodeSettings
from pe_plan.desired import desired_node
from pe_plan.errors import InputError
from pe_plan.frr_diff import FrrDelta, diff_frr
from pe_plan.journal import journal_path, refuse_if_pending
from pe_plan.model import FrrConfig, FrrInstance, NodeState
from pe_plan.plan import Plan, make_plan
from pe_plan.refresh import node_facts, refresh
from pe_plan.state import (
    NodeInfo,
    State,
    StateFile,
    depends_on_from_state,
    resources_from_state,
)
from pe_plan.state_lock import StateLock
from pe_plan.validate import index_from_addresses


class Session:
    """Lock, backends and state of one node for the length of one command."""

    def __init__(self, settings: NodeSettings, state_path: Path, command: str) -> None:
        self.settings = settings
        self.state_path = state_path
        self.command = command
        # Under `ip netns exec` a new namespace's name would only exist in that command's
        # mount namespace: tests and labs name the host's namespace instead.
        self.kernel = NetlinkBackend(
            router_netns=settings.router_namespace, host_netns=settings.host_namespace
        )
        host = LocalHost()
        self.managed = (
            ManagedFrr(host, namespace=settings.router_namespace, pathspace=settings.pathspace)
            if settings.frr_mode == "managed"
            else None
        )
        socket_dir = settings.frr_vty_socket
        self.vtysh = Vtysh(
            host,
            pathspace=None if socket_dir else settings.pathspace,
            vty_socket=Path(socket_dir) if socket_dir else None,
            start_hint=self.managed.start_hint if self.managed else None,
        )
        self.index = self._resolve_index()
        self.node = NodeInfo(
            name=settings.node_name or socket.gethostname(),
            index=self.index,
            router_namespace=settings.router_namespace,
        )
        self.state_file = StateFile(state_path, node=self.node)
        self.journal = journal_path(state_path)
        self._lock: StateLock | None = None

    def __enter__(self) -> Self:
        self._lock = StateLock.acquire(self.state_path, f"pe-plan {self.command}")
        if self._lock.stale_warning:
            click.echo(f"Warning: {self._lock.stale_warning}", err=True)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._lock is not None:
            self._lock.release()
        self.kernel.close()

    def refuse_if_interrupted(self, state: State | None) -> None:
        """Refuse to go on while an interrupted apply's journal is pending (``state``: as read)."""
        # recover is the command that deals with the journal (and surveys the node for it).
        if self.command == "recover":
            return
        note = refuse_if_pending(self.journal, state.serial if state else None)
        if note is not None:
            click.echo(f"Note: {note}", err=True)

    def read_state(self) -> State | None:
        return self.state_file.read()

    def salt(self, state: State | None) -> str:
        """The secret salt: the state's, or (before the first apply) one tied to the node."""
        if state is not None:
            return state.secret_salt
        seed = f"pe-plan\0{self.node.name}\0{self.node.index}\0{self.node.router_namespace}"
        return hashlib.sha256(seed.encode()).hexdigest()[:32]

    def frr_running(self) -> bool:
        if self.managed is not None:
            return self.managed.running()
        return True  # external: must be reachable; reading it says so if it is not

    def observe(self, salt: str) -> NodeState:
        """Refresh: the node as it is now."""
        running = self.frr_running()
        instance = FrrInstance(pathspace=self.settings.pathspace)
        return refresh(
            self.kernel,
            self.vtysh if running else None,
            router_netns=self.settings.router_namespace,
            secret_salt=salt,
            managed_frr=instance if self.managed is not None and running else None,
        )

    def _resolve_index(self) -> int:
        settings = self.settings
        if settings.index is not None:
            return settings.index
        interface = settings.interface_name
        if interface is None:
            raise InputError("the node file gives neither nodeIndex.index nor interfaceName")
        addresses = [
            f"{a.address}/{a.prefixlen}" for a in self.kernel.link_addresses("host", interface)
        ]
        return index_from_addresses(addresses, settings.cidr, interface)


class Survey(msgspec.Struct, frozen=True):
    """The node as it is, as pe-plan recorded it, and as the configuration wants it."""

    state: State | None
    salt: str
    observed: NodeState
    desired: NodeState
    recorded: NodeState
    inputs_digest: str


class Prepared(Survey, frozen=True):
    """A survey and the plan made from it, for showing, saving or applying."""

    plan: Plan


def inputs_digest(config: Config, salt: str) -> str:
    """A salted digest of the normalised config (positions left out: moving lines is no change)."""
    encoded = msgspec.json.encode(msgspec.structs.replace(config, sources={}), order="sorted")
    return hashlib.sha256(salt.encode() + b"\0" + encoded).hexdigest()


def survey(session: Session, config: Config, *, destroy: bool = False) -> Survey:
    """refresh → derive → desired, next to what the state records."""
    state = session.read_state()
    session.refuse_if_interrupted(state)
    salt = session.salt(state)
    observed = session.observe(salt)
    wanted = Config() if destroy else config
    nics = config.underlay.nics if config.underlay else ()
    desired = desired_node(
        wanted,
        session.settings,
        session.index,
        node_facts(observed, nics),
        hostname=session.node.name,
        secret_salt=salt,
    )
    recorded = NodeState(
        objects=resources_from_state(state) if state else {},
        depends_on=depends_on_from_state(state) if state else {},
    )
    return Survey(
        state=state,
        salt=salt,
        observed=observed,
        desired=desired,
        recorded=recorded,
        inputs_digest=inputs_digest(config, salt),
    )


def prepare(
    session: Session,
    config: Config,
    *,
    destroy: bool = False,
    targets: tuple[str, ...] = (),
) -> Prepared:
    """The survey, and the plan that takes the node from what it is to what is wanted."""
    found = survey(session, config, destroy=destroy)
    plan = make_plan(
        found.desired,
        found.observed,
        found.recorded,
        frr_delta=_frr_delta(found.observed.frr, found.desired.frr),
        destroy=destroy,
        targets=targets,
    )
    return Prepared(**msgspec.structs.asdict(found), plan=plan)


def _frr_delta(running: FrrConfig | None, desired: FrrConfig | None) -> FrrDelta | None:
    if desired is None:
        return None
    return diff_frr(running.public if running else "", desired.public)

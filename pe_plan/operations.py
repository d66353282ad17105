"""The write vocabulary between the apply stage and the backends.

Apply turns each planned action into operations, and for every operation it first records
the operation that undoes it. Operations are plain data (msgspec structs) so that the
journal can store them and ``pe-plan recover`` can run them in another process. Every
operation is idempotent: undoing a create that never happened is a no-op, so a journal
written just before a crash is always safe to replay.
"""

from __future__ import annotations

import msgspec

from pe_plan.model import Address, Link, Role


class CreateNetns(msgspec.Struct, frozen=True, tag="create_netns"):
    name: str


class DeleteNetns(msgspec.Struct, frozen=True, tag="delete_netns"):
    name: str


class CreateLink(msgspec.Struct, frozen=True, tag="create_link"):
    """Create ``link`` with all its set attributes (a veth creates its pair).

    ``peer`` is the other leg of a veth as it was, to give back to it: a new pair's other
    leg is blank (the undo of deleting a leg, which the kernel deleted with it).
    """

    link: Link
    peer: Link | None = None


class DeleteLink(msgspec.Struct, frozen=True, tag="delete_link"):
    namespace: Role
    name: str


class SetLink(msgspec.Struct, frozen=True, tag="set_link"):
    """Bring an existing link to ``link``'s set attributes, writing only what differs.

    With ``exact``, ``link`` is a complete observed record (the undo of an update) and an
    unset master means "no master".
    """

    link: Link
    exact: bool = False


class MoveLink(msgspec.Struct, frozen=True, tag="move_link"):
    """Move a link to another namespace, keeping its addresses and admin state."""

    name: str
    source: Role
    target: Role


class AddAddress(msgspec.Struct, frozen=True, tag="add_address"):
    address: Address


class DeleteAddress(msgspec.Struct, frozen=True, tag="delete_address"):
    address: Address


class SetSysctl(msgspec.Struct, frozen=True, tag="set_sysctl"):
    namespace: Role
    key: str
    value: str


class StartFrr(msgspec.Struct, frozen=True, tag="start_frr"):
    """Start the ``daemons`` of FRR instance ``pathspace`` inside namespace ``netns``."""

    pathspace: str
    netns: str
    daemons: tuple[str, ...]


class StopFrr(msgspec.Struct, frozen=True, tag="stop_frr"):
    pathspace: str
    daemons: tuple[str, ...]


class RestoreFrr(msgspec.Struct, frozen=True, tag="restore_frr"):
    """Bring FRR's running config back to a snapshot kept in ``snapshot_file``.

    The snapshot holds the real running config, passwords included, so it lives in its
    own 0600 file next to the journal instead of in the journal itself.
    """

    snapshot_file: str


Operation = (
    CreateNetns
    | DeleteNetns
    | CreateLink
    | DeleteLink
    | SetLink
    | MoveLink
    | AddAddress
    | DeleteAddress
    | SetSysctl
    | StartFrr
    | StopFrr
    | RestoreFrr
)


def describe_operation(operation: Operation) -> str:
    """A short human description, used in journals and rollback reports."""
    match operation:
        case CreateNetns(name=name):
            return f"create namespace {name}"
        case DeleteNetns(name=name):
            return f"delete namespace {name}"
        case CreateLink(link=link):
            return f"create {link.kind} {link.name} [{link.namespace}]"
        case DeleteLink(namespace=namespace, name=name):
            return f"delete link {name} [{namespace}]"
        case SetLink(link=link):
            return f"set {link.kind} {link.name} [{link.namespace}]"
        case MoveLink(name=name, source=source, target=target):
            return f"move {name} from {source} to {target}"
        case AddAddress(address=address):
            return f"add {address.cidr} to {address.link} [{address.namespace}]"
        case DeleteAddress(address=address):
            return f"remove {address.cidr} from {address.link} [{address.namespace}]"
        case SetSysctl(namespace=namespace, key=key, value=value):
            return f"set {key}={value} [{namespace}]"
        case StartFrr(pathspace=pathspace):
            return f"start FRR {pathspace}"
        case StopFrr(pathspace=pathspace):
            return f"stop FRR {pathspace}"
        case RestoreFrr():
            return "restore the FRR running config"

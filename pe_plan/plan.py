"""Plan: what must happen to turn the observed node into the desired one, in order.

:func:`make_plan` is a pure function of the desired state, the observed state, what the
state file records as pe-plan's own and the FRR delta. It decides per object (create,
update in place, replace, delete, or nothing), reports objects that changed outside pe-plan
(drift), refuses to touch objects it does not own, and orders the steps with a topological
sort of the objects' dependencies plus the rules the kernel and FRR impose (deletes first,
FRR additions before any VXLAN appears, FRR removals after the VXLANs are gone, the router
namespace last). The result is a :class:`Plan`, a frozen value: apply executes it step by
step and never compares anything again. Objects are compared with struct equality first;
only the few that differ go through deepdiff to find which attributes changed.
"""

from __future__ import annotations

import difflib
import functools
import graphlib
import heapq
from collections.abc import Iterator, Mapping, Sequence
from itertools import takewhile
from typing import Any, Literal, NamedTuple, TypeVar

import msgspec

from pe_plan.errors import PlanError
from pe_plan.frr_diff import FrrContextDelta, FrrDelta
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

FRR_ADDRESS = "frr.config"
"""The address of the FRR configuration in plans and in ``--target``."""

NEW_OBJECT = "not on the node"
"""The reason of a plain create (the text leaves it out: it is most of a first plan)."""

Value = str | int | bool | tuple[str, ...] | None
"""One attribute value as plans carry it (nested structs are flattened to dotted paths)."""

# Fields that name the object are part of its address, so they cannot differ between two
# objects at one address; ``moved_from`` is pe-plan's note of where a NIC came from, not
# something the kernel reports.
_NOT_COMPARED = frozenset({"namespace", "name", "link", "cidr", "key", "pathspace", "moved_from"})
# An underlay NIC is whatever the node has (a physical NIC, a veth in the lab): its kind
# is the node's business, not the config's.
_NOT_COMPARED_DEVICE = _NOT_COMPARED | {"kind"}


def _not_compared(obj: msgspec.Struct) -> frozenset[str]:
    return _NOT_COMPARED_DEVICE if isinstance(obj, Link) and obj.kind == "device" else _NOT_COMPARED


# The link attributes the kernel fixes at creation: changing one means delete and create.
_LINK_FIXED = frozenset({"kind", "vxlan", "vrf_table", "peer", "peer_namespace"})

# Creation order between objects that do not depend on each other (deletes run it
# backwards). Dependencies always win; this only decides among objects that are ready.
# Host links (the host bridges veths join) come before veths so that objects of one kind
# follow each other instead of alternating per VNI: apply sends runs of steps in one batch,
# and a step that needs a link still queued (its master, its peer) sends the queue first.
_PHASES = (
    "namespace",
    "frr instance",
    "sysctl",
    "underlay nic",
    "vtep device",
    "vtep address",
    "vrf",
    "router bridge",
    "frr config",
    "vxlan",
    "host link",
    "veth",
    "address",
)
_RANK = {phase: rank for rank, phase in enumerate(_PHASES)}


class Change(msgspec.Struct, frozen=True, omit_defaults=True):
    """One attribute (dotted path into nested structs) going from ``before`` to ``after``."""

    path: str
    before: Value
    after: Value
    forces_replacement: bool = False


class Action(msgspec.Struct, frozen=True, tag="object", omit_defaults=True):
    """One step on one object.

    ``before`` is the object as it is on the node (updates and deletes), ``after`` what it
    becomes (creates and updates). A replace is two actions at one address, a delete and a
    create, both marked ``replacement`` and carrying the same ``changes``.
    """

    action: Literal["create", "update", "delete"]
    address: str
    reason: str
    before: Object | None = None
    after: Object | None = None
    changes: tuple[Change, ...] = ()
    replacement: bool = False


class FrrAction(msgspec.Struct, frozen=True, tag="frr"):
    """One FRR step: all removals, or all additions, of the FRR delta (public form).

    ``FrrDelta(contexts=step.contexts).commands()`` are the lines that apply it; a context
    that is replaced appears as deleted in the removals and created in the additions.
    """

    action: Literal["remove", "add"]
    contexts: tuple[FrrContextDelta, ...]


Step = Action | FrrAction


class Drift(msgspec.Struct, frozen=True, omit_defaults=True):
    """An object pe-plan owns that changed outside pe-plan (``after`` None: deleted)."""

    address: str
    before: Object
    after: Object | None = None
    changes: tuple[Change, ...] = ()


class Summary(msgspec.Struct, frozen=True):
    """Terraform's counts: a replace adds one and destroys one; FRR counts as one change."""

    add: int
    change: int
    destroy: int


class Plan(msgspec.Struct, frozen=True):
    """A plan: the steps in execution order and what the reviewer needs to judge them.

    ``frr`` is the whole FRR delta (public form: secrets are digest markers). ``watched``
    lists the addresses whose observed state the plan was computed from; a saved plan is
    stale when any of them changed.
    """

    actions: tuple[Step, ...]
    drift: tuple[Drift, ...]
    frr: tuple[FrrContextDelta, ...]
    summary: Summary
    watched: tuple[str, ...]
    destroy: bool = False
    targets: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.actions


class _Decision(NamedTuple):
    """What one object needs, before it is split into ordered steps."""

    kind: Literal["create", "update", "replace", "delete"]
    before: Object | None
    after: Object | None
    changes: tuple[Change, ...]
    reason: str


StepKey = tuple[str, str]
"""``(operation, address)`` of a step in the ordering graph."""


def make_plan(
    desired: NodeState,
    observed: NodeState,
    recorded: NodeState,
    *,
    frr_delta: FrrDelta | None,
    destroy: bool = False,
    targets: Sequence[str] = (),
) -> Plan:
    """The ordered steps that take ``observed`` to ``desired``.

    ``recorded`` holds the objects (and their dependencies) the state file says pe-plan
    created or adopted; only those are ever deleted. ``frr_delta`` is the difference of the
    public FRR configs (``None`` when FRR is not part of this run). With ``destroy`` the
    desired state is ignored, so everything pe-plan owns is deleted (``frr_delta`` is then
    the delta to an empty config: removals only). ``targets`` keeps only the steps of those
    addresses, the steps they need and the steps their replacements cause.

    Raises :class:`PlanError` when an object pe-plan needs exists but is not pe-plan's, when
    an underlay NIC is nowhere to be found, or when a target names nothing pe-plan knows.
    """
    wanted = {} if destroy else desired.objects
    wanted_needs = {} if destroy else desired.depends_on
    have = observed.objects
    owned = recorded.objects
    _refuse_missing_nics(wanted, have)
    _refuse_conflicts(wanted, have, owned)
    _refuse_unknown_targets(targets, wanted, owned)
    drift = drift_of(owned, have)
    gone = "destroy requested" if destroy else "not in the configuration"
    decisions = _decide(wanted, have, owned, {d.address: d for d in drift}, gone)
    caused = _cascade(decisions, wanted, have)
    frr = frr_delta.contexts if frr_delta is not None else ()
    schedule = _Schedule(decisions, wanted, wanted_needs, recorded, frr)
    order = schedule.order()
    if targets:
        keep = schedule.closure(targets, caused)
        order = [key for key in order if key in keep]
    steps = tuple(schedule.steps[key] for key in order)
    has_frr = any(isinstance(step, FrrAction) for step in steps)
    return Plan(
        actions=steps,
        drift=drift,
        frr=frr if has_frr else (),
        summary=_summary(steps),
        watched=_watched(wanted, owned),
        destroy=destroy,
        targets=tuple(targets),
    )


def matches(want: msgspec.Struct, have: msgspec.Struct | None) -> bool:
    """True when ``have`` has every attribute ``want`` manages (``None`` = not managed)."""
    return _matches(want, have, _not_compared(want))


def check_import(address: str, desired: NodeState, observed: NodeState) -> Object:
    """The object to record for ``pe-plan import ADDRESS``.

    It must be one the configuration wants and one that exists, with every managed
    attribute as the configuration says; what is returned is the configuration's view of
    it (unmanaged attributes stay ``None``), as for the objects pe-plan creates.
    """
    want = desired.objects.get(address)
    if want is None:
        raise PlanError(
            f"{address} is not in the configuration; pe-plan adopts only objects it needs",
            hint=_did_you_mean(address, desired.objects)
            or "run `pe-plan plan` to see the addresses of the objects pe-plan needs",
        )
    current = observed.objects.get(address)
    if current is None:
        raise PlanError(
            f"{address} does not exist on the node, so there is nothing to adopt",
            hint="run `pe-plan apply` to create it",
        )
    if not matches(want, current):
        differences = "; ".join(
            f"{change.path} is {format_value(change.before)}, the configuration wants "
            f"{format_value(change.after)}"
            for change in _update_changes(want, _differences(want, current))
        )
        raise PlanError(
            f"{address} differs from the configuration: {differences}",
            hint="change it to match and import it again, or remove it and let pe-plan create it",
        )
    return want


def simulate(observed: Mapping[str, Object], plan: Plan) -> dict[str, Object]:
    """The objects the node has after ``plan`` ran on ``observed`` (FRR steps aside).

    Updates write only the attributes the plan manages, as the kernel would; moving an
    underlay NIC takes its addresses along (the executor re-adds them on the other side).
    """
    objects = dict(observed)
    for step in plan.actions:
        if not isinstance(step, Action):
            continue
        if step.action == "delete":
            objects.pop(step.address)
            gone = step.before
            if isinstance(gone, Link) and gone.moved_from is not None:
                back = msgspec.structs.replace(gone, namespace=gone.moved_from, moved_from=None)
                objects[back.address] = back
                _move_addresses(objects, gone, back.namespace)
        elif step.action == "create":
            assert step.after is not None  # noqa: S101 - creates always carry the object
            if isinstance(step.after, Link) and step.after.moved_from is not None:
                source = objects.pop(link_address(step.after.moved_from, step.after.name))
                assert isinstance(source, Link)  # noqa: S101 - make_plan checked it is there
                _move_addresses(objects, source, step.after.namespace)
            objects[step.address] = step.after
        else:
            assert step.after is not None  # noqa: S101 - updates always carry the object
            objects[step.address] = _overlay(objects[step.address], step.after)
    return objects


def format_value(value: Value) -> str:
    """An attribute value as plans print it: JSON (strings quoted, ``true``, ``null``)."""
    return msgspec.json.encode(value).decode()


# -- refusals ---------------------------------------------------------------------------


def _refuse_missing_nics(wanted: Mapping[str, Object], have: Mapping[str, Object]) -> None:
    missing = [
        f"underlay NIC {want.name} not found in the {want.moved_from} namespace nor in the "
        f"{want.namespace} namespace"
        for address, want in sorted(wanted.items())
        if isinstance(want, Link)
        and want.moved_from is not None
        and address not in have
        and link_address(want.moved_from, want.name) not in have
    ]
    if missing:
        raise PlanError(
            "\n".join(missing),
            hint="check the nics of the Underlay and that the interface exists on this node "
            "(`ip link show`)",
        )


def _refuse_conflicts(
    wanted: Mapping[str, Object], have: Mapping[str, Object], owned: Mapping[str, Object]
) -> None:
    # A sysctl always exists; setting it takes nothing from anyone.
    clashes = sorted(
        address
        for address, want in wanted.items()
        if address in have and address not in owned and not isinstance(want, Sysctl)
    )
    if not clashes:
        return
    listing = "\n".join(f"  {address} ({_describe(have[address])})" for address in clashes)
    if len(clashes) == 1:
        message = "an object pe-plan needs already exists and pe-plan does not manage it:"
        hint = (
            f"remove it, or adopt it with `pe-plan import {clashes[0]}` (it must match the "
            "configuration); pe-plan never changes or deletes objects it does not own"
        )
    else:
        message = f"{len(clashes)} objects pe-plan needs already exist and pe-plan does not "
        message += "manage them:"
        hint = (
            "remove them, or adopt each one with `pe-plan import ADDRESS` (it must match "
            "the configuration); pe-plan never changes or deletes objects it does not own"
        )
    raise PlanError(f"{message}\n{listing}", hint=hint)


def _refuse_unknown_targets(
    targets: Sequence[str], wanted: Mapping[str, Object], owned: Mapping[str, Object]
) -> None:
    known = {*wanted, *owned, FRR_ADDRESS}
    for target in targets:
        if target not in known:
            raise PlanError(
                f"target {target} is not an object pe-plan manages or needs",
                hint=_did_you_mean(target, known)
                or "run `pe-plan plan` without targets to see every address",
            )


def _did_you_mean(address: str, known: Mapping[str, object] | set[str]) -> str | None:
    close = difflib.get_close_matches(address, sorted(known), n=1)
    return f"did you mean {close[0]}?" if close else None


def _describe(obj: Object) -> str:
    match obj:
        case Link(kind=kind):
            return kind
        case Netns():
            return "namespace"
        case FrrInstance():
            return "FRR instance"
        case Address():
            return "address"
        case Sysctl():
            return "sysctl"


# -- decisions --------------------------------------------------------------------------


def drift_of(owned: Mapping[str, Object], have: Mapping[str, Object]) -> tuple[Drift, ...]:
    """Objects pe-plan owns that were changed or deleted outside it (by address)."""
    drift = []
    for address, old in sorted(owned.items()):
        current = have.get(address)
        if current is None:
            drift.append(Drift(address=address, before=old))
        elif not matches(old, current):
            changes = tuple(
                Change(path=path, before=recorded, after=seen)
                for path, recorded, seen in _differences(old, current)
            )
            drift.append(Drift(address=address, before=old, after=current, changes=changes))
    return tuple(drift)


def _decide(
    wanted: Mapping[str, Object],
    have: Mapping[str, Object],
    owned: Mapping[str, Object],
    drifted: Mapping[str, Drift],
    gone: str,
) -> dict[str, _Decision]:
    """One decision per object that needs a step; ``gone`` is why unwanted ones go."""
    decisions: dict[str, _Decision] = {}
    for address, want in wanted.items():
        current = have.get(address)
        if current is None:
            if address in owned:
                reason = "missing: deleted outside pe-plan"
            elif isinstance(want, Link) and want.moved_from is not None:
                reason = f"move from the {want.moved_from} namespace"
            else:
                reason = NEW_OBJECT
            decisions[address] = _Decision("create", None, want, _created(want), reason)
            continue
        if matches(want, current):
            continue
        drift = drifted.get(address)
        if drift is not None and drift.after is not None and owned[address] == want:
            # The configuration did not change: undo the drift, without diffing again.
            differences = [(c.path, c.before, c.after) for c in drift.changes]
        else:
            differences = _differences(want, current)
        changes = _update_changes(want, differences)
        fixed = [change.path.replace(".", " ") for change in changes if change.forces_replacement]
        if fixed:
            reason = f"{', '.join(fixed)} cannot change in place"
            decisions[address] = _Decision("replace", current, want, changes, reason)
            continue
        if address not in owned:
            reason = "the kernel value differs"  # only sysctls get here: no conflict for them
        elif address in drifted:
            reason = "changed outside pe-plan"
        else:
            reason = "the configuration changed"
        decisions[address] = _Decision("update", current, want, changes, reason)
    for address, old in owned.items():
        current = have.get(address)
        if address in wanted or current is None:
            continue  # kept, or already gone (the drift reports it)
        if isinstance(old, Link) and old.moved_from is not None:
            # The executor needs to know where the NIC goes back; the kernel cannot say.
            current = msgspec.structs.replace(current, moved_from=old.moved_from)
            reason = f"{gone}: moves back to the {old.moved_from} namespace"
        else:
            reason = gone
        decisions[address] = _Decision("delete", current, None, _removed(old, current), reason)
    return decisions


def _cascade(
    decisions: dict[str, _Decision], wanted: Mapping[str, Object], have: Mapping[str, Object]
) -> dict[str, set[str]]:
    """Extend replacements to what the kernel takes down with the replaced object.

    Deleting a link removes its addresses, a veth's peer and the VXLANs using it as lower
    device, and detaches the links enslaved to it; without this the node would not match
    after apply. Removed objects are replaced too; detached ones get their master set
    again. Returns, per replaced address, the addresses this added steps for.
    """
    caused: dict[str, set[str]] = {}
    queue = sorted(address for address, d in decisions.items() if d.kind == "replace")
    if not queue:
        return caused  # the common case, and indexing the ties is a third of a no-op plan
    tied: dict[str, list[tuple[str, str]]] = {}
    for address in wanted:
        current = have.get(address)
        if current is not None:
            for target, tie in _ties(current):
                tied.setdefault(target, []).append((address, tie))
    while queue:
        target = queue.pop()
        for dependent, tie in tied.get(target, ()):
            decision = decisions.get(dependent)
            if decision is not None and decision.kind != "update":
                continue  # created, replaced or deleted anyway
            want, current = wanted[dependent], have[dependent]
            changes = decision.changes if decision is not None else ()
            if tie != "master":
                reason = f"{target} is replaced and the kernel removes this with it"
                decisions[dependent] = _Decision("replace", current, want, changes, reason)
                queue.append(dependent)
            elif isinstance(want, Link) and want.master is not None:
                reattach = Change(path="master", before=None, after=want.master)
                merged = {change.path: change for change in (reattach, *changes)}
                reason = (
                    decision.reason if decision is not None else f"re-attach to {target}"
                ) + f" ({target} is replaced and the kernel detaches this)"
                decisions[dependent] = _Decision(
                    "update", current, want, tuple(sorted(merged.values(), key=_path)), reason
                )
            else:
                continue
            caused.setdefault(target, set()).add(dependent)
    return caused


def _ties(obj: Object) -> Iterator[tuple[str, str]]:
    """The links ``obj`` hangs on in the kernel: ``(address, how)``."""
    if isinstance(obj, Address):
        yield link_address(obj.namespace, obj.link), "link"
    elif isinstance(obj, Link):
        if obj.master is not None:
            yield link_address(obj.namespace, obj.master), "master"
        if obj.vxlan is not None and obj.vxlan.dev is not None:
            yield link_address(obj.namespace, obj.vxlan.dev), "lower"
        if obj.kind == "veth" and obj.peer is not None:
            yield link_address(obj.peer_namespace or obj.namespace, obj.peer), "peer"


def _needs(obj: Object, declared: Mapping[str, tuple[str, ...]]) -> set[str]:
    """What must exist before ``obj``: its declared dependencies and its kernel ties.

    A veth's peer is not one: the two legs are made together, neither comes first.
    """
    needs = set(declared.get(obj.address, ()))
    needs.update(target for target, tie in _ties(obj) if tie != "peer")
    return needs


# -- attributes -------------------------------------------------------------------------


def _matches(want: msgspec.Struct, have: msgspec.Struct | None, skip: frozenset[str]) -> bool:
    if want == have:
        return True
    if have is None or type(want) is not type(have):
        return False
    names = want.__struct_fields__
    for name, wanted, seen in zip(
        names, msgspec.structs.astuple(want), msgspec.structs.astuple(have), strict=True
    ):
        if wanted is None or wanted == seen or name in skip:
            continue
        nested = isinstance(wanted, msgspec.Struct) and isinstance(seen, msgspec.Struct)
        if nested and _matches(wanted, seen, frozenset()):
            continue
        return False
    return True


def _project(
    reference: msgspec.Struct, other: msgspec.Struct | None, skip: frozenset[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The attributes ``reference`` manages, from ``reference`` and from ``other``."""
    mine: dict[str, Any] = {}
    theirs: dict[str, Any] = {}
    for name in reference.__struct_fields__:
        value = getattr(reference, name)
        if value is None or name in skip:
            continue
        seen = getattr(other, name, None)
        if isinstance(value, msgspec.Struct):
            nested = seen if isinstance(seen, msgspec.Struct) else None
            mine[name], nested_theirs = _project(value, nested, frozenset())
            theirs[name] = nested_theirs if nested is not None else None
        else:
            mine[name], theirs[name] = value, seen
    return mine, theirs


def _differences(reference: Object, other: Object) -> list[tuple[str, Value, Value]]:
    """``(path, reference value, other value)`` for each managed leaf attribute that differs.

    Called only for objects already known to differ, so deepdiff's cost stays with them.
    """
    # deepdiff takes 120 ms to import; commands that never compare objects skip it.
    from deepdiff import DeepDiff  # noqa: PLC0415

    mine, theirs = _project(reference, other, _not_compared(reference))
    paths: set[tuple[str, ...]] = set()
    for report in DeepDiff(theirs, mine, view="tree").values():
        for level in report:
            # A list (FRR daemons) is one attribute: cut the path at the first index.
            keys = level.path(output_format="list")
            paths.add(tuple(takewhile(lambda key: isinstance(key, str), keys)))
    found: dict[str, tuple[Value, Value]] = {}
    for keys in paths:
        for path, ours, seen in _leaves(keys, _lookup(mine, keys), _lookup(theirs, keys)):
            found[path] = (ours, seen)
    return [(path, ours, seen) for path, (ours, seen) in sorted(found.items())]


def _lookup(tree: dict[str, Any] | None, keys: tuple[str, ...]) -> Any:
    value: Any = tree
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _leaves(keys: tuple[str, ...], ours: Any, theirs: Any) -> Iterator[tuple[str, Any, Any]]:
    """Leaf paths under ``keys``, where one side may be a nested dict and the other None."""
    if isinstance(ours, dict) or isinstance(theirs, dict):
        ours_map = ours if isinstance(ours, dict) else {}
        theirs_map = theirs if isinstance(theirs, dict) else {}
        for key in sorted({*ours_map, *theirs_map}):
            yield from _leaves((*keys, key), ours_map.get(key), theirs_map.get(key))
    else:
        yield ".".join(keys), ours, theirs


def _created(want: Object) -> tuple[Change, ...]:
    return tuple(
        Change(path=path, before=None, after=value)
        for path, value in _managed(want, _not_compared(want), "")
    )


def _managed(obj: msgspec.Struct, skip: frozenset[str], prefix: str) -> list[tuple[str, Value]]:
    """The managed leaf attributes of ``obj`` by dotted path, in the order of ``_leaves``.

    What ``_leaves`` gives for ``_project(obj, None, skip)``, without building the trees:
    a first plan has one set of these per object, a third of its time at 1000 VNIs.
    """
    found: list[tuple[str, Value]] = []
    for name in _sorted_fields(type(obj)):
        value = getattr(obj, name)
        if value is None or name in skip:
            continue
        if isinstance(value, msgspec.Struct):
            found += _managed(value, frozenset(), f"{prefix}{name}.")
        else:
            found.append((prefix + name, value))
    return found


@functools.cache
def _sorted_fields(struct: type[msgspec.Struct]) -> tuple[str, ...]:
    return tuple(sorted(struct.__struct_fields__))


def _removed(old: Object, current: Object) -> tuple[Change, ...]:
    _, theirs = _project(old, current, _not_compared(old))
    return tuple(
        Change(path=path, before=seen, after=None) for path, seen, _ in _leaves((), theirs, None)
    )


def _update_changes(
    want: Object, differences: Sequence[tuple[str, Value, Value]]
) -> tuple[Change, ...]:
    """Changes from what is there to ``want``, marking those the kernel cannot make."""
    fixed = _LINK_FIXED if isinstance(want, Link) else frozenset()
    return tuple(
        Change(
            path=path,
            before=seen,
            after=ours,
            forces_replacement=path.split(".", 1)[0] in fixed,
        )
        for path, ours, seen in differences
    )


def _path(change: Change) -> str:
    return change.path


S = TypeVar("S", bound=msgspec.Struct)


def _overlay(base: S, want: S) -> S:
    """``base`` with every attribute ``want`` manages set to ``want``'s value."""
    updates: dict[str, Any] = {}
    for name in want.__struct_fields__:
        value = getattr(want, name)
        if value is None:
            continue
        current = getattr(base, name)
        if isinstance(value, msgspec.Struct) and isinstance(current, msgspec.Struct):
            value = _overlay(current, value)
        updates[name] = value
    return msgspec.structs.replace(base, **updates)


def _move_addresses(objects: dict[str, Object], link: Link, target: Role) -> None:
    """Move the addresses of ``link`` (as it was) into the ``target`` namespace."""
    for address, obj in list(objects.items()):
        if isinstance(obj, Address) and (obj.namespace, obj.link) == (link.namespace, link.name):
            moved = msgspec.structs.replace(obj, namespace=target)
            del objects[address]
            objects[moved.address] = moved


# -- ordering ---------------------------------------------------------------------------


def _split_frr(
    delta: FrrContextDelta,
) -> tuple[FrrContextDelta | None, FrrContextDelta | None]:
    """The removal part and the addition part of one context's change."""
    replace = msgspec.structs.replace
    match delta.action:
        case "delete":
            return delta, None
        case "create":
            return None, delta
        case "replace":
            return replace(delta, add=(), action="delete"), replace(delta, action="create")
        case _:
            removal = replace(delta, add=()) if delta.remove else None
            return removal, replace(delta, remove=()) if delta.add else None


def _phase(obj: Object, objects: Mapping[str, Object]) -> str:
    match obj:
        case Netns():
            return "namespace"
        case FrrInstance():
            return "frr instance"
        case Sysctl():
            return "sysctl"
        case Address(namespace=namespace, link=link):
            on = objects.get(link_address(namespace, link))
            return "vtep address" if isinstance(on, Link) and on.kind == "dummy" else "address"
        case Link(kind="device"):
            return "underlay nic"
        case Link(kind="dummy"):
            return "vtep device"
        case Link(kind="vrf"):
            return "vrf"
        case Link(kind="bridge", namespace="router"):
            return "router bridge"
        case Link(kind="vxlan"):
            return "vxlan"
        case Link(kind="veth"):
            return "veth"
        case Link():
            return "host link"


def _in_router(obj: Object) -> bool:
    """Objects that live inside the router namespace (FRR runs there too)."""
    return isinstance(obj, FrrInstance) or getattr(obj, "namespace", None) == "router"


def _is_vxlan(obj: Object | None) -> bool:
    return isinstance(obj, Link) and obj.kind == "vxlan"


_BARRIER: StepKey = ("barrier", "")


class _Schedule:
    """The steps of a plan and the edges between them.

    ``needs`` are true dependencies (a step cannot work without the other one first, and
    ``--target`` follows them); ``after`` only sequences (all deletes before all creates,
    FRR removals after the VXLANs are gone).
    """

    def __init__(
        self,
        decisions: Mapping[str, _Decision],
        wanted: Mapping[str, Object],
        wanted_needs: Mapping[str, tuple[str, ...]],
        recorded: NodeState,
        frr: tuple[FrrContextDelta, ...],
    ) -> None:
        self.steps: dict[StepKey, Step] = {}
        self.needs: dict[StepKey, set[StepKey]] = {}
        self.after: dict[StepKey, set[StepKey]] = {}
        self.priority: dict[StepKey, tuple[int, int, str, str]] = {}
        self.arrivals: dict[str, StepKey] = {}
        self.departures: dict[str, StepKey] = {}
        for address, decision in sorted(decisions.items()):
            self._add_object_steps(address, decision, wanted, recorded.objects)
        frr_remove, frr_add = self._add_frr_steps(frr)
        self._link_arrivals(wanted, wanted_needs, frr_add)
        self._link_departures(decisions, recorded.depends_on, frr_remove)
        leaving = [*self.departures.values(), *([frr_remove] if frr_remove else [])]
        coming = [*self.arrivals.values(), *([frr_add] if frr_add else [])]
        if leaving and coming:
            self._add(_BARRIER, None, (1, 0))
            self.after[_BARRIER].update(leaving)
            for key in coming:
                self.after[key].add(_BARRIER)

    def _add_object_steps(
        self,
        address: str,
        decision: _Decision,
        wanted: Mapping[str, Object],
        owned: Mapping[str, Object],
    ) -> None:
        """A delete step and/or a create or update step (a replace has both)."""
        replacing = decision.kind == "replace"
        if decision.before is not None and decision.kind in {"delete", "replace"}:
            step = Action(
                action="delete",
                address=address,
                reason=decision.reason,
                before=decision.before,
                changes=decision.changes,
                replacement=replacing,
            )
            rank = -_RANK[_phase(decision.before, owned)]
            self.departures[address] = self._add(("delete", address), step, (0, rank))
        if decision.after is not None:
            operation: Literal["create", "update"] = (
                "update" if decision.kind == "update" else "create"
            )
            step = Action(
                action=operation,
                address=address,
                reason=decision.reason,
                before=decision.before,
                after=decision.after,
                changes=decision.changes,
                replacement=replacing,
            )
            rank = _RANK[_phase(decision.after, wanted)]
            self.arrivals[address] = self._add((operation, address), step, (2, rank))

    def _add_frr_steps(
        self, frr: tuple[FrrContextDelta, ...]
    ) -> tuple[StepKey | None, StepKey | None]:
        """Removals and additions become two steps, each placed where FRR can take it."""
        parts = [_split_frr(delta) for delta in frr]
        removals = tuple(removal for removal, _ in parts if removal is not None)
        additions = tuple(addition for _, addition in parts if addition is not None)
        rank = _RANK["frr config"]
        frr_remove = frr_add = None
        if removals:
            removing = FrrAction(action="remove", contexts=removals)
            frr_remove = self._add(("frr-remove", FRR_ADDRESS), removing, (0, -rank))
        if additions:
            adding = FrrAction(action="add", contexts=additions)
            frr_add = self._add(("frr-add", FRR_ADDRESS), adding, (2, rank))
        return frr_remove, frr_add

    def _link_arrivals(
        self,
        wanted: Mapping[str, Object],
        declared: Mapping[str, tuple[str, ...]],
        frr_add: StepKey | None,
    ) -> None:
        """Creates and updates after what they need, the namespace and a replace's delete.

        The FRR additions come before any VXLAN is created or changed: a VXLAN that appears
        while bgpd has no EVPN instance crashes bgpd (OpenPERouter issue 604).
        """
        namespaces = [k for a, k in self.arrivals.items() if isinstance(wanted[a], Netns)]
        for address, key in self.arrivals.items():
            obj = wanted[address]
            self.needs[key].update(
                self.arrivals[need]
                for need in _needs(obj, declared)
                if need in self.arrivals and need != address
            )
            if _in_router(obj):
                self.needs[key].update(namespaces)
            if address in self.departures:
                self.needs[key].add(self.departures[address])
            if frr_add is not None and _is_vxlan(obj):
                self.needs[key].add(frr_add)
            if frr_add is not None and isinstance(obj, FrrInstance):
                self.needs[frr_add].add(key)
        if frr_add is not None:
            self.needs[frr_add].update(namespaces)

    def _link_departures(
        self,
        decisions: Mapping[str, _Decision],
        declared: Mapping[str, tuple[str, ...]],
        frr_remove: StepKey | None,
    ) -> None:
        """Deletes before the deletes of what they need; the router namespace goes last.

        FRR removals wait until the VXLANs are gone and happen before FRR is stopped and
        its namespace deleted.
        """
        before = {address: decisions[address].before for address in self.departures}
        namespaces = [k for a, k in self.departures.items() if isinstance(before[a], Netns)]
        for address, key in self.departures.items():
            obj = before[address]
            assert obj is not None  # noqa: S101 - only objects on the node are deleted
            for need in _needs(obj, declared):
                if need in self.departures and need != address:
                    self.needs[self.departures[need]].add(key)
            if _in_router(obj):
                for namespace in namespaces:
                    self.needs[namespace].add(key)
            if frr_remove is not None and _is_vxlan(obj):
                self.after[frr_remove].add(key)
            if frr_remove is not None and (isinstance(obj, FrrInstance) or key in namespaces):
                self.after[key].add(frr_remove)

    def _add(self, key: StepKey, step: Step | None, rank: tuple[int, int]) -> StepKey:
        if step is not None:
            self.steps[key] = step
        self.needs[key] = set()
        self.after[key] = set()
        self.priority[key] = (*rank, key[1], key[0])
        return key

    def order(self) -> list[StepKey]:
        """Every step after the ones it needs; among ready steps, by phase then address."""
        sorter: graphlib.TopologicalSorter[StepKey] = graphlib.TopologicalSorter()
        for key in self.priority:
            sorter.add(key, *self.needs[key], *self.after[key])
        try:
            sorter.prepare()
        except graphlib.CycleError as exc:
            cycle = " -> ".join(f"{op} {address}" for op, address in exc.args[1])
            raise PlanError(
                f"cannot order the plan: the dependencies form a cycle ({cycle})",
                hint="if the state file was edited by hand, restore it from its .backup; "
                "otherwise this is a bug in pe-plan",
            ) from exc
        ready = [(self.priority[key], key) for key in sorter.get_ready()]
        heapq.heapify(ready)
        order: list[StepKey] = []
        while ready:
            _, key = heapq.heappop(ready)
            sorter.done(key)
            if key in self.steps:
                order.append(key)
            for follower in sorter.get_ready():
                heapq.heappush(ready, (self.priority[follower], follower))
        return order

    def closure(self, targets: Sequence[str], caused: Mapping[str, set[str]]) -> set[StepKey]:
        """The steps of ``targets``, the steps they need, and what their replacements cause."""
        by_address: dict[str, list[StepKey]] = {}
        for key in self.steps:
            by_address.setdefault(key[1], []).append(key)
        queue = [key for target in targets for key in by_address.get(target, ())]
        keep: set[StepKey] = set()
        while queue:
            key = queue.pop()
            if key in keep:
                continue
            keep.add(key)
            queue.extend(self.needs[key])
            for address in caused.get(key[1], ()):
                queue.extend(by_address.get(address, ()))
        return keep


def _summary(steps: Sequence[Step]) -> Summary:
    actions = [step.action for step in steps if isinstance(step, Action)]
    frr = any(isinstance(step, FrrAction) for step in steps)
    return Summary(
        add=actions.count("create"),
        change=actions.count("update") + int(frr),
        destroy=actions.count("delete"),
    )


def _watched(wanted: Mapping[str, Object], owned: Mapping[str, Object]) -> tuple[str, ...]:
    nics = {
        link_address(want.moved_from, want.name)
        for want in wanted.values()
        if isinstance(want, Link) and want.moved_from is not None
    }
    return tuple(sorted({*wanted, *owned, *nics}))

"""Saved plans: ``plan --out FILE`` writes one, ``apply FILE`` runs it only while it is fresh.

A saved plan binds the :class:`~pe_plan.plan.Plan` to everything it was computed from: the
state (lineage and serial, or ``None`` for both when there was no state file yet), the
inputs (a digest of the configuration), the node, the pe-plan version and what was observed
on the node. The observation is kept as one short digest per address the plan looked at
(absent ones included) plus a digest over all of them. That closes the hole Terraform leaves
for plans made without a state (hashicorp/terraform#24078): such a plan is still bound to
the node as it was, so applying it a second time is refused because its objects now exist.
Objects the plan never looked at (a pod's veth on the host) do not make it stale.

The file is JSON written by msgspec, deterministic, atomically and with mode 0600. It holds
the FRR delta in public form only: secrets are digest markers, never the real text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec

from pe_plan import __version__
from pe_plan.errors import InputError, PlanError
from pe_plan.model import NodeState, Object
from pe_plan.plan import FRR_ADDRESS, Plan
from pe_plan.state import NodeInfo, Writer, write_atomic

FORMAT_VERSION = 1
ABSENT = "absent"
"""The fingerprint of an address with nothing at it."""
_OBJECT_DIGEST_LENGTH = 16
_NAMED_CHANGES = 10


class SavedPlan(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A plan file's content.

    ``observed`` maps each address the plan looked at (and ``frr.config``) to a digest of
    what was there, or :data:`ABSENT`; ``observed_digest`` is the digest of that map.
    """

    format_version: int
    pe_plan_version: str
    node: NodeInfo
    lineage: str | None
    serial: int | None
    inputs_digest: str
    observed_digest: str
    observed: dict[str, str]
    plan: Plan
    configs: tuple[str, ...] = ()
    node_file: str | None = None


class _Header(msgspec.Struct):
    """Read first, so that a plan file of another format is named as such."""

    format_version: int
    pe_plan_version: str = "unknown"


def bind_plan(
    plan: Plan,
    *,
    observed: NodeState,
    lineage: str | None,
    serial: int | None,
    inputs_digest: str,
    node: NodeInfo,
    configs: tuple[str, ...] = (),
    node_file: str | None = None,
) -> SavedPlan:
    """``plan`` with what it was made from (``lineage``/``serial`` None: no state file).

    ``configs`` and ``node_file`` are the paths the plan was made with: ``apply FILE``
    reads them again (the FRR secrets are not in the plan) and checks their digest.
    """
    prints = fingerprint(observed, plan.watched)
    return SavedPlan(
        format_version=FORMAT_VERSION,
        pe_plan_version=__version__,
        node=node,
        lineage=lineage,
        serial=serial,
        inputs_digest=inputs_digest,
        observed_digest=digest(prints),
        observed=prints,
        plan=plan,
        configs=configs,
        node_file=node_file,
    )


def fingerprint(observed: NodeState, addresses: Iterable[str]) -> dict[str, str]:
    """A short digest of the canonical encoding of each object (and of the FRR config).

    The FRR config enters in its public form: the digest of a text holding a password
    would let anyone holding the plan file test guesses against it.
    """
    prints = {}
    for address in addresses:
        obj = observed.objects.get(address)
        prints[address] = _short_digest(_canonical(obj)) if obj is not None else ABSENT
    frr = observed.frr
    prints[FRR_ADDRESS] = _short_digest(frr.public.encode()) if frr is not None else ABSENT
    return prints


def digest(prints: dict[str, str]) -> str:
    """The sha256 of a fingerprint map in canonical form (sorted keys)."""
    return hashlib.sha256(msgspec.json.encode(prints, order="sorted")).hexdigest()


def encode_plan(saved: SavedPlan) -> bytes:
    """The file content: sorted keys, 2-space indent, trailing newline."""
    return msgspec.json.format(msgspec.json.encode(saved, order="sorted"), indent=2) + b"\n"


def write_plan(path: Path, saved: SavedPlan, writer: Writer = write_atomic) -> None:
    """Write the plan file atomically with mode 0600 (it describes the node in detail)."""
    try:
        writer(path, encode_plan(saved))
    except OSError as exc:
        raise InputError(
            f"cannot write plan file {path}: {exc.strerror or exc}",
            hint="check the path and the permissions of its directory",
        ) from exc


def read_plan(path: Path) -> SavedPlan:
    """A plan file, refused with :class:`InputError` unless it is one this pe-plan wrote."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"cannot read plan file {path}: {exc.strerror or exc}",
            hint="give the file written by `pe-plan plan --out`",
        ) from exc
    try:
        header = msgspec.json.decode(data, type=_Header)
        if header.format_version != FORMAT_VERSION:
            raise InputError(
                f"plan file {path} has format_version {header.format_version} (written by "
                f"pe-plan {header.pe_plan_version}); pe-plan {__version__} reads "
                f"format_version {FORMAT_VERSION} only",
                hint="make the plan again with this pe-plan",
            )
        return msgspec.json.decode(data, type=SavedPlan)
    # RecursionError: msgspec's answer to JSON nested thousands of levels deep.
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise InputError(
            f"plan file {path} is not a pe-plan plan file ({exc})",
            hint="give the file written by `pe-plan plan --out`, or make the plan again",
        ) from exc


def check_fresh(
    saved: SavedPlan,
    *,
    lineage: str | None,
    serial: int | None,
    observed: NodeState,
    inputs_digest: str,
    node: NodeInfo,
) -> None:
    """Refuse a saved plan when anything it was made from has changed, saying what."""
    stale: list[str] = []
    if saved.pe_plan_version != __version__:
        stale.append(
            f"the plan was made by pe-plan {saved.pe_plan_version}, this is pe-plan {__version__}"
        )
    if saved.node != node:
        stale.append(
            f"the plan was made for node {saved.node.name} (index {saved.node.index}, router "
            f"namespace {saved.node.router_namespace}), this is node {node.name} (index "
            f"{node.index}, router namespace {node.router_namespace})"
        )
    stale += _state_changes(saved, lineage, serial)
    if saved.inputs_digest != inputs_digest:
        stale.append("the configuration changed since the plan was made")
    prints = fingerprint(observed, (a for a in saved.observed if a != FRR_ADDRESS))
    if digest(prints) != saved.observed_digest:
        stale.append(_node_changes(saved.observed, prints))
    if stale:
        raise PlanError(
            "the saved plan is stale:\n" + "\n".join(f"  {reason}" for reason in stale),
            hint="make a new plan (`pe-plan plan --out FILE`), review it and apply that one",
        )


def _state_changes(saved: SavedPlan, lineage: str | None, serial: int | None) -> list[str]:
    if saved.lineage == lineage:
        if saved.serial == serial:
            return []
        return [f"the state changed since the plan was made: serial {saved.serial} → {serial}"]
    if saved.lineage is None:
        return [f"a state was written since the plan was made (lineage {lineage})"]
    if lineage is None:
        return [f"the state the plan was made from (lineage {saved.lineage}) is gone"]
    other = f"the plan was made from another state (lineage {saved.lineage}), "
    return [f"{other}the state has lineage {lineage}"]


def _node_changes(before: dict[str, str], now: dict[str, str]) -> str:
    named = []
    for address in sorted(before):
        if before[address] == now.get(address):
            continue
        if before[address] == ABSENT:
            named.append(f"{address} appeared")
        elif now.get(address, ABSENT) == ABSENT:
            named.append(f"{address} disappeared")
        else:
            named.append(f"{address} changed")
    if not named:
        return "the node changed since the plan was made"
    more = len(named) - _NAMED_CHANGES
    listing = ", ".join(named[:_NAMED_CHANGES]) + (f", and {more} more" if more > 0 else "")
    return f"the node changed since the plan was made: {listing}"


def _canonical(obj: Object) -> bytes:
    """Every field, defaults included: msgspec leaves out a default only when it is the
    very default object, so its own encoding of two equal objects can differ."""
    return msgspec.json.encode(_fields(obj), order="sorted")


def _fields(value: Any) -> Any:
    if isinstance(value, msgspec.Struct):
        return {name: _fields(getattr(value, name)) for name in value.__struct_fields__}
    return value


def _short_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:_OBJECT_DIGEST_LENGTH]

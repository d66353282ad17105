"""State: what pe-plan owns on a node, as a JSON file that teams review in pull requests.

The state records the objects pe-plan created (or adopted), the applied FRR config in its
public form (secrets replaced by salted digests, never the real text) and, per L2VNI, the
outputs a workload needs: the host bridge, the gateway and a ready Multus
NetworkAttachmentDefinition. It is written deterministically (sorted keys and resources,
2-space indent, trailing newline), so two writes of the same content are byte-identical and
a diff shows only real changes; ``serial`` goes up only when the content changes and
``lineage`` ties every version to one deployment. Writes are atomic (temp file, fsync,
rename, fsync of the directory), mode 0600, keep the state from before the command as
``.backup``, and when the final write fails the new state is saved to an ``.errored`` file
whose place the error names. A state that cannot be read (truncated, not JSON, newer format,
another node) is refused with a :class:`~pe_plan.errors.StateError` and never overwritten.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import os
import tempfile
import typing
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypeAlias

import msgspec
import msgspec.inspect
import yaml

from pe_plan import __version__
from pe_plan.config import Config, L2Vni
from pe_plan.errors import StateError, StateWriteError
from pe_plan.model import ROLES, NodeState, Object, Role
from pe_plan.secrets import for_display

FORMAT_VERSION = 1
DEFAULT_STATE_PATH = Path("pe-plan.state.json")
STATE_MODE = 0o600
NAD_API_VERSION = "k8s.cni.cncf.io/v1"
CNI_VERSION = "0.3.0"


class NodeInfo(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The node a state belongs to; ``name`` and ``index`` identify it."""

    name: str
    index: int
    router_namespace: str


class Resource(msgspec.Struct, frozen=True, omit_defaults=True, forbid_unknown_fields=True):
    """One model object as recorded: its tag, namespace role and every other field.

    ``attributes`` holds the object's encoded fields except the tag (``type``) and the
    ``namespace`` (kept beside it so that a reviewer sees it first); fields at their default
    (``None`` = not managed) are left out, as the model encodes them. ``adopted`` marks an
    object pe-plan did not create but took over by an explicit import.
    """

    address: str
    type: str
    namespace: Role | None
    attributes: dict[str, Any]
    depends_on: tuple[str, ...]
    adopted: bool = False


class NadMetadata(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str


class NadSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    config: str


class NetworkAttachmentDefinition(
    msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True
):
    """A Multus NetworkAttachmentDefinition; ``spec.config`` is the CNI config as JSON text."""

    api_version: str
    kind: str
    metadata: NadMetadata
    spec: NadSpec


class L2VniOutput(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a workload attaches to: without a host bridge there is nothing to attach, so
    ``network_attachment_definition`` is then ``None``."""

    host_bridge: str | None
    gateway_ips: tuple[str, ...]
    network_attachment_definition: NetworkAttachmentDefinition | None


class State(msgspec.Struct, frozen=True, forbid_unknown_fields=True, dict=True):
    """The state file of SPEC section 7.

    ``frr`` is the public FRR config as a list of lines (a one-line change shows as one line
    in a pull request); ``secret_salt`` is the salt of every secret digest in it and stays
    with the lineage, so that an unchanged password keeps its digest. (``dict=True`` only
    makes room for :attr:`recorded_objects`; it is not part of the file.)
    """

    format_version: int
    pe_plan_version: str
    lineage: str
    serial: int
    node: NodeInfo
    inputs_digest: str
    secret_salt: str
    resources: tuple[Resource, ...]
    frr: tuple[str, ...] | None
    outputs: dict[str, L2VniOutput]

    @functools.cached_property
    def recorded_objects(self) -> dict[str, Object]:
        """The resources as model objects, checked (see :func:`resources_from_state`).

        Worked out once per state read: a command needs them to accept the file and again
        to plan, 25 ms each at 1000 VNIs.
        """
        return _objects_of(self)


class _Header(msgspec.Struct):
    """The fields read before the rest, so that a newer format is named as such."""

    format_version: int
    pe_plan_version: str = "unknown"


def new_state(node: NodeInfo) -> State:
    """An empty state with a fresh lineage and salt, at serial 0 (nothing written yet)."""
    return State(
        format_version=FORMAT_VERSION,
        pe_plan_version=__version__,
        lineage=str(uuid.uuid4()),
        serial=0,
        node=node,
        inputs_digest="",
        secret_salt=os.urandom(16).hex(),
        resources=(),
        frr=None,
        outputs={},
    )


def record(
    prior: State,
    applied: NodeState,
    *,
    node: NodeInfo,
    inputs_digest: str,
    outputs: Mapping[str, L2VniOutput],
    adopted: Collection[str] = (),
) -> State:
    """``prior`` (same lineage, serial and salt) now holding what ``applied`` describes.

    Only the public FRR text is kept: ``applied.frr.text`` may contain passwords.
    """
    return msgspec.structs.replace(
        prior,
        node=node,
        inputs_digest=inputs_digest,
        resources=resources_to_state(applied.objects, applied.depends_on, adopted),
        frr=tuple(applied.frr.public.splitlines()) if applied.frr is not None else None,
        outputs=dict(outputs),
    )


def resources_to_state(
    objects: Mapping[str, Object],
    depends_on: Mapping[str, tuple[str, ...]],
    adopted: Collection[str] = (),
) -> tuple[Resource, ...]:
    """State resources for model objects, sorted by address (``depends_on`` sorted too)."""
    resources = []
    for address, obj in sorted(objects.items()):
        attributes: dict[str, Any] = msgspec.to_builtins(obj)
        resources.append(
            Resource(
                address=address,
                type=attributes.pop("type"),
                namespace=attributes.pop("namespace", None),
                attributes=attributes,
                depends_on=tuple(sorted(depends_on.get(address, ()))),
                adopted=address in adopted,
            )
        )
    return tuple(resources)


def resources_from_state(state: State) -> dict[str, Object]:
    """The model objects a state records, exactly as they were recorded.

    A resource of an unknown type, with attributes this pe-plan does not know (a newer
    pe-plan wrote it) or whose fields do not give back its address (edited by hand) is
    refused rather than dropped, so that a later write cannot lose it.
    """
    return dict(state.recorded_objects)


def _objects_of(state: State) -> dict[str, Object]:
    kinds = _object_kinds()
    objects: dict[str, Object] = {}
    for resource in state.resources:
        kind = kinds.get(resource.type)
        if kind is None:
            known = ", ".join(sorted(kinds))
            raise StateError(
                f"resource {resource.address} has unknown type {resource.type!r} "
                f"(pe-plan {__version__} knows {known})",
                hint=_newer_hint(state.pe_plan_version),
            )
        if resource.address in objects:
            raise StateError(f"resource {resource.address} is recorded twice", hint=_HAND_EDIT_HINT)
        objects[resource.address] = _object_from_resource(resource, kind, state)
    return objects


def depends_on_from_state(state: State) -> dict[str, tuple[str, ...]]:
    """The recorded dependencies, keyed by address (as :attr:`NodeState.depends_on`)."""
    return {r.address: r.depends_on for r in state.resources if r.depends_on}


def adopted_addresses(state: State) -> frozenset[str]:
    """Addresses of the objects pe-plan adopted by import rather than created."""
    return frozenset(r.address for r in state.resources if r.adopted)


Keys: TypeAlias = "dict[str, Keys | None]"
"""The attribute names a struct type knows; a nested struct's entry holds its own names."""


class _Kind(NamedTuple):
    """What reading resources of one object type needs, worked out once per process."""

    cls: type[Object]
    keys: Keys
    has_namespace: bool


@functools.cache
def _object_kinds() -> dict[str, _Kind]:
    """Per type tag of :data:`Object`: its attribute names and whether it has a namespace.

    Worked out once: inspecting the types for each resource took 50 µs a resource, a
    quarter of a second for a state of 1000 VNIs, which every command reads. Resources are
    converted to their own class rather than to the union, whose type information msgspec
    works out anew on every call (13 µs against 2).
    """
    union = msgspec.inspect.type_info(Object)
    assert isinstance(union, msgspec.inspect.UnionType)  # noqa: S101 - Object is a union
    return {
        str(info.tag): _Kind(
            cls=typing.cast("type[Object]", info.cls),
            keys=_struct_keys(info),
            has_namespace=any(f.name == "namespace" for f in info.fields),
        )
        for info in union.types
        if isinstance(info, msgspec.inspect.StructType)
    }


def _keys(info: msgspec.inspect.Type) -> Keys | None:
    """The names a struct (or an optional struct) type knows; None for other types."""
    if isinstance(info, msgspec.inspect.UnionType):
        # Optional nested structs (``Vxlan | None``) are the only unions holding structs.
        structs = [t for t in info.types if isinstance(t, msgspec.inspect.StructType)]
        return _keys(structs[0]) if structs else None
    if not isinstance(info, msgspec.inspect.StructType):
        return None
    return _struct_keys(info)


def _struct_keys(info: msgspec.inspect.StructType) -> Keys:
    return {f.encode_name: _keys(f.type) for f in info.fields}


def _object_from_resource(resource: Resource, kind: _Kind, state: State) -> Object:
    has_namespace = kind.has_namespace
    unknown = _unknown_fields(resource.attributes, kind.keys, "")
    # The namespace lives beside the attributes, so it is foreign inside them.
    unknown += ["namespace"] if "namespace" in resource.attributes else []
    if unknown:
        raise StateError(
            f"resource {resource.address} has attributes pe-plan {__version__} does not know: "
            + ", ".join(sorted(unknown)),
            hint=_newer_hint(state.pe_plan_version),
        )
    if has_namespace != (resource.namespace is not None):
        expected = "a namespace" if has_namespace else "no namespace"
        raise StateError(
            f"resource {resource.address} of type {resource.type} must have {expected}",
            hint=_HAND_EDIT_HINT,
        )
    fields = {**resource.attributes, "type": resource.type}
    if has_namespace:
        fields["namespace"] = resource.namespace
    try:
        obj = msgspec.convert(fields, kind.cls)
    except msgspec.ValidationError as exc:
        raise StateError(
            f"resource {resource.address} has invalid attributes: {exc}", hint=_HAND_EDIT_HINT
        ) from exc
    if obj.address != resource.address:
        raise StateError(
            f"resource {resource.address} describes {obj.address} (address and attributes "
            "disagree)",
            hint=_HAND_EDIT_HINT,
        )
    return obj


def _unknown_fields(value: object, keys: Keys, path: str) -> list[str]:
    """Dotted paths of the keys in ``value`` that are not among ``keys``."""
    if not isinstance(value, dict):
        return []
    unknown: list[str] = []
    for key, item in value.items():
        if key not in keys:
            unknown.append(f"{path}{key}")
        elif (nested := keys[key]) is not None:
            unknown += _unknown_fields(item, nested, f"{path}{key}.")
    return unknown


_HAND_EDIT_HINT = (
    "the state file was edited by hand or damaged; restore it from its .backup or from "
    "version control"
)


def _newer_hint(writer_version: str) -> str:
    if writer_version != __version__:
        return f"it was written by pe-plan {writer_version}; use that version or a newer one"
    return _HAND_EDIT_HINT


def build_outputs(config: Config) -> dict[str, L2VniOutput]:
    """Per L2VNI (by name): host bridge, gateway IPs and a NetworkAttachmentDefinition."""
    outputs: dict[str, L2VniOutput] = {}
    for l2 in config.l2vnis:
        bridge = l2.host_master.name if l2.host_master is not None else None
        outputs[l2.name] = L2VniOutput(
            host_bridge=bridge,
            gateway_ips=l2.gateway_ips,
            network_attachment_definition=(
                network_attachment_definition(l2, bridge) if bridge is not None else None
            ),
        )
    return outputs


def network_attachment_definition(l2: L2Vni, bridge: str) -> NetworkAttachmentDefinition:
    """A macvlan on ``bridge`` with static IPAM and, per gateway family, a default route.

    The shape is the seed workload's (``seed/workload.yaml``); pods give their own ``ips``.
    """
    routes = []
    families_done: set[int] = set()
    for gateway in l2.gateway_ips:
        ip = ipaddress.ip_interface(gateway).ip
        if ip.version in families_done:
            continue  # one default route per family: the first gateway of it
        families_done.add(ip.version)
        routes.append({"dst": "0.0.0.0/0" if ip.version == 4 else "::/0", "gw": str(ip)})  # noqa: PLR2004
    ipam: dict[str, Any] = {"type": "static"}
    if routes:
        ipam["routes"] = routes
    cni = {
        "cniVersion": CNI_VERSION,
        "type": "macvlan",
        "master": bridge,
        "mode": "bridge",
        "ipam": ipam,
    }
    return NetworkAttachmentDefinition(
        api_version=NAD_API_VERSION,
        kind="NetworkAttachmentDefinition",
        metadata=NadMetadata(name=l2.name),
        spec=NadSpec(config=msgspec.json.encode(cni).decode()),
    )


def encode_state(state: State) -> bytes:
    """The file content: sorted keys and resources, 2-space indent, trailing newline."""
    ordered = msgspec.structs.replace(
        state, resources=tuple(sorted(state.resources, key=lambda r: r.address))
    )
    return msgspec.json.format(msgspec.json.encode(ordered, order="sorted"), indent=2) + b"\n"


def decode_state(data: bytes, source: str) -> State:
    """Parse a state file's content; ``source`` names it in errors.

    The format version is checked before the rest, so that a state from a newer pe-plan is
    reported as such instead of as a list of unknown fields.
    """
    keep = f"pe-plan will not overwrite {source}"
    try:
        header = msgspec.json.decode(data, type=_Header)
    except msgspec.ValidationError as exc:
        raise StateError(
            f"state {source} is not a pe-plan state file ({exc})",
            hint=f"check the state path; {keep}",
        ) from exc
    except (msgspec.DecodeError, RecursionError) as exc:  # after ValidationError: a subclass
        # RecursionError: msgspec's answer to values nested thousands of levels deep.
        raise StateError(
            f"state {source} is not valid JSON ({exc}); it is truncated or damaged",
            hint=f"restore it from {source}.backup or from version control; {keep}",
        ) from exc
    if header.format_version != FORMAT_VERSION:
        newer = header.format_version > FORMAT_VERSION
        raise StateError(
            f"state {source} has format_version {header.format_version}"
            + (f", written by pe-plan {header.pe_plan_version}" if newer else "")
            + f"; pe-plan {__version__} reads format_version {FORMAT_VERSION} only",
            hint=(
                f"use pe-plan {header.pe_plan_version} or newer; {keep}"
                if newer
                else f"the file was edited by hand or damaged; {keep}"
            ),
        )
    try:
        state = msgspec.json.decode(data, type=State)
    except msgspec.ValidationError as exc:
        raise StateError(
            f"state {source} does not match format_version {FORMAT_VERSION}: {exc}",
            hint=f"{_newer_hint(header.pe_plan_version)}; {keep}",
        ) from exc
    try:
        resources_from_state(state)
    except StateError as exc:
        raise StateError(f"state {source}: {exc.message}", hint=f"{exc.hint}; {keep}") from exc
    return state


Writer = Callable[[Path, bytes], None]
"""Writes a whole file atomically or raises :class:`OSError`; :func:`write_atomic`."""


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` (mode 0600) so that a crash leaves old or new, never half.

    The temp file is in the same directory (rename is atomic only within a file system);
    the directory is fsynced after the rename so that the rename itself survives a crash.
    """
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as tmp_file:
            os.fchmod(tmp_file.fileno(), STATE_MODE)
            tmp_file.write(data)
            tmp_file.flush()
            os.fsync(tmp_file.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class StateFile:
    """The state file of one node: read it, and write a new version of it.

    ``node`` is the node the caller works on; a state of another node (name or index) is
    refused. ``writer`` does the atomic writes (tests pass a failing one) and
    ``errored_dirs`` are where a state that cannot be written goes, in order (default: the
    state's directory, ``$TMPDIR``, the current directory). The backup is the state as it
    was before the first change made through this object, that is before the command.
    """

    def __init__(
        self,
        path: Path,
        *,
        node: NodeInfo | None = None,
        writer: Writer = write_atomic,
        errored_dirs: Sequence[Path] | None = None,
    ) -> None:
        self.path = path
        self.node = node
        self.backup_path = path.with_name(f"{path.name}.backup")
        self._writer = writer
        self._errored_dirs = (
            tuple(errored_dirs)
            if errored_dirs is not None
            else (path.parent, Path(tempfile.gettempdir()), Path.cwd())
        )
        self._backed_up = False

    def read(self) -> State | None:
        """The current state, or ``None`` when there is no state file yet."""
        return self._load()[1]

    def write(self, state: State) -> State:
        """Write ``state`` (derived from the current one) and return it as written.

        ``state.serial`` must be the serial of the state it was derived from; the written
        serial is one more, unless the content is unchanged, in which case nothing is
        written and the current state is returned. A different lineage or a serial that
        moved on since the read is refused: writing would fork the state.
        """
        current_bytes, current = self._load()
        state = msgspec.structs.replace(
            state, format_version=FORMAT_VERSION, pe_plan_version=__version__
        )
        if current is not None:
            self._check_successor(current, state)
            if encode_state(msgspec.structs.replace(state, serial=current.serial)) == (
                encode_state(current)
            ):
                return current
        written = msgspec.structs.replace(state, serial=state.serial + 1)
        data = encode_state(written)
        try:
            if current_bytes is not None and not self._backed_up:
                self._writer(self.backup_path, current_bytes)
                self._backed_up = True
            self._writer(self.path, data)
        except OSError as exc:
            raise self._save_errored(data, exc) from exc
        return written

    def _load(self) -> tuple[bytes | None, State | None]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None, None
        except OSError as exc:
            raise StateError(
                f"cannot read state {self.path}: {exc.strerror}",
                hint="check the state path and its permissions",
            ) from exc
        state = decode_state(data, str(self.path))
        expected = self.node
        if expected is not None and (state.node.name, state.node.index) != (
            expected.name,
            expected.index,
        ):
            raise StateError(
                f"state {self.path} belongs to node {state.node.name} (index "
                f"{state.node.index}), not to node {expected.name} (index {expected.index})",
                hint="give the state file of this node, or check the node index and name; "
                f"pe-plan will not overwrite {self.path}",
            )
        return data, state

    def _check_successor(self, current: State, state: State) -> None:
        if state.lineage != current.lineage:
            raise StateError(
                f"state {self.path} has lineage {current.lineage}, but the state to write has "
                f"lineage {state.lineage}; they are different deployments",
                hint=f"check the state path; pe-plan will not overwrite {self.path}",
            )
        if state.serial != current.serial:
            raise StateError(
                f"state {self.path} changed while this command ran (serial {current.serial} "
                f"now, {state.serial} when read)",
                hint="another pe-plan wrote it; run the command again to plan from it",
            )

    def _save_errored(self, data: bytes, cause: OSError) -> StateWriteError:
        """Save ``data`` where possible and say where, so that no applied change is lost."""
        reason = f"could not write state {self.path} ({cause})"
        tried = []
        for directory in self._errored_dirs:
            errored = directory / f"{self.path.name}.errored"
            with contextlib.suppress(OSError):
                self._writer(errored, data)
                return StateWriteError(
                    f"{reason}; the new state was saved to {errored}",
                    hint=f"do not run apply or destroy again before restoring it: fix the "
                    f"cause, then `cp {errored} {self.path}`",
                    reason=reason,
                    saved_to=errored,
                )
            tried.append(str(errored))
        return StateWriteError(
            f"{reason} nor save it to {', '.join(tried)}; the new state follows:\n{data.decode()}",
            hint=f"save the state above as {self.path} before running pe-plan again",
            reason=reason,
            saved_to=None,
        )


def render_state_json(state: State) -> str:
    """``show --json``: the state file's own deterministic form."""
    return encode_state(state).decode()


def render_state_text(state: State) -> str:
    """``show``: the state for a human: header, resources by namespace, FRR, outputs.

    Secrets cannot appear: the state holds only the public FRR text and no object has one;
    the digests in that text are shown as ``(sensitive)``.
    """
    node = state.node
    lines = [
        f"lineage:  {state.lineage}",
        f"serial:   {state.serial}",
        f"node:     {node.name} (index {node.index}, router namespace {node.router_namespace})",
        f"pe-plan:  {state.pe_plan_version} (format_version {state.format_version})",
        f"inputs:   {state.inputs_digest or '-'}",
        "",
        f"Resources ({len(state.resources)}):",
    ]
    groups: list[tuple[str, list[Resource]]] = [
        (f"{role} namespace", [r for r in state.resources if r.namespace == role])
        for role in reversed(ROLES)  # router first: that is where most objects live
    ]
    groups.append(("other", [r for r in state.resources if r.namespace is None]))
    for title, resources in groups:
        if not resources:
            continue
        lines.append(f"  {title}:")
        for resource in sorted(resources, key=lambda r: r.address):
            lines += _render_resource(resource)
    if not state.resources:
        lines.append("  (none)")
    lines += ["", "FRR configuration (public form):"]
    if state.frr is None:
        lines.append("  (none)")
    else:
        # Even a secret's digest is not for display (pe_plan.secrets): a person sees
        # "(sensitive)"; the file keeps the digest so that a changed secret shows in a diff.
        lines += [f"  {for_display(line)}" for line in state.frr]
    lines += ["", "Outputs:"]
    for name, output in sorted(state.outputs.items()):
        lines += _render_output(name, output)
    if not state.outputs:
        lines.append("  (none)")
    return "\n".join(lines) + "\n"


def _render_resource(resource: Resource) -> list[str]:
    marks = ", adopted" if resource.adopted else ""
    lines = [f"    {resource.address} ({resource.type}{marks})"]
    flat = _flatten(resource.attributes, "")
    if resource.depends_on:
        flat.append(("depends_on", ", ".join(resource.depends_on)))
    width = max((len(key) for key, _ in flat), default=0)
    lines += [f"        {key.ljust(width)} = {value}" for key, value in flat]
    return lines


def _flatten(attributes: Mapping[str, Any], prefix: str) -> list[tuple[str, str]]:
    """Nested attributes as sorted ``(dotted.key, JSON value)`` pairs."""
    flat: list[tuple[str, str]] = []
    for key, value in sorted(attributes.items()):
        if isinstance(value, dict):
            flat += _flatten(value, f"{prefix}{key}.")
        else:
            flat.append((f"{prefix}{key}", msgspec.json.encode(value).decode()))
    return flat


def _render_output(name: str, output: L2VniOutput) -> list[str]:
    lines = [
        f"  {name}:",
        f"    host bridge: {output.host_bridge or '(none)'}",
        f"    gateway:     {', '.join(output.gateway_ips) or '(none)'}",
    ]
    nad = output.network_attachment_definition
    if nad is not None:
        # YAML, as kubectl takes it; no line wrapping so that spec.config stays one line.
        text = yaml.safe_dump(msgspec.to_builtins(nad), sort_keys=False, width=2**31 - 1)
        lines.append("    NetworkAttachmentDefinition:")
        lines += [f"      {line}" for line in text.splitlines()]
    return lines

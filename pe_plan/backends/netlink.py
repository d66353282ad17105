"""The netlink backend: reads and writes the links, addresses and sysctls of the node.

This is the only module of pe-plan that imports pyroute2, and it uses it for what ``ip netns
add``/``del`` do (the bind mounts under /var/run/netns), importing it only then: the import
alone takes 0.2 s, as long as reading 1000 VNIs, and a refresh does not need it. Requests and
replies go over plain ``NETLINK_ROUTE`` sockets opened inside each namespace (entered with
``setns``), without multicast groups, packed and decoded by :mod:`pe_plan.backends.rtnl`:
decoding pyroute2's full messages costs about 0.7 ms per link and building its requests about
0.4 ms each (PERF-FACTS), ten times what a refresh or a create of 1000 VNIs can afford.

Writes are queued and sent pipelined: immediately after each call, or at the end of a
:meth:`NetlinkBackend.batch`. Kernel errors become :class:`BackendError` naming the object,
the operation and the namespace. The two namespaces are addressed by role (``host`` is where
pe-plan runs unless a name is given, as tests do; ``router`` is a named namespace).
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import signal
import socket
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, NoReturn, Self, TypeVar

import msgspec

from pe_plan.backends import rtnl
from pe_plan.backends.dump import AddrGenMode, AddrRecord, LinkRecord, NamespaceDump
from pe_plan.errors import BackendError
from pe_plan.model import Address, BridgePort, Link, Role
from pe_plan.observe import model_kind

NETNS_DIR = Path("/var/run/netns")
# Requests sent in one write before their acknowledgements are read: an acknowledgement
# costs about 1 KiB of the socket's 208 KiB receive buffer, and an overflow loses replies.
CHUNK = 128
DUMP_ATTEMPTS = 5
_SYSCTL_KEY = re.compile(r"net(\.[\w-]+)+")
CLONE_NEWNET = 0x40000000
_LIBC = ctypes.CDLL(None, use_errno=True)  # already loaded: Python links against it
_T = TypeVar("_T")


class _Result(NamedTuple):
    """The kernel's answer to one request: errno (0 = done), its message, data replies."""

    error: int
    message: str | None
    replies: list[tuple[bytes, rtnl.Reply]]


class _Channel:
    """A netlink route socket inside one namespace; numbers requests and matches replies."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._seq = 0

    def close(self) -> None:
        self._sock.close()

    def exchange(self, requests: Sequence[rtnl.Request]) -> list[_Result]:
        """Send ``requests`` in one write and wait for every acknowledgement."""
        first = self._seq + 1
        self._seq += len(requests)
        self._sock.sendall(b"".join(rtnl.frame(r, first + i) for i, r in enumerate(requests)))
        results: list[_Result | None] = [None] * len(requests)
        data_replies: list[list[tuple[bytes, rtnl.Reply]]] = [[] for _ in requests]
        waiting = len(requests)
        while waiting:
            data = self._sock.recv(65536)
            for reply in rtnl.replies(data):
                slot = reply.seq - first
                if not 0 <= slot < len(requests) or results[slot] is not None:
                    continue  # a late answer to an earlier, abandoned exchange
                if reply.type == rtnl.NLMSG_ERROR:
                    error, message = rtnl.decode_error(data, reply)
                    results[slot] = _Result(error, message, data_replies[slot])
                    waiting -= 1
                else:
                    data_replies[slot].append((data, reply))
        return [r for r in results if r is not None]

    def dump(
        self, request: rtnl.Request, kind: int, decode: Callable[[bytes, rtnl.Reply], _T]
    ) -> list[_T]:
        """Every message of type ``kind`` that a dump request returns, decoded.

        A dump that the kernel marks as interrupted (the table changed under it) is repeated
        a few times; after that the last one is kept, as iproute2 does, because a table that
        keeps changing (IPv6 duplicate address detection on many fresh links) changes under
        every dump, and the objects in flux are the only ones it can misreport.
        """
        records: list[_T] = []
        for _ in range(DUMP_ATTEMPTS):
            self._seq += 1
            seq = self._seq
            self._sock.sendall(rtnl.frame(request, seq))
            records = []
            interrupted = False
            done = False
            while not done:
                data = self._sock.recv(65536)
                for reply in rtnl.replies(data):
                    if reply.seq != seq:
                        continue
                    interrupted |= bool(reply.flags & rtnl.NLM_F_DUMP_INTR)
                    if reply.type == kind:
                        records.append(decode(data, reply))
                    elif reply.type == rtnl.NLMSG_DONE:
                        done = True
                    elif reply.type == rtnl.NLMSG_ERROR:
                        error, message = rtnl.decode_error(data, reply)
                        raise OSError(error, _reason(error, message))
            if not interrupted:
                break
        return records


class _ChildReply(msgspec.Struct, frozen=True, omit_defaults=True):
    dump: NamespaceDump | None = None
    error: str | None = None
    hint: str | None = None


class _Child:
    """A child process started by :meth:`NetlinkBackend.dump_in_child`."""

    def __init__(self, pid: int, fd: int, label: str) -> None:
        self.pid: int | None = pid
        self.fd = fd
        self.label = label

    def result(self) -> NamespaceDump | None:
        with os.fdopen(self.fd, "rb", closefd=False) as stream:
            data = stream.read()
        pid, self.pid = self.pid, None
        status = os.waitpid(pid, 0)[1] if pid is not None else -1
        if status != 0 or not data:
            raise BackendError(
                f"reading {self.label} failed in a child process "
                f"(exit status {os.waitstatus_to_exitcode(status) if status >= 0 else '?'})"
            )
        reply = msgspec.msgpack.decode(data, type=_ChildReply)
        if reply.error is not None:
            raise BackendError(reply.error, hint=reply.hint)
        return reply.dump

    def reap(self) -> None:
        os.close(self.fd)
        if self.pid is not None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = None


class _Namespace:
    """One network namespace: its handle, a netlink channel opened inside it, its sysctls."""

    def __init__(self, name: str | None) -> None:
        self.name = name
        self.label = "the host namespace" if name is None else f"namespace {name}"
        self._fd: int | None = None
        self._channel: _Channel | None = None

    def exists(self) -> bool:
        return self.name is None or (NETNS_DIR / self.name).exists()

    def fd(self) -> int:
        """A file descriptor of the namespace, for ``setns`` and ``IFLA_NET_NS_FD``."""
        if self._fd is None:
            path = "/proc/self/ns/net" if self.name is None else str(NETNS_DIR / self.name)
            try:
                self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                raise BackendError(
                    f"{self.label} does not exist",
                    hint="run `pe-plan plan` again: the plan expected it to exist",
                ) from None
            except OSError as error:
                raise _os_failure(f"open {self.label}", error) from None
        return self._fd

    @contextmanager
    def entered(self) -> Iterator[None]:
        """Run the block with this thread in the namespace (sockets and /proc/sys/net)."""
        if self.name is None:
            yield
            return
        target = self.fd()
        home = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            try:
                _setns(target)
            except OSError as error:
                raise _os_failure(f"enter {self.label}", error) from None
            try:
                yield
            finally:
                _setns(home)
        finally:
            os.close(home)

    def forget_channel(self) -> None:
        """Open a new socket on next use (a forked child must not read the parent's)."""
        self._channel = None

    def channel(self) -> _Channel:
        if self._channel is None:
            with self.entered():
                sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
            # Error replies carry the kernel's explanation and not a copy of our request.
            sock.setsockopt(rtnl.SOL_NETLINK, rtnl.NETLINK_EXT_ACK, 1)
            sock.setsockopt(rtnl.SOL_NETLINK, rtnl.NETLINK_CAP_ACK, 1)
            self._channel = _Channel(sock)
        return self._channel

    def read_sysctls(self, keys: Iterable[str]) -> dict[str, str]:
        """The values of the keys whose files exist (a disabled IPv6 has none)."""
        values = {}
        with self.entered():
            for key in keys:
                try:
                    values[key] = _sysctl_path(key).read_text().strip()
                except FileNotFoundError:
                    continue
                except OSError as error:
                    raise _os_failure(f"read {key} in {self.label}", error) from None
        return values

    def write_sysctl(self, key: str, value: str) -> bool:
        """Write ``value`` unless the key already holds it; True when it was written."""
        with self.entered():
            path = _sysctl_path(key)
            try:
                if path.read_text().strip() == value:
                    return False
                path.write_text(value + "\n")
            except OSError as error:
                raise _os_failure(f"set {key}={value} in {self.label}", error) from None
        return True

    def close(self) -> None:
        """Drop the handle and the socket: either keeps a deleted namespace alive."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class _Pending(NamedTuple):
    """A queued request and what to say if the kernel refuses it."""

    role: Role
    request: rtnl.Request
    action: str  # "create vxlan vni110", completed with " in <namespace>"
    names: tuple[tuple[Role, str], ...]  # links the request creates or changes
    ignore: frozenset[int] = frozenset()  # errnos that mean "already done"
    kind: str | None = None  # the link kind being created, for the hint
    where: bool = True  # False when the action already names its namespaces


class NetlinkBackend:
    """Kernel reads and writes for the ``host`` and ``router`` namespaces.

    Every write method is idempotent where the kernel allows it (deleting what is gone,
    adding an address that exists, writing an attribute that already has the value are
    no-ops) except :meth:`add_link`, which refuses to take over an existing link unless told
    to. Use it as a context manager, or call :meth:`close`: open handles keep deleted
    namespaces alive.
    """

    def __init__(self, *, router_netns: str, host_netns: str | None = None) -> None:
        self._spaces: dict[Role, _Namespace] = {
            "host": _Namespace(host_netns),
            "router": _Namespace(router_netns),
        }
        self._pending: list[_Pending] = []
        self._pending_names: set[tuple[Role, str]] = set()
        self._batching = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        for space in self._spaces.values():
            space.close()

    # --- reads --------------------------------------------------------------------------

    def namespace_exists(self, role: Role) -> bool:
        return self._spaces[role].exists()

    def dump(self, role: Role, sysctls: Iterable[str] = ()) -> NamespaceDump | None:
        """Links, addresses and the given sysctls of a namespace; ``None`` if it is absent."""
        self._flush()
        space = self._spaces[role]
        if not space.exists():
            return None
        channel = space.channel()
        try:
            links = channel.dump(rtnl.dump_links(), rtnl.RTM_NEWLINK, rtnl.decode_link)
            nsids = {}
            for other_role, other in self._spaces.items():
                if other is not space and other.exists():
                    nsid = self._nsid(channel, other)
                    if nsid is not None:
                        nsids[nsid] = other_role
        except OSError as error:
            raise _os_failure(f"read the links of {space.label}", error) from None
        return NamespaceDump(
            links=tuple(links),
            addresses=tuple(self._addresses(space)),
            sysctls=space.read_sysctls(sysctls),
            nsids=nsids,
        )

    @contextmanager
    def dump_in_child(
        self, role: Role, sysctls: Iterable[str] = ()
    ) -> Iterator[Callable[[], NamespaceDump | None]]:
        """Start :meth:`dump` of ``role`` in a forked child; the block gets its result's getter.

        Decoding a dump is Python work, 40 µs a link, that one process can only do one
        namespace after the other: a child reading the router's namespace while this process
        reads the host's puts the second core to use (a tenth of a second off a no-op plan at
        1000 VNIs). The child has its own netlink socket and sends back the records as
        msgpack; its :class:`BackendError` is raised by the getter. Leaving the block stops a
        child whose result was not fetched.
        """
        self._flush()  # the child must not send queued writes a second time
        keys = tuple(sysctls)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            self._dump_to(write_end, role, keys)
        os.close(write_end)
        child = _Child(pid, read_end, self._spaces[role].label)
        try:
            yield child.result
        finally:
            child.reap()

    def _dump_to(self, fd: int, role: Role, sysctls: tuple[str, ...]) -> NoReturn:
        """In the child: dump, write the reply to ``fd`` and exit without returning."""
        status = 1
        try:
            # The parent's handlers (apply's rollback on Ctrl-C) are not the child's business.
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            self._spaces[role].forget_channel()
            try:
                reply = _ChildReply(dump=self.dump(role, sysctls))
            except BackendError as error:
                reply = _ChildReply(error=error.message, hint=error.hint)
            with os.fdopen(fd, "wb") as out:
                out.write(msgspec.msgpack.encode(reply))
            status = 0
        finally:
            os._exit(status)

    def get_link(self, role: Role, name: str) -> LinkRecord | None:
        """One link, read now (queued writes to it are sent first); ``None`` if absent."""
        if (role, name) in self._pending_names:
            self._flush()
        return self._get_link(self._spaces[role], name)

    def link_addresses(self, role: Role, name: str) -> list[AddrRecord]:
        """The addresses of one link (IPv6 link-locals included); empty if it is absent."""
        link = self.get_link(role, name)
        if link is None:
            return []
        return [a for a in self._addresses(self._spaces[role]) if a.index == link.index]

    def read_sysctl(self, role: Role, key: str) -> str | None:
        self._flush()
        return self._spaces[role].read_sysctls([key]).get(key)

    # --- writes -------------------------------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[Self]:
        """Queue the writes made in the block and send them pipelined at its end.

        Reads inside the block (and writes that need an ifindex, such as enslaving to a
        bridge created in the same block) first send what is queued for the links they
        touch, so batches pay off for objects that do not depend on each other: one batch per
        dependency level. The kernel runs every request of a write even after one fails, and
        pe-plan addresses links by name, so follow-up requests of a failed create act on
        whatever link holds that name; the plan refuses name clashes beforehand. Requests
        not yet written when a request fails are dropped; if the block raises, nothing
        queued is sent.
        """
        if self._batching:
            yield self
            return
        self._batching = True
        try:
            yield self
        except BaseException:
            self._pending.clear()
            self._pending_names.clear()
            raise
        finally:
            self._batching = False
        self._flush()

    def create_netns(self, name: str) -> bool:
        """Create a named namespace with ``lo`` up; False when it already existed."""
        self._flush()
        created = not (NETNS_DIR / name).exists()
        if created:
            try:
                _pyroute2_netns().create(name)
            except OSError as error:
                raise _os_failure(f"create namespace {name}", error) from None
        space = self._space_named(name)
        lo = self._get_link(space, "lo")
        if lo is not None and not lo.flags & rtnl.IFF_UP:
            request = rtnl.set_link(rtnl.ifinfo(up=True) + rtnl.link_attrs(name="lo"))
            self._run_now(space, request, "bring lo up")
        if space not in self._spaces.values():
            space.close()
        return created

    def delete_netns(self, name: str) -> bool:
        """Remove a named namespace; False when it did not exist."""
        self._flush()
        if not (NETNS_DIR / name).exists():
            return False
        for space in self._spaces.values():
            if space.name == name:
                space.close()
        try:
            _pyroute2_netns().remove(name)
        except OSError as error:
            raise _os_failure(f"delete namespace {name}", error) from None
        return True

    def add_link(self, link: Link, *, exist_ok: bool = False) -> None:
        """Create ``link`` with all its set attributes; a veth is created with its peer.

        A link of that name must not exist (the plan thought it absent), unless ``exist_ok``
        is set: then an existing link of the same kind is brought to ``link``'s attributes,
        which lets a journal replay a create. The IPv6 address generation mode and the
        bridge-port flags cannot be given at creation (the kernel refuses ``IFLA_AF_SPEC``
        in a create request), so they follow in a second request, and ``up`` comes last so
        that no link-local is generated before the mode is set.
        """
        role = link.namespace
        space = self._spaces[role]
        if exist_ok:
            current = self.get_link(role, link.name)
            if current is not None:
                if model_kind(current.kind) != link.kind:
                    raise BackendError(
                        f"cannot create {link.kind} {link.name} in {space.label}: "
                        f"a {model_kind(current.kind)} of that name exists",
                        hint=_HINTS[errno.EEXIST],
                    )
                self.update_link(link)
                return
        names = [(role, link.name)]
        data = b""
        if link.kind == "vxlan":
            if link.vxlan is None:
                raise ValueError(f"vxlan {link.name} has no vxlan attributes")
            dev = self._index(role, link.vxlan.dev) if link.vxlan.dev else None
            data = rtnl.vxlan_data(
                vni=link.vxlan.vni,
                local=link.vxlan.local,
                port=link.vxlan.port,
                learning=link.vxlan.learning,
                link=dev,
            )
        elif link.kind == "vrf":
            if link.vrf_table is None:
                raise ValueError(f"vrf {link.name} has no table")
            data = rtnl.vrf_data(link.vrf_table)
        elif link.kind == "veth":
            if link.peer is None:
                raise ValueError(f"veth {link.name} has no peer")
            peer_role = link.peer_namespace or role
            peer_fd = self._spaces[peer_role].fd() if peer_role != role else None
            data = rtnl.veth_data(rtnl.ifinfo() + rtnl.link_attrs(name=link.peer, netns_fd=peer_fd))
            names.append((peer_role, link.peer))
        elif link.kind == "device":
            raise ValueError(f"device {link.name} is moved into place, not created")
        follow_up = link.addrgenmode is not None or _port_flags(link.bridge_port)
        body = rtnl.ifinfo(up=None if follow_up else link.up) + rtnl.link_attrs(
            name=link.name,
            mtu=link.mtu,
            mac=link.mac,
            group=link.group,
            master=self._index(role, link.master) if link.master else None,
        )
        self._queue(
            _Pending(
                role,
                rtnl.new_link(body + rtnl.link_info(link.kind, data)),
                f"create {link.kind} {link.name}",
                tuple(names),
                kind=link.kind,
            )
        )
        if follow_up:
            self._queue_changes(
                link,
                attributes=b"",
                addrgenmode=link.addrgenmode,
                bridge_port=link.bridge_port,
                up=link.up or None,  # a new link is down already
            )
        self._send_unless_batching()

    def update_link(self, link: Link, *, exact: bool = False) -> bool:
        """Bring an existing link to ``link``'s set attributes, writing only what differs.

        Attributes fixed at creation (kind, VXLAN, VRF table, peer) are not compared: the
        plan replaces the link when they differ. With ``exact``, ``link`` is a complete
        observed record (as used to undo an update) and ``master=None`` means "no master".
        Returns whether anything had to be written.
        """
        role = link.namespace
        space = self._spaces[role]
        current = self.get_link(role, link.name)
        if current is None:
            raise _failure(f"update {link.kind} {link.name} in {space.label}", errno.ENODEV, None)
        master = None
        if link.master is not None:
            index = self._index(role, link.master)
            master = index if index != current.master else None
        elif exact and current.master is not None:
            master = 0
        port = link.bridge_port
        if port is not None:
            now = current.bridge_port
            port = BridgePort(
                neigh_suppress=_differs(port.neigh_suppress, now and now.neigh_suppress),
                learning=_differs(port.learning, now and now.learning),
            )
        attributes = rtnl.link_attrs(
            mtu=_differs(link.mtu, current.mtu),
            mac=_differs(link.mac.lower() if link.mac else None, current.mac),
            group=_differs(link.group, current.group),
            master=master,
        )
        return self._queue_changes(
            link,
            attributes=attributes,
            addrgenmode=_differs(link.addrgenmode, current.addrgenmode),
            bridge_port=port,
            up=_differs(link.up, bool(current.flags & rtnl.IFF_UP)),
        )

    def delete_link(self, role: Role, name: str) -> None:
        """Delete a link (a veth takes its peer along); nothing happens if it is absent."""
        self._queue(
            _Pending(
                role,
                rtnl.delete_link(name),
                f"delete link {name}",
                ((role, name),),
                ignore=frozenset({errno.ENODEV}),
            )
        )
        self._send_unless_batching()

    def move_link(self, name: str, source: Role, target: Role) -> bool:
        """Move a link to the other namespace with its addresses and admin state.

        The kernel drops a link's addresses and brings it down when it changes namespace;
        they are read first and restored afterwards (IPv6 link-locals excepted: the kernel
        makes them again). Returns False when the link already is in ``target``.
        """
        self._flush()
        src, dst = self._spaces[source], self._spaces[target]
        action = f"move {name} from {src.label} to {dst.label}"
        current = self._get_link(src, name)
        if current is None:
            if self._get_link(dst, name) is not None:
                return False
            raise _failure(action, errno.ENODEV, None)
        kept = [a for a in self.link_addresses(source, name) if not a.ipv6_link_local]
        move = rtnl.set_link(rtnl.ifinfo() + rtnl.link_attrs(name=name, netns_fd=dst.fd()))
        self._queue(_Pending(source, move, action, ((source, name),), where=False))
        self._flush()
        index = self._index(target, name)
        for record in kept:
            cidr = f"{record.address}/{record.prefixlen}"
            self._queue_address(Address(namespace=target, link=name, cidr=cidr), index, add=True)
        if current.flags & rtnl.IFF_UP:
            up = rtnl.set_link(rtnl.ifinfo(up=True) + rtnl.link_attrs(name=name))
            self._queue(_Pending(target, up, f"bring {name} up", ((target, name),)))
        self._send_unless_batching()
        return True

    def add_address(self, address: Address) -> None:
        """Add an address to a link; an address that is already there is left as it is."""
        index = self._index(address.namespace, address.link)
        self._queue_address(address, index, add=True)
        self._send_unless_batching()

    def delete_address(self, address: Address) -> None:
        """Remove an address; nothing happens when it, or its link, is gone."""
        link = self.get_link(address.namespace, address.link)
        if link is None:
            return
        self._queue_address(address, link.index, add=False)
        self._send_unless_batching()

    def set_sysctl(self, role: Role, key: str, value: str) -> bool:
        """Write a ``net.*`` sysctl inside a namespace unless it already has ``value``."""
        self._flush()
        return self._spaces[role].write_sysctl(key, value)

    # --- internals ----------------------------------------------------------------------

    def _space_named(self, name: str) -> _Namespace:
        for space in self._spaces.values():
            if space.name == name:
                return space
        return _Namespace(name)

    def _addresses(self, space: _Namespace) -> list[AddrRecord]:
        try:
            found = space.channel().dump(
                rtnl.dump_addresses(), rtnl.RTM_NEWADDR, rtnl.decode_address
            )
        except OSError as error:
            raise _os_failure(f"read the addresses of {space.label}", error) from None
        return [a for a in found if a is not None]

    def _get_link(self, space: _Namespace, name: str) -> LinkRecord | None:
        (result,) = self._exchange(space, [rtnl.get_link(name)])
        if result.error == errno.ENODEV:
            return None
        if result.error:
            raise _failure(f"read link {name} in {space.label}", result.error, result.message)
        data, reply = result.replies[0]
        return rtnl.decode_link(data, reply)

    def _index(self, role: Role, name: str) -> int:
        """The ifindex of a link, for the requests that take no name (master, addresses)."""
        if (role, name) in self._pending_names:
            self._flush()
        space = self._spaces[role]
        link = self._get_link(space, name)
        if link is None:
            raise BackendError(
                f"cannot find link {name} in {space.label}", hint=_HINTS[errno.ENODEV]
            )
        return link.index

    def _nsid(self, channel: _Channel, other: _Namespace) -> int | None:
        (result,) = channel.exchange([rtnl.get_nsid(other.fd())])
        if result.error:
            raise OSError(result.error, _reason(result.error, result.message))
        for data, reply in result.replies:
            if reply.type == rtnl.RTM_NEWNSID:
                return rtnl.decode_nsid(data, reply)
        return None

    def _queue_changes(
        self,
        link: Link,
        *,
        attributes: bytes,
        addrgenmode: AddrGenMode | None,
        bridge_port: BridgePort | None,
        up: bool | None,
    ) -> bool:
        """Queue the requests that change a link's attributes; False when none is needed.

        The kernel applies ``IFF_UP`` before the address generation mode within a request,
        and bridge-port flags only to a link that already is a port. So the mode goes with
        the other attributes, the port flags follow in a request of their own, going down
        rides on the first request and going up on the last one that does not change the
        mode.
        """
        if addrgenmode is not None:
            attributes += rtnl.link_attrs(addrgenmode=addrgenmode)
        steps: list[tuple[bool | None, bytes]] = []
        if attributes:
            steps.append((None, attributes))
        if bridge_port is not None and _port_flags(bridge_port):
            flags = rtnl.bridge_port_info(
                neigh_suppress=bridge_port.neigh_suppress, learning=bridge_port.learning
            )
            steps.append((None, flags))
        if up is False:
            steps[:1] = [(False, steps[0][1] if steps else b"")]
        elif up is True:
            if steps and (addrgenmode is None or len(steps) > 1):
                steps[-1] = (True, steps[-1][1])
            else:
                steps.append((True, b""))
        for flag, body in steps:
            request = rtnl.set_link(rtnl.ifinfo(up=flag) + rtnl.link_attrs(name=link.name) + body)
            self._queue(
                _Pending(
                    link.namespace,
                    request,
                    f"configure {link.kind} {link.name}",
                    ((link.namespace, link.name),),
                )
            )
        self._send_unless_batching()
        return bool(steps)

    def _queue_address(self, address: Address, index: int, *, add: bool) -> None:
        verb = "add" if add else "remove"
        preposition = "to" if add else "from"
        self._queue(
            _Pending(
                address.namespace,
                rtnl.address(add=add, index=index, cidr=address.cidr),
                f"{verb} address {address.cidr} {preposition} {address.link}",
                (),
                ignore=frozenset() if add else frozenset({errno.EADDRNOTAVAIL, errno.ENODEV}),
            )
        )

    def _queue(self, pending: _Pending) -> None:
        self._pending.append(pending)
        self._pending_names.update(pending.names)

    def _send_unless_batching(self) -> None:
        if not self._batching:
            self._flush()

    def _flush(self) -> None:
        """Send what is queued, namespace by namespace in order; raise on the first failure."""
        pending, self._pending = self._pending, []
        self._pending_names.clear()
        start = 0
        while start < len(pending):
            role = pending[start].role
            stop = start + 1
            while stop < len(pending) and stop - start < CHUNK and pending[stop].role == role:
                stop += 1
            chunk = pending[start:stop]
            results = self._exchange(self._spaces[role], [p.request for p in chunk])
            failures = [
                (p, r) for p, r in zip(chunk, results, strict=True) if r.error not in p.ignore
            ]
            failures = [(p, r) for p, r in failures if r.error]
            if failures:
                first, result = failures[0]
                where = f" in {self._spaces[role].label}" if first.where else ""
                raise _failure(
                    first.action + where,
                    result.error,
                    result.message,
                    kind=first.kind,
                    others=len(failures) - 1,
                )
            start = stop

    def _exchange(self, space: _Namespace, requests: list[rtnl.Request]) -> list[_Result]:
        try:
            return space.channel().exchange(requests)
        except OSError as error:
            raise _os_failure(f"talk to the kernel in {space.label}", error) from None

    def _run_now(self, space: _Namespace, request: rtnl.Request, action: str) -> None:
        (result,) = self._exchange(space, [request])
        if result.error:
            raise _failure(f"{action} in {space.label}", result.error, result.message)


def _setns(fd: int) -> None:
    """Move this thread into the network namespace open as ``fd``."""
    if _LIBC.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _pyroute2_netns() -> Any:
    from pyroute2 import netns  # noqa: PLC0415 - imported on first use, see the docstring

    return netns


def _differs(wanted: _T | None, current: object) -> _T | None:
    """``wanted`` when it is managed (not None) and differs from ``current``, else None."""
    return wanted if wanted is not None and wanted != current else None


def _port_flags(port: BridgePort | None) -> bool:
    return port is not None and (port.neigh_suppress is not None or port.learning is not None)


def _sysctl_path(key: str) -> Path:
    if not _SYSCTL_KEY.fullmatch(key):
        raise ValueError(f"not a net sysctl key: {key!r}")
    return Path("/proc/sys", *key.split("."))


_HINTS = {
    errno.EPERM: "pe-plan changes namespaces, links and sysctls: run it as root",
    errno.EACCES: "pe-plan changes namespaces, links and sysctls: run it as root",
    errno.EEXIST: "something else already uses that name: run `pe-plan plan` again to see it",
    errno.ENODEV: "the node changed since the plan was made: run `pe-plan plan` again",
}


def _reason(error: int, message: str | None) -> str:
    text = os.strerror(error)
    return f"{text} ({message})" if message else text


def _failure(
    action: str, error: int, message: str | None, *, kind: str | None = None, others: int = 0
) -> BackendError:
    """The error for a refused request: ``cannot <action>: <reason>`` and a hint.

    ``others`` counts the further requests of the same write that failed too.
    """
    hint = _HINTS.get(error)
    if error == errno.EOPNOTSUPP and message == "Unknown device type" and kind:
        hint = (
            f"this kernel has no {kind} support: load its module (modprobe {kind}) or use a "
            "kernel built with it (on these machines VRFs need the UML lab)"
        )
    more = f" (and {others} more failed requests)" if others else ""
    return BackendError(f"cannot {action}: {_reason(error, message)}{more}", hint=hint)


def _os_failure(action: str, error: OSError) -> BackendError:
    code = error.errno or errno.EIO
    return _failure(action, code, None)

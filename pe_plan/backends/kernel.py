"""The kernel backend as the refresh and apply stages see it.

A Protocol, so that those stages take the backend as a parameter, can be tested with a fake,
and do not import pyroute2 (:class:`pe_plan.backends.netlink.NetlinkBackend` is the real
one). Links, addresses and sysctls are addressed by namespace role; the backend knows which
namespace each role is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Protocol

from pe_plan.backends.dump import AddrRecord, LinkRecord, NamespaceDump
from pe_plan.model import Address, Link, Role


class KernelBackend(Protocol):
    """Reads and idempotent writes of the node's kernel objects (see NetlinkBackend)."""

    def namespace_exists(self, role: Role) -> bool: ...

    def dump(self, role: Role, sysctls: Iterable[str] = ()) -> NamespaceDump | None: ...

    def dump_in_child(
        self, role: Role, sysctls: Iterable[str] = ()
    ) -> AbstractContextManager[Callable[[], NamespaceDump | None]]: ...

    def get_link(self, role: Role, name: str) -> LinkRecord | None: ...

    def link_addresses(self, role: Role, name: str) -> list[AddrRecord]: ...

    def read_sysctl(self, role: Role, key: str) -> str | None: ...

    def batch(self) -> AbstractContextManager[KernelBackend]: ...

    def create_netns(self, name: str) -> bool: ...

    def delete_netns(self, name: str) -> bool: ...

    def add_link(self, link: Link, *, exist_ok: bool = False) -> None: ...

    def update_link(self, link: Link, *, exact: bool = False) -> bool: ...

    def delete_link(self, role: Role, name: str) -> None: ...

    def move_link(self, name: str, source: Role, target: Role) -> bool: ...

    def add_address(self, address: Address) -> None: ...

    def delete_address(self, address: Address) -> None: ...

    def set_sysctl(self, role: Role, key: str, value: str) -> bool: ...

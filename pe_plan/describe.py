"""Human text for node states: objects grouped by namespace, addresses under their link.

Used by ``show --desired`` and ``show`` of a state file, so that what pe-plan wants and
what it recorded read the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from pe_plan.model import Address, FrrInstance, Link, Netns, Object, Role, Sysctl

IDENTITY_FIELDS = frozenset({"namespace", "name", "kind", "link", "cidr", "key", "pathspace"})


def flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested attributes as dotted keys (``vxlan.local``), skipping unset ones."""
    flat: dict[str, Any] = {}
    for key, item in value.items():
        dotted = f"{prefix}{key}"
        if isinstance(item, Mapping):
            flat.update(flatten(item, f"{dotted}."))
        elif item is not None:
            flat[dotted] = item
    return flat


def attributes(obj: Object) -> dict[str, Any]:
    """The attributes of an object other than the ones that name it."""
    raw = msgspec.to_builtins(obj)
    return {k: v for k, v in flatten(raw).items() if k != "type" and k not in IDENTITY_FIELDS}


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(format_value(v) for v in value)
    return str(value)


def format_attributes(values: Mapping[str, Any]) -> str:
    return " ".join(f"{key}={format_value(value)}" for key, value in values.items())


def render_objects(objects: Iterable[Object], router_namespace: str) -> str:
    """Objects grouped by namespace; each link is followed by its addresses."""
    items = list(objects)
    addresses: dict[tuple[Role, str], list[str]] = {}
    for obj in items:
        if isinstance(obj, Address):
            addresses.setdefault((obj.namespace, obj.link), []).append(obj.cidr)
    lines: list[str] = []
    sections: list[tuple[str, Role]] = [
        (f'router namespace "{router_namespace}"', "router"),
        ("host namespace", "host"),
    ]
    for title, role in sections:
        section = [_line(obj, addresses) for obj in items if _role(obj) == role]
        section = [line for line in section if line]
        if section:
            lines.append(f"{title}:")
            lines.extend(section)
    return "\n".join(lines) + ("\n" if lines else "")


def _role(obj: Object) -> Role:
    if isinstance(obj, Netns | FrrInstance):
        return "router"
    return obj.namespace


def _line(obj: Object, addresses: Mapping[tuple[Role, str], list[str]]) -> str:
    if isinstance(obj, Address):
        if (obj.namespace, obj.link) in addresses:
            return ""  # shown under its link
        return f"  address {obj.cidr} on {obj.link} (link not managed)"
    if isinstance(obj, Netns):
        return f"  namespace {obj.name} (lo up)"
    if isinstance(obj, FrrInstance):
        return f"  frr instance {obj.pathspace}: daemons {', '.join(obj.daemons)}"
    if isinstance(obj, Sysctl):
        return f"  sysctl {obj.key} = {obj.value}"
    return _link_line(obj, addresses)


def _link_line(link: Link, addresses: Mapping[tuple[Role, str], list[str]]) -> str:
    text = f"  {link.name} ({link.kind}) {format_attributes(attributes(link))}".rstrip()
    extra = [f"      {cidr}" for cidr in addresses.get((link.namespace, link.name), [])]
    return "\n".join([text, *extra])

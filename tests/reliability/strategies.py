"""Hypothesis strategies for pe-plan's inputs: configs and node files built from the schema.

:func:`from_type` walks the msgspec models of :mod:`pe_plan.schema` the way
:func:`pe_plan.schema.check` does and draws a value each field accepts (ranges, patterns,
lengths and enums from the models' metadata; real networks and addresses for CIDR and
address fields), so that a good share of the configs validate. :func:`mutated` then breaks
the data (a field dropped, a value of the wrong type, a huge number, odd unicode, an
unknown key) and :func:`mangled` the YAML text (cut, bytes inserted, lines doubled so that
keys repeat, explicit tags, anchors and aliases). Every generated file is small: the size
limits are tested separately.
"""

from __future__ import annotations

import functools
import ipaddress
import typing
from typing import Any

import msgspec
import yaml
from hypothesis import strategies as st

from pe_plan import schema

IPV6_FIELDS = ("ipv6",)
GATEWAY_FIELDS = ("l2gatewayip", "gatewayIPs")
MAX_ITEMS = 3  # list lengths beyond this only slow the examples down
# Explicit YAML tags, each with its own constructor (or none) in PyYAML's safe loader.
TAGS = (
    "!!int",
    "!!float",
    "!!bool",
    "!!null",
    "!!str",
    "!!timestamp",
    "!!binary",
    "!!map",
    "!!seq",
    "!!set",
    "!!omap",
    "!!merge",
    "!!python/object/apply:os.getcwd",
    "!local",
)

ipv4_networks = st.builds(
    lambda address, prefix: str(ipaddress.ip_network(f"{address}/{prefix}", strict=False)),
    st.ip_addresses(v=4),
    st.integers(8, 30),
)
ipv6_networks = st.builds(
    lambda address, prefix: str(ipaddress.ip_network(f"{address}/{prefix}", strict=False)),
    st.ip_addresses(v=6),
    st.integers(48, 126),
)
gateways = st.builds(
    lambda address, prefix: f"{address}/{prefix}",
    st.ip_addresses(),
    st.integers(8, 30),
)

# Values that no field expects, or that stretch one to its limits.
odd_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**64, -(2**63) - 1, 10**30, 0, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=20),
    st.sampled_from(["\u202e", "\x00", "\ufeff", "é", "日本", "🙂", "a" * 300, " ", "\n"]),
    st.dates(),
)
odd_values = st.recursive(
    odd_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def from_type(tp: Any, name: str = "") -> st.SearchStrategy[Any]:
    """A value of type ``tp`` (a schema annotation); ``name`` is the field's YAML name."""
    base, meta = schema._unwrap(tp)
    if schema._is_optional(base):
        inner = next(a for a in typing.get_args(base) if a is not type(None))
        return st.none() | from_type(inner, name)
    if isinstance(base, type) and issubclass(base, schema.Model):
        return from_model(base)
    origin = typing.get_origin(base)
    if origin is list:
        (item,) = typing.get_args(base)
        low = meta.min_length if meta and meta.min_length else 0
        high = min(meta.max_length if meta and meta.max_length else MAX_ITEMS, MAX_ITEMS)
        return st.lists(from_type(item, name), min_size=low, max_size=max(low, high))
    if origin is typing.Literal:
        return st.sampled_from(typing.get_args(base))
    if origin is dict:
        return st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=2)
    if base is bool:
        return st.booleans()
    if base is int:
        low = int(meta.ge) if meta and meta.ge is not None else 0
        return st.integers(low, int(meta.le) if meta and meta.le is not None else 2**32)
    if tp == schema.Cidr:
        return _cidr(name)
    if tp == schema.IpAddress:
        return st.ip_addresses().map(str)
    return _string(meta)


def _cidr(name: str) -> st.SearchStrategy[str]:
    if name in GATEWAY_FIELDS:
        return gateways
    return ipv6_networks if name in IPV6_FIELDS else ipv4_networks


def _string(meta: msgspec.Meta | None) -> st.SearchStrategy[str]:
    longest = meta.max_length if meta and meta.max_length is not None else 30
    if meta is not None and meta.pattern is not None:
        return st.from_regex(meta.pattern, fullmatch=True).filter(
            lambda text: len(text) <= longest and "\n" not in text
        )
    shortest = meta.min_length if meta and meta.min_length is not None else 0
    return st.text(min_size=shortest, max_size=min(longest, 30))


@functools.cache  # strategies are immutable; building one per draw is most of the cost
def from_model(model: type[schema.Model]) -> st.SearchStrategy[dict[str, Any]]:
    """A mapping for ``model``: its required fields always, the others sometimes."""
    fields = msgspec.structs.fields(model)
    required = {f.encode_name: from_type(f.type, f.encode_name) for f in fields if f.required}
    optional = {f.encode_name: from_type(f.type, f.encode_name) for f in fields if not f.required}
    config = model.__struct_config__
    if config.tag_field is not None:
        required[config.tag_field] = st.just(config.tag)
    return st.fixed_dictionaries(required, optional=optional)


@st.composite
def configs(draw: st.DrawFn) -> list[dict[str, Any]]:
    """An Underlay and up to three VNIs, mostly in one dialect, sometimes mixed."""
    dialects = list(schema.DIALECTS.values())
    main = draw(st.sampled_from(dialects))
    documents = [draw(from_model(main.kinds["Underlay"]))]
    for _ in range(draw(st.integers(0, 3))):
        dialect = draw(st.sampled_from([main] * 4 + dialects))
        documents.append(draw(from_model(dialect.kinds[draw(st.sampled_from(["L2VNI", "L3VNI"]))])))
    return documents


def node_files() -> st.SearchStrategy[dict[str, Any]]:
    return from_model(schema.NodeFile)


@st.composite
def mutated(draw: st.DrawFn, documents: list[Any]) -> list[Any]:
    """``documents`` with up to three things broken in them (or none)."""
    for _ in range(draw(st.integers(0, 3))):
        paths = list(_paths(documents, ()))
        path = draw(st.sampled_from(paths))
        parent = _get(documents, path[:-1])
        key = path[-1]
        how = draw(st.sampled_from(["drop", "replace", "add-key", "huge"]))
        if how == "drop" and isinstance(parent, dict):
            del parent[key]
        elif how == "add-key" and isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(odd_values)
        elif how == "huge":
            parent[key] = draw(st.sampled_from([2**64, 10**200, -(10**50), 1e308, "9" * 4000]))
        else:
            parent[key] = draw(odd_values)
    return documents


def _paths(value: Any, prefix: tuple[Any, ...]) -> typing.Iterator[tuple[Any, ...]]:
    keys = value.keys() if isinstance(value, dict) else range(len(value))
    for key in list(keys):
        yield (*prefix, key)
        child = value[key]
        if isinstance(child, dict | list) and child:
            yield from _paths(child, (*prefix, key))


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


def dump(documents: list[Any]) -> str:
    return yaml.safe_dump_all(documents, sort_keys=False, allow_unicode=True)


@st.composite
def mangled(draw: st.DrawFn, text: str) -> bytes:
    """The YAML text, possibly cut short, with bytes put in, lines repeated, a value given
    an explicit tag or made an alias of an earlier one."""
    data = text.encode()
    how = draw(st.sampled_from(["none", "cut", "insert", "double-line", "flip", "tag", "alias"]))
    at = draw(st.integers(0, len(data)))
    if how == "cut":
        return data[:at]
    if how == "insert":
        return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    if how == "flip" and data:
        at = min(at, len(data) - 1)
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    values = [i + 2 for i in range(len(text)) if text.startswith(": ", i)]
    if how == "tag" and values:
        at = draw(st.sampled_from(values))
        return (text[:at] + draw(st.sampled_from(TAGS)) + " " + text[at:]).encode()
    if how == "alias" and len(values) > 1:
        anchor, alias = sorted(draw(st.lists(st.sampled_from(values), min_size=2, max_size=2)))
        end = text.find("\n", alias)
        rest = text[end:] if end >= 0 else ""
        return (text[:anchor] + "&x " + text[anchor:alias] + "*x" + rest).encode()
    if how == "double-line":
        lines = text.splitlines(keepends=True)
        index = draw(st.integers(0, max(len(lines) - 1, 0)))
        return "".join(lines[: index + 1] + lines[index:]).encode()
    return data

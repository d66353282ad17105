"""FRR diff: parse FRR config texts into contexts and compute the delta between two.

Pure, like ``frr-reload.py`` (reference C.1) but without running vtysh: a config is parsed
into *contexts* keyed by the tuple of their nesting lines, ``("router bgp 64514 vrf red",
"address-family ipv4 unicast")``, each with its ordered lines; top-level single lines
(``ip nht resolve-via-default``) belong to the root context ``()``. Both sides are
normalised first so that only real changes remain (reference C.3): what FRR never prints
or cannot change (``frr version``, ``hostname``, ``line vty``, zebra's view of the
forwarding sysctls, which pe-plan manages as kernel objects), values FRR hides as
defaults, spellings FRR rewrites (``ebgp-multihop``, ``route-target both``, log levels,
``interface X vrf Y``, host bits of prefixes, IPv6 forms), comments, exit markers and
whitespace.

The delta is a value: one :class:`FrrContextDelta` per changed context, in config order.
Its :meth:`FrrDelta.commands` are the configuration-mode lines that apply it: every removal
first, innermost contexts and VRF instances before the default instance, then every
addition in config order. It avoids FRR's cascade traps: a neighbor that goes away entirely
is removed by its ``remote-as`` line alone (that removes all its other lines), a changed
single-valued setting is overwritten instead of removed and re-added, and when the default
BGP instance goes (an AS change), the VRF instances that FRR would refuse to keep are
deleted and re-created.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from typing import Literal

import msgspec

from pe_plan.frr_render import SECRET_LINE_RE, reveal_secrets

Context = tuple[str, ...]
ParsedConfig = dict[Context, tuple[str, ...]]
Action = Literal["update", "create", "delete", "replace"]

# Lines that open a context at the top level, and the contexts that open inside others.
# FRR 8.4.4 ends each with an exit marker; the parser also copes without one.
TOP_LEVEL_CONTEXTS = (
    "router",
    "interface",
    "vrf",
    "route-map",
    "line vty",
    "bfd",
    "key chain",
    "segment-routing",
    "nexthop-group",
    "pseudowire",
    "mpls ldp",
    "rpki",
)
CHILD_CONTEXTS = (
    ("router bgp", ("address-family",)),
    ("address-family l2vpn evpn", ("vni",)),
    ("bfd", ("peer", "profile")),
    ("key chain", ("key",)),
)
# FRR cannot ``no`` these as a whole (or only while unused): they are emptied line by line,
# and one without lines is the same as none.
LINE_BY_LINE_CONTEXTS = ("interface", "vrf", "address-family")
EXIT_MARKERS = frozenset({"exit", "exit-vrf", "exit-address-family", "exit-vni", "quit"})
EXIT_FOR = (("vrf", "exit-vrf"), ("address-family", "exit-address-family"), ("vni", "exit-vni"))
SHOW_RUN_HEADERS = frozenset({"Building configuration...", "Current configuration:", "end"})

# Not configuration pe-plan can or may change: build facts, the system hostname (FRR 8.4.4
# daemons keep it whatever vtysh is told), vty access, and zebra's rendering of the
# forwarding sysctls (kernel objects in pe-plan's model; removing ``no ip forwarding``
# would switch forwarding on behind the plan's back).
IGNORED_TOP_LEVEL = (
    "frr version",
    "frr defaults",
    "service integrated-vtysh-config",
    "hostname",
    "username",
    "password",
    "enable password",
    "agentx",
    "ip forwarding",
    "no ip forwarding",
    "ipv6 forwarding",
    "no ipv6 forwarding",
)
IGNORED_CONTEXTS = ("line vty",)

# Values `show running-config` hides because they are FRR's defaults (frr defaults
# traditional): rendering one makes every reload set it again and reset the sessions.
HIDDEN_DEFAULT_RE = re.compile(
    r"bgp ebgp-requires-policy|bgp network import-check|bgp default ipv4-unicast"
    r"|bgp graceful-restart restart-time 120|bgp graceful-restart stalepath-time 360"
    r"|timers bgp 60 180|neighbor \S+ port 179|neighbor \S+ ebgp-multihop 1"
    r"|log timestamp precision 0"
)

LOG_LEVELS = (
    "emergencies",
    "alerts",
    "critical",
    "errors",
    "warnings",
    "notifications",
    "informational",
    "debugging",
)
LOG_DEFAULT_LEVEL = "debugging"
LOG_RE = re.compile(r"(?P<target>log (?:stdout|syslog|file \S+))(?: (?P<level>\S+))?")
PREFIX_LINE_RE = re.compile(r"(?P<head>(?:no )?(?:network|ip route|ipv6 route) )(?P<prefix>\S+)")
NEIGHBOR_RE = re.compile(r"neighbor (?P<peer>\S+) ")
NEIGHBOR_DEFINITION_RE = re.compile(r"neighbor (?P<peer>\S+) (?:remote-as|interface|peer-group)\b")

# Settings that hold one value: setting a new one replaces the old, so the old line is not
# removed first (removing ``neighbor X remote-as`` would delete the whole neighbor).
SINGLE_VALUED = (
    re.compile(r"neighbor \S+ (?:remote-as|password|port|ebgp-multihop|timers connect)(?= )"),
    re.compile(r"neighbor \S+ timers(?= \d)"),
    re.compile(r"bgp router-id(?= )"),
    re.compile(r"log (?:stdout|syslog|timestamp precision)(?= |$)"),
)
ROUTE_MAP_RE = re.compile(r"neighbor (\S+) route-map \S+ (in|out)")


class FrrContextDelta(msgspec.Struct, frozen=True, omit_defaults=True):
    """The change of one context.

    ``update``: remove and add lines inside it; ``create``: it is new (entering it creates
    it), with ``add``; ``delete``: it goes as a whole (``no <key>``), with everything in
    it; ``replace``: deleted, then created again with ``add``.
    """

    context: Context
    remove: tuple[str, ...] = ()
    add: tuple[str, ...] = ()
    action: Action = "update"


class FrrDelta(msgspec.Struct, frozen=True):
    """The change from one FRR config to another, context by context in config order."""

    contexts: tuple[FrrContextDelta, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.contexts

    def commands(self) -> tuple[str, ...]:
        """Configuration-mode lines that apply the delta (for ``vtysh -f``).

        Removals first, in reverse config order (children before parents, VRF instances
        before the default instance), then additions in config order; each block of lines
        goes inside its context, entered and left only where the next block differs.
        """
        blocks: list[tuple[Context, tuple[str, ...]]] = []
        for delta in reversed(self.contexts):
            if delta.action in ("delete", "replace"):
                blocks.append((delta.context[:-1], (_negate(delta.context[-1]),)))
            elif delta.remove:
                blocks.append((delta.context, tuple(_negate(line) for line in delta.remove)))
        blocks.extend(
            (delta.context, delta.add)
            for delta in self.contexts
            if delta.action in ("create", "replace") or delta.add
        )
        out: list[str] = []
        current: Context = ()
        for context, lines in [*blocks, ((), ())]:
            common = _common_depth(current, context)
            out.extend(
                " " * depth + _exit(current[depth])
                for depth in reversed(range(common, len(current)))
            )
            out.extend(" " * depth + context[depth] for depth in range(common, len(context)))
            out.extend(" " * len(context) + line for line in lines)
            current = context
        return tuple(out)

    def lines(self) -> tuple[str, ...]:
        """The delta for people: a tree of contexts with ``-``/``+`` lines.

        Build it from public config texts (:func:`~pe_plan.frr_render.mask_secrets`) so
        that no password shows.
        """
        out: list[str] = []
        shown: Context = ()
        for delta in self.contexts:
            *parents, key = delta.context or ("",)
            common = _common_depth(shown, tuple(parents))
            out.extend(f"  {'  ' * depth}{parents[depth]}" for depth in range(common, len(parents)))
            if delta.context:
                indent = "  " * len(parents)
                out.extend(f"{sign} {indent}{key}" for sign in _SIGNS[delta.action])
            shown = delta.context
            indent = "  " * len(delta.context)
            out.extend(f"- {indent}{line}" for line in delta.remove)
            out.extend(f"+ {indent}{line}" for line in delta.add)
        return tuple(out)

    def reveal(self, source: str, salt: str) -> FrrDelta:
        """The delta with the secrets of ``source`` in place of the markers it adds.

        A delta made from public texts can be shown and stored; this makes it applicable
        (removals never need a secret: ``no neighbor X password`` takes none).
        """
        return FrrDelta(
            contexts=tuple(
                msgspec.structs.replace(
                    delta, add=tuple(reveal_secrets(line, source, salt) for line in delta.add)
                )
                for delta in self.contexts
            )
        )


# How a context's own line is marked: a replaced one shows as removed and added.
_SIGNS: dict[Action, tuple[str, ...]] = {
    "update": (" ",),
    "create": ("+",),
    "delete": ("-",),
    "replace": ("-", "+"),
}


def parse_frr(text: str) -> ParsedConfig:
    """Contexts of an FRR config (a file or ``show running-config``), normalised.

    The root context ``()`` is always present; other contexts keep their order of
    appearance and each line appears once.
    """
    contexts: dict[Context, list[str]] = {(): []}
    stack: list[str] = []
    for raw in text.splitlines():
        line = " ".join(raw.split())
        if not line or line.startswith(("!", "#")) or line in SHOW_RUN_HEADERS:
            continue
        if line in EXIT_MARKERS:
            del stack[-1:]
            continue
        depth = _opens_context(stack, line)
        if depth is not None:
            stack[depth:] = [_normalise(line)[0]]
            contexts.setdefault(tuple(stack), [])
            continue
        if not stack and line.startswith(IGNORED_TOP_LEVEL):
            continue
        contexts[tuple(stack)].extend(
            n for n in _normalise(line) if not HIDDEN_DEFAULT_RE.fullmatch(n)
        )
    return {
        context: tuple(dict.fromkeys(lines))
        for context, lines in contexts.items()
        if not (context and _is_ignored(context))
        and (lines or not context or not _line_by_line(context[-1]))
    }


def diff_frr(running: str, desired: str) -> FrrDelta:
    """What turns the ``running`` config into the ``desired`` one."""
    old = parse_frr(running)
    new = parse_frr(desired)
    replaced = _replaced_instances(old, new)
    deltas: list[FrrContextDelta] = []
    gone: set[Context] = set()
    for context in _union_order(list(new), list(old)):
        if any(context[:depth] in gone for depth in range(1, len(context))):
            continue  # removed with an enclosing context
        fresh = any(context[:depth] in replaced for depth in range(1, len(context) + 1))
        if fresh and context not in new:
            continue  # removed with the instance it belongs to
        before = () if fresh else old.get(context)
        after = new.get(context)
        delta = _context_delta(context, before, after, replaced=context in replaced)
        if delta is None:
            continue
        if delta.action == "delete":
            gone.add(context)
        deltas.append(delta)
    return FrrDelta(contexts=tuple(_avoid_cascades(deltas, old, new)))


def _context_delta(
    context: Context,
    before: tuple[str, ...] | None,
    after: tuple[str, ...] | None,
    *,
    replaced: bool,
) -> FrrContextDelta | None:
    whole = bool(context) and not _line_by_line(context[-1])
    if replaced:
        return FrrContextDelta(context=context, add=after or (), action="replace")
    if after is None:
        if whole:
            return FrrContextDelta(context=context, action="delete")
        return FrrContextDelta(context=context, remove=tuple(reversed(before or ())))
    if before is None and whole:
        return FrrContextDelta(context=context, add=after, action="create")
    kept = set(after)
    remove = tuple(line for line in reversed(before or ()) if line not in kept)
    existing = set(before or ())
    add = tuple(line for line in after if line not in existing)
    if not remove and not add:
        return None
    return FrrContextDelta(context=context, remove=remove, add=add)


def _avoid_cascades(
    deltas: list[FrrContextDelta], old: ParsedConfig, new: ParsedConfig
) -> Iterator[FrrContextDelta]:
    """Drop removals that FRR performs by itself or that an addition overwrites."""
    for delta in deltas:
        if not delta.remove:
            yield delta
            continue
        instance = delta.context[:1]
        dropped = _defined_neighbors(old.get(instance, ())) - _defined_neighbors(
            new.get(instance, ())
        )
        slots = {_slot(line) for line in delta.add} - {None}
        remove = tuple(
            line
            for line in delta.remove
            if _slot(line) not in slots and not _cascades(line, dropped)
        )
        if remove or delta.add:
            yield msgspec.structs.replace(delta, remove=remove)


def _cascades(line: str, dropped: set[str]) -> bool:
    """Whether removing a dropped neighbor's definition already removes ``line``."""
    match = NEIGHBOR_RE.match(line)
    return bool(match and match["peer"] in dropped and not NEIGHBOR_DEFINITION_RE.match(line))


def _defined_neighbors(lines: Iterable[str]) -> set[str]:
    return {m["peer"] for line in lines if (m := NEIGHBOR_DEFINITION_RE.match(line))}


def _slot(line: str) -> str | None:
    for pattern in SINGLE_VALUED:
        if match := pattern.match(line):
            return match[0]
    if match := ROUTE_MAP_RE.fullmatch(line):
        return f"neighbor {match[1]} route-map {match[2]}"
    return None


def _replaced_instances(old: ParsedConfig, new: ParsedConfig) -> set[Context]:
    """VRF instances to delete and re-create because the default instance goes.

    FRR refuses ``no router bgp ASN`` while VRF instances exist.
    """
    default_gone = any(_is_default_instance(c) and c not in new for c in old if len(c) == 1)
    if not default_gone:
        return set()
    return {c for c in old if len(c) == 1 and c in new and c[0].startswith("router bgp ")}


def _is_default_instance(context: Context) -> bool:
    return context[0].startswith("router bgp ") and " vrf " not in context[0]


def _union_order(first: list[Context], second: list[Context]) -> list[Context]:
    """``first``'s order, with each context only in ``second`` after its predecessor there."""
    order = list(first)
    placed = set(order)
    for index, context in enumerate(second):
        if context in placed:
            continue
        order.insert(order.index(second[index - 1]) + 1 if index else 0, context)
        placed.add(context)
    return order


def _opens_context(stack: list[str], line: str) -> int | None:
    """The depth at which ``line`` opens a context, climbing out of open ones, or None."""
    for depth in range(len(stack), 0, -1):
        parent = stack[depth - 1]
        for parent_prefix, children in CHILD_CONTEXTS:
            if _starts(parent, parent_prefix) and any(_starts(line, c) for c in children):
                return depth
    if any(_starts(line, prefix) for prefix in TOP_LEVEL_CONTEXTS):
        return 0
    return None


def _starts(line: str, prefix: str) -> bool:
    return line == prefix or line.startswith(prefix + " ")


def _line_by_line(key: str) -> bool:
    return any(_starts(key, prefix) for prefix in LINE_BY_LINE_CONTEXTS)


def _is_ignored(context: Context) -> bool:
    return any(_starts(context[0], prefix) for prefix in IGNORED_CONTEXTS)


def _normalise(line: str) -> list[str]:
    """``line`` as FRR 8.4.4 prints it (one line may stand for two)."""
    if SECRET_LINE_RE.match(line):
        return [line]  # a secret is opaque: never rewrite it
    line = " ".join(_normalise_ipv6(word) for word in line.split(" "))
    if match := re.fullmatch(r"interface (\S+) vrf \S+", line):
        return [f"interface {match[1]}"]
    if match := re.fullmatch(r"address-family (ipv4|ipv6)", line):
        return [f"address-family {match[1]} unicast"]
    if match := re.fullmatch(r"(neighbor \S+ ebgp-multihop)", line):
        return [f"{match[1]} 255"]
    if match := re.fullmatch(r"route-target both (\S+)", line):
        return [f"route-target import {match[1]}", f"route-target export {match[1]}"]
    if match := LOG_RE.fullmatch(line):
        return [_normalise_log(match["target"], match["level"])]
    if match := PREFIX_LINE_RE.match(line):
        prefix = _mask_host_bits(match["prefix"])
        return [f"{match['head']}{prefix}{line[match.end() :]}"]
    return [line]


def _normalise_log(target: str, level: str | None) -> str:
    # FRR accepts any unambiguous prefix of a level and omits the default one.
    full = next((lv for lv in LOG_LEVELS if level and lv.startswith(level)), level)
    if full is None or full == LOG_DEFAULT_LEVEL:
        return target
    return f"{target} {full}"


def _normalise_ipv6(word: str) -> str:
    if ":" not in word:
        return word
    try:
        if "/" in word:
            return str(ipaddress.IPv6Interface(word))
        return str(ipaddress.IPv6Address(word))
    except ValueError:
        return word  # not an address: a route target, a MAC, a community


def _mask_host_bits(prefix: str) -> str:
    try:
        return str(ipaddress.ip_network(prefix, strict=False))
    except ValueError:
        return prefix


def _negate(line: str) -> str:
    """The command that removes ``line``."""
    if line.startswith("no "):
        return line[3:]
    if match := SECRET_LINE_RE.match(line):
        return f"no {match['head'].strip()}"  # FRR needs no secret to remove one
    return f"no {line}"


def _exit(key: str) -> str:
    return next((marker for prefix, marker in EXIT_FOR if _starts(key, prefix)), "exit")


def _common_depth(a: Context, b: Context) -> int:
    depth = 0
    while depth < min(len(a), len(b)) and a[depth] == b[depth]:
        depth += 1
    return depth

"""A pure model of how FRR 8.4.4 takes configuration-mode lines, for the diff's property tests.

It applies a delta's commands to a parsed config and refuses what FRR refuses, so that a
wrong order or a cascade trap fails the test instead of passing silently:

* a context line must open a child of the current context (the exits must be right);
* ``no`` of a line or context that is not there is refused (FRR: "Can't find ..."),
  unless it turns off a default, which then shows as ``no ...``;
* ``no neighbor X remote-as`` removes every line of neighbor X in its instance;
* a neighbor line before the neighbor's ``remote-as`` is refused ("Specify remote-as ...");
* ``no router bgp ASN`` is refused while VRF instances exist;
* a single-valued setting replaces its previous value; ``X`` undoes ``no X``;
* defaults FRR hides do not show.

The model is checked against the real FRR by the integration tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pe_plan.frr_diff import (
    EXIT_MARKERS,
    HIDDEN_DEFAULT_RE,
    NEIGHBOR_DEFINITION_RE,
    NEIGHBOR_RE,
    Context,
    ParsedConfig,
    _is_default_instance,
    _line_by_line,
    _normalise,
    _opens_context,
    _slot,
)


class FrrRejectedError(Exception):
    """FRR would refuse this command."""


def simulate(config: ParsedConfig, commands: Iterable[str]) -> ParsedConfig:
    """``config`` after FRR took ``commands`` in configuration mode."""
    state = {context: list(lines) for context, lines in config.items()}
    stack: list[str] = []
    for indented in commands:
        command = indented.strip()  # vtysh ignores the indentation
        if command in EXIT_MARKERS:
            if not stack:
                raise FrrRejectedError(f"{command!r} at the top level")
            stack.pop()
            continue
        negated = command.startswith("no ")
        body = command[3:] if negated else command
        depth = _opens_context(stack, body)
        if depth is not None:
            if depth != len(stack):
                raise FrrRejectedError(f"{command!r} does not belong in {stack}")
            context = (*stack, body)
            if negated:
                _delete_context(state, context)
            else:
                stack.append(body)
                state.setdefault(context, [])
            continue
        here = tuple(stack)
        lines = state.setdefault(here, [])
        if negated:
            _remove_line(state, here, body)
        else:
            _add_line(state, here, lines, command)
    return {
        context: tuple(lines)
        for context, lines in state.items()
        if lines or not context or not _line_by_line(context[-1])
    }


def _delete_context(state: dict[Context, list[str]], context: Context) -> None:
    if context not in state:
        raise FrrRejectedError(f"no such context {context}")
    if len(context) == 1 and _is_default_instance(context):
        vrfs = [c for c in state if len(c) == 1 and c[0].startswith("router bgp ") and c != context]
        if vrfs:
            raise FrrRejectedError("Cannot delete default BGP instance. Dependent VRF instances")
    for key in [c for c in state if c[: len(context)] == context]:
        del state[key]


def _remove_line(state: dict[Context, list[str]], here: Context, body: str) -> None:
    lines = state[here]
    if NEIGHBOR_DEFINITION_RE.match(body) and body in lines:
        peer = f"neighbor {body.split()[1]} "
        for context, others in state.items():
            if context[:1] == here[:1]:
                others[:] = [line for line in others if not line.startswith(peer)]
        return
    if re.fullmatch(r"neighbor \S+ password", body):
        # ``no neighbor X password`` takes no value.
        matches = [line for line in lines if line.startswith(body + " ")]
    else:
        matches = [body] if body in lines else []
        if not matches and HIDDEN_DEFAULT_RE.fullmatch(body):
            # Turning off something that is on by default: the ``no`` form shows.
            lines.append(f"no {body}")
            return
    if not matches:
        raise FrrRejectedError(f"no {body!r}: not configured in {here}")
    lines.remove(matches[0])


def _add_line(state: dict[Context, list[str]], here: Context, lines: list[str], line: str) -> None:
    peer = NEIGHBOR_RE.match(line)
    if peer and not NEIGHBOR_DEFINITION_RE.match(line):
        instance = state.get(here[:1], [])
        if not any(
            (m := NEIGHBOR_DEFINITION_RE.match(d)) and m["peer"] == peer["peer"] for d in instance
        ):
            raise FrrRejectedError(f"{line!r}: Specify remote-as or peer-group commands first")
    opposite = line[3:] if line.startswith("no ") else f"no {line}"
    slot = _slot(line)
    lines[:] = [old for old in lines if old != opposite and (slot is None or _slot(old) != slot)]
    for normal in _normalise(line):
        if not HIDDEN_DEFAULT_RE.fullmatch(normal) and normal not in lines:
            lines.append(normal)

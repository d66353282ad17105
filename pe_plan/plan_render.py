"""Plan rendering: the text a reviewer reads and the JSON a pipeline parses.

The text follows Terraform's shape so that it reads at a glance: drift first ("Objects have
changed outside pe-plan"), then one block per object in execution order (``+`` create,
``~`` update in place, ``-/+`` replace with the attribute that forces it marked, ``-``
delete), the FRR lines per context, and the ``Plan: N to add, M to change, K to destroy.``
line. Secrets never appear: the FRR lines are in public form and their digest markers are
shown as ``(sensitive)``. Colour is off unless the caller asks for it. The JSON is a
versioned envelope (``format_version`` 1.0: additions keep the major version, consumers
ignore unknown keys) with the same content, in a deterministic order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from pe_plan import __version__
from pe_plan.frr_diff import FrrContextDelta
from pe_plan.plan import (
    FRR_ADDRESS,
    NEW_OBJECT,
    Action,
    Change,
    Drift,
    FrrAction,
    Plan,
    format_value,
)
from pe_plan.secrets import for_display

JSON_FORMAT_VERSION = "1.0"

_COLORS = {"+": "\x1b[32m", "~": "\x1b[33m", "-": "\x1b[31m"}
_RESET = "\x1b[0m"
_CONTEXT_SYMBOLS = {"update": "~", "create": "+", "delete": "-", "replace": "-/+"}
# A single right-pointing angle quote: it cannot be mistaken for a character of FRR syntax.
_CONTEXT_SEPARATOR = " \u203a "


def render_text(plan: Plan, *, color: bool = False) -> str:
    """The plan as people read it (``color`` adds ANSI colours to the action symbols)."""
    out = _Text(color=color)
    _drift_section(out, plan.drift)
    if plan.targets:
        out.line(
            f"Warning: targeting is in effect: only {', '.join(plan.targets)} and what it "
            "needs are planned; other changes wait for a plan without targets."
        )
        out.line()
    if plan.empty:
        out.line("No changes. The node matches the configuration.")
        return out.text()
    out.line("pe-plan will perform the following actions:")
    out.line()
    shown: set[str] = set()
    for step in plan.actions:
        # A replace and the FRR delta are two steps each but one block: at the first step.
        key = FRR_ADDRESS if isinstance(step, FrrAction) else step.address
        if key in shown:
            continue
        shown.add(key)
        if isinstance(step, FrrAction):
            out.frr(plan.frr)
        else:
            out.action(step)
    summary = plan.summary
    out.line(
        f"Plan: {summary.add} to add, {summary.change} to change, {summary.destroy} to destroy."
    )
    return out.text()


def render_drift(drift: Sequence[Drift], *, color: bool = False) -> str:
    """``pe-plan refresh``: the drift section alone, or a line saying there is none."""
    if not drift:
        return "No changes outside pe-plan: the node matches the state.\n"
    out = _Text(color=color)
    _drift_section(out, drift)
    return out.text()


def _drift_section(out: _Text, drift: Sequence[Drift]) -> None:
    if not drift:
        return
    out.line("Objects have changed outside pe-plan")
    out.line()
    out.line("pe-plan detected these changes made outside pe-plan since it last applied:")
    out.line()
    for item in drift:
        out.drift(item)


def render_json(plan: Plan) -> str:
    """``plan --json``: one JSON document, indented, keys in a fixed order."""
    envelope: dict[str, Any] = {
        "format_version": JSON_FORMAT_VERSION,
        "pe_plan_version": __version__,
        "destroy": plan.destroy,
        "targets": list(plan.targets),
        "resource_drift": [_json_drift(drift) for drift in plan.drift],
        "resource_changes": _json_changes(plan.actions),
        "frr_changes": [_json_frr(delta) for delta in plan.frr],
        "summary": msgspec.to_builtins(plan.summary),
    }
    return msgspec.json.format(msgspec.json.encode(envelope), indent=2).decode() + "\n"


class _Text:
    """Accumulates lines; knows the block shapes."""

    def __init__(self, *, color: bool) -> None:
        self.color = color
        self.lines: list[str] = []

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    def line(self, text: str = "") -> None:
        self.lines.append(text)

    def symbol(self, symbol: str) -> str:
        if not self.color:
            return symbol
        return "".join(f"{_COLORS[c]}{c}{_RESET}" if c in _COLORS else c for c in symbol)

    def header(self, symbol: str, address: str, comment: str) -> None:
        self.line(f"  # {address} {comment}")
        # Symbols end in one column, as Terraform's: "  +", "  ~", "-/+".
        self.line(f"{' ' * (3 - len(symbol))}{self.symbol(symbol)} {address}")

    def attributes(self, rows: Sequence[tuple[str, str, str]]) -> None:
        """``(symbol, path, text)`` rows with the ``=`` signs aligned."""
        width = max((len(path) for _, path, _ in rows), default=0)
        for symbol, path, text in rows:
            self.line(f"      {self.symbol(symbol)} {path.ljust(width)} = {text}")
        self.line()

    def action(self, action: Action) -> None:
        if action.replacement:
            self.header("-/+", action.address, f"must be replaced ({action.reason})")
            self.attributes([_changed(change) for change in action.changes])
        elif action.action == "create":
            why = "" if action.reason == NEW_OBJECT else f" ({action.reason})"
            self.header("+", action.address, f"will be created{why}")
            self.attributes([("+", c.path, format_value(c.after)) for c in action.changes])
        elif action.action == "update":
            self.header("~", action.address, f"will be updated in place ({action.reason})")
            self.attributes([_changed(change) for change in action.changes])
        else:
            self.header("-", action.address, f"will be destroyed ({action.reason})")
            self.attributes([("-", c.path, format_value(c.before)) for c in action.changes])

    def drift(self, drift: Drift) -> None:
        if drift.after is None:
            self.header("-", drift.address, "has been deleted")
            self.line()
        else:
            self.header("~", drift.address, "has changed")
            self.attributes([_changed(change) for change in drift.changes])

    def frr(self, contexts: Sequence[FrrContextDelta]) -> None:
        """Per context: its own change (``~``, ``+``, ``-``, ``-/+``), then its lines."""
        self.header("~", FRR_ADDRESS, "will be updated in place")
        for delta in contexts:
            symbol = _CONTEXT_SYMBOLS[delta.action]
            name = _CONTEXT_SEPARATOR.join(delta.context) or "(top level)"
            self.line(f"{' ' * (7 - len(symbol))}{self.symbol(symbol)} {name}")
            for sign, texts in (("-", delta.remove), ("+", delta.add)):
                for text in texts:
                    self.line(f"          {self.symbol(sign)} {for_display(text)}")
        self.line()


def _changed(change: Change) -> tuple[str, str, str]:
    text = f"{format_value(change.before)} -> {format_value(change.after)}"
    if change.forces_replacement:
        text += " # forces replacement"
    return "~", change.path, text


def _type(address: str) -> str:
    return address.split(".", 1)[0]


def _json_drift(drift: Drift) -> dict[str, Any]:
    return {
        "address": drift.address,
        "type": _type(drift.address),
        "change": {
            "actions": ["delete"] if drift.after is None else ["update"],
            "before": msgspec.to_builtins(drift.before),
            "after": msgspec.to_builtins(drift.after),
            "changed_attributes": msgspec.to_builtins(drift.changes),
        },
    }


def _json_changes(steps: Sequence[Action | FrrAction]) -> list[dict[str, Any]]:
    """One entry per object, in the order of its first step; a replace joins its two."""
    entries: dict[str, dict[str, Any]] = {}
    for step in steps:
        if isinstance(step, FrrAction):
            continue
        entry = entries.get(step.address)
        if entry is None:
            entries[step.address] = {
                "address": step.address,
                "type": _type(step.address),
                "change": {
                    "actions": [step.action],
                    "before": msgspec.to_builtins(step.before),
                    "after": msgspec.to_builtins(step.after),
                    "changed_attributes": msgspec.to_builtins(step.changes),
                    "replace_paths": [c.path for c in step.changes if c.forces_replacement],
                },
                "reason": step.reason,
            }
        else:
            entry["change"]["actions"].append(step.action)
            entry["change"]["after"] = msgspec.to_builtins(step.after)
    return list(entries.values())


def _json_frr(delta: FrrContextDelta) -> dict[str, Any]:
    return {
        "context": list(delta.context),
        "action": delta.action,
        "remove": [for_display(text) for text in delta.remove],
        "add": [for_display(text) for text in delta.add],
    }

"""Hostile input files: each is rejected by the bound or rule meant for it, cleanly and fast.

The loader bounds its input (``MAX_FILE_BYTES``, ``MAX_NODES`` values after alias
expansion, ``MAX_DEPTH`` levels of nesting); the tests right at those bounds show they are
where the code says, and the corpus (billion laughs, a recursive alias, 10 MB, deep nesting,
half a million documents, binary garbage, tags that run code, ...) shows each hostile shape
stopped by its rule, through ``pe-plan validate`` and ``pe-plan plan`` run as a user runs
them, with a timeout: a hang fails the test.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from pe_plan.load import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES
from tests.conftest import REPO
from tests.reliability.cli import Workspace, check, in_process, in_subprocess, validate_and_plan
from tests.reliability.report import ReliabilityReport

STRETCH = (REPO / "examples" / "l2-stretch" / "openpe.yaml").read_text()
NODE_FILE = (REPO / "examples" / "layer2" / "nodes" / "node0.yaml").read_text()
MARKER = Path("/tmp/pe-plan-reliability-code-ran")


def billion_laughs() -> str:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 9):
        name, previous = chr(97 + i), chr(96 + i)
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]")
    return "\n".join(lines) + "\n"


def nested_lists(levels: int) -> str:
    """``a:`` holding ``levels`` lists, one in the other: the innermost value is at depth
    ``levels + 1`` (the document's mapping is depth 0)."""
    return "a: " + "[" * levels + "0" + "]" * levels + "\n"


def nested_mappings(levels: int) -> str:
    return "".join(f"{'  ' * i}k{i}:\n" for i in range(levels)) + f"{'  ' * levels}x\n"


def values(count: int) -> str:
    """A document of exactly ``count`` values (the mapping, two scalars, a list and items)."""
    return "apiVersion: x\nkind: y\nitems:\n" + "- 0\n" * (count - 4)


def padded(text: str, size: int) -> str:
    return text + "#" * (size - len(text.encode()) - 1) + "\n"


def with_password(password: str) -> str:
    return STRETCH.replace(
        "address: 192.168.11.2\n", f"address: 192.168.11.2\n      password: {password}\n"
    )


# Each input, and what its error must say (None: it is valid and must be accepted).
HOSTILE: dict[str, tuple[Callable[[], bytes], str | None]] = {
    "billion-laughs": (lambda: billion_laughs().encode(), "expands to more than"),
    "recursive-alias": (lambda: b"a: &a [*a]\n", "nests deeper than"),
    "deep-flow-nesting": (lambda: nested_lists(100_000).encode(), "nests"),
    "deep-block-nesting": (lambda: nested_mappings(1500).encode(), "nests"),
    "ten-megabytes": (lambda: padded(STRETCH, 10 * 1024 * 1024).encode(), "larger than 4 MiB"),
    "many-documents": (lambda: b"---\n{}\n" * 300_000, "expands to more than"),
    "many-values": (lambda: values(150_000).encode(), "unknown value"),
    "binary-garbage": (
        lambda: random.Random(8).randbytes(65_536),  # noqa: S311 - garbage, not a secret
        "not UTF-8",
    ),
    "utf-16": (lambda: STRETCH.encode("utf-16"), "not UTF-8"),
    "nul-byte": (lambda: STRETCH.replace("asn: 64514", "asn: 6\x004514").encode(), "YAML"),
    "duplicate-key": (
        lambda: STRETCH.replace("  asn: 64514\n", "  asn: 1\n  asn: 2\n").encode(),
        "duplicate key",
    ),
    "merge-key": (lambda: b"base: &b {x: 1}\nother:\n  <<: *b\n", "merge keys"),
    # A tag on a collection is not looked at; on a scalar it finds no constructor.
    "code-tag-on-list": (
        f'a: !!python/object/apply:os.mknod ["{MARKER}"]\n'.encode,
        "required field is missing",
    ),
    "code-tag-on-scalar": (
        f'a: !!python/object/apply:os.mknod "{MARKER}"\n'.encode,
        "could not determine a constructor",
    ),
    "empty-int-tag": (lambda: b'a: !!int ""\n', "is not a valid int"),
    "sign-only-int-tag": (lambda: b'a: !!int "-"\n', "is not a valid int"),
    "empty-float-tag": (lambda: b"a: !!float ''\n", "is not a valid float"),
    "bad-timestamp": (lambda: b"a: 2020-13-45\n", "is not a valid timestamp"),
    "huge-integer": (
        lambda: STRETCH.replace("vni: 210", "vni: " + "9" * 5000).encode(),
        "not a valid int",
    ),
    "nan-vni": (lambda: STRETCH.replace("vni: 210", "vni: .nan").encode(), "spec.vni: expected"),
    "empty-file": (lambda: b"", "file has no YAML document"),
    "only-comments": (lambda: b"# nothing\n---\n# still nothing\n", "file has no YAML document"),
    "list-document": (lambda: b"- a\n- b\n", "document is a list"),
    "node-file-as-config": (NODE_FILE.encode, "this is a node file"),
    "tab-indent": (
        lambda: STRETCH.replace("  asn: 64514", "\tasn: 64514").encode(),
        "YAML syntax error",
    ),
    "newline-in-name": (
        lambda: STRETCH.replace("name: stretch", 'name: "a\\nError: forged"').encode(),
        None,
    ),
    "newline-in-key": (
        lambda: STRETCH.replace("  vni: 210", '  "vni\\nError: forged": 210').encode(),
        "vni\\nError",
    ),
    "bidi-override": (
        lambda: STRETCH.replace("name: stretch", 'name: "str\\u202eetch"').encode(),
        None,
    ),
    "crlf": (lambda: STRETCH.replace("\n", "\r\n").encode(), None),
    "byte-order-mark": (("\ufeff" + STRETCH).encode, None),
    "password-with-unicode": (lambda: with_password("pässwörd-€").encode(), None),
    "one-long-line": (lambda: b"a: " + b"x" * (3 * 1024 * 1024) + b"\n", "required field"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_input_is_stopped_by_its_rule(
    reliability_report: ReliabilityReport, workspace: Workspace, name: str
) -> None:
    make, expected = HOSTILE[name]
    config = workspace.write(make(), f"{name}.yaml")
    validated = validate_and_plan(reliability_report, workspace, config, in_subprocess)
    if expected is None:
        assert validated.status == 0, validated.stderr
    else:
        assert validated.status == 1
        assert expected in validated.stderr
    assert not MARKER.exists()


def validated(report: ReliabilityReport, workspace: Workspace, text: str, name: str) -> str:
    """What ``validate`` says about ``text``, which it must accept or reject cleanly."""
    config = workspace.write(text.encode(), name)
    ended = in_process(["validate", "-f", str(config)])
    check(report, ended, [config])
    return ended.stderr


@pytest.mark.parametrize(
    ("make", "limit", "message"),
    [
        (lambda n: padded(STRETCH, n), MAX_FILE_BYTES, "larger than"),
        (values, MAX_NODES, "expands to more than"),
        (lambda n: nested_lists(n - 1), MAX_DEPTH, "nests deeper than"),
    ],
    ids=["file-bytes", "values", "depth"],
)
def test_the_bounds_are_where_the_code_says(
    reliability_report: ReliabilityReport,
    workspace: Workspace,
    make: Callable[[int], str],
    limit: int,
    message: str,
) -> None:
    at_limit = validated(reliability_report, workspace, make(limit), "at-limit.yaml")
    over_limit = validated(reliability_report, workspace, make(limit + 1), "over-limit.yaml")
    assert message not in at_limit  # accepted, or rejected for what it says, not its size
    assert message in over_limit
    assert over_limit.count("\n") == 1  # one line: the bound stops it before validation

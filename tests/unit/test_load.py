"""Load: positions of every path, and hostile or broken input failing fast as an InputError."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pe_plan.errors import InputError, Position
from pe_plan.load import MAX_FILE_BYTES, load_file, load_paths, load_text

TWO_DOCUMENTS = """\
# a comment first
apiVersion: openpe.openperouter.github.io/v1alpha1
kind: Underlay
metadata:
  name: underlay
spec:
  neighbors:
    - asn: 64512
      address: 192.168.11.2
    -
      asn: 64513
---
---
kind: L2VNI
spec: {vni: 110, hostmaster: {type: bridge}}
"""


def test_every_path_has_the_line_of_its_key() -> None:
    first, second = load_text(TWO_DOCUMENTS, "c.yaml")
    lines = {path: position.line for path, position in first.positions.items()}
    assert lines == {
        "": 2,
        "apiVersion": 2,
        "kind": 3,
        "metadata": 4,
        "metadata.name": 5,
        "spec": 6,
        "spec.neighbors": 7,
        "spec.neighbors.0": 8,
        "spec.neighbors.0.asn": 8,
        "spec.neighbors.0.address": 9,
        "spec.neighbors.1": 11,
        "spec.neighbors.1.asn": 11,
    }
    assert first.position == Position(file="c.yaml", line=2)
    assert second.positions["spec.hostmaster.type"] == Position(file="c.yaml", line=15)
    assert second.data == {"kind": "L2VNI", "spec": {"vni": 110, "hostmaster": {"type": "bridge"}}}


def test_scalars_are_resolved_as_yaml_does() -> None:
    (document,) = load_text("a: 110\nb: '110'\nc: true\nd:\ne: 1.5\n", "s.yaml")
    assert document.data == {"a": 110, "b": "110", "c": True, "d": None, "e": 1.5}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\nb:\n  c: 1\n  c: 2\n", "d.yaml:4: duplicate key 'c'"),
        ("a: [1\n", "d.yaml:2: YAML syntax error: expected ',' or ']', but got '<stream end>'"),
        ("- 1\n", "d.yaml:1: document is a list, expected a mapping"),
        ("just text\n", "d.yaml:1: document is a scalar, expected a mapping"),
        ("? [a]\n: 1\n", "d.yaml:1: expected a scalar"),
        ("1: a\n", "d.yaml:1: mapping key 1 is not a string"),
        ("a: !!python/object x\n", "d.yaml:1: could not determine a constructor"),
        ("a: 2020-13-45\n", "d.yaml:1: '2020-13-45' is not a valid timestamp; quote it"),
        ("a: !!int x\n", "d.yaml:1: 'x' is not a valid int"),
        ("a: !!bool x\n", "d.yaml:1: 'x' is not a valid bool"),
        ("a: !!timestamp x\n", "d.yaml:1: 'x' is not a valid timestamp"),
        ("a: &x {b: 1}\nc:\n  <<: *x\n", "d.yaml:3: YAML merge keys (<<) are not supported"),
        ("a: &a [*a]\n", "d.yaml:1: YAML nests deeper than 64 levels (a recursive alias?)"),
        ("a: " + "[" * 1000 + "]" * 1000 + "\n", "d.yaml: YAML nests too deeply"),
        ("a: !!binary zz\n", "d.yaml:1: failed to decode base64 data"),
        ("# only a comment\n---\n", "d.yaml:1: file has no YAML document"),
        ("", "d.yaml:1: file has no YAML document"),
    ],
)
def test_broken_yaml_is_one_input_error(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        load_text(text, "d.yaml")
    assert caught.value.message.startswith(message)


def test_an_alias_bomb_is_bounded() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    lines += [
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]" for i in range(8)
    ]
    started = time.monotonic()
    with pytest.raises(InputError, match="expands to more than 200000 values"):
        load_text("\n".join(lines) + "\n", "bomb.yaml")
    assert time.monotonic() - started < 10


def test_binary_garbage_is_an_input_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.yaml"
    garbage.write_bytes(b"kind: L2VNI\n\xff\xfe\x00\x89PNG")
    with pytest.raises(InputError, match=r"garbage\.yaml: not UTF-8 text \(byte 12\)"):
        load_file(garbage)


def test_control_characters_are_an_input_error(tmp_path: Path) -> None:
    text = tmp_path / "control.yaml"
    text.write_bytes(b"kind: L2\x00VNI\n")
    with pytest.raises(InputError, match="special characters are not allowed"):
        load_file(text)


def test_a_file_larger_than_the_limit_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(InputError, match="file is larger than 4 MiB"):
        load_file(big)


def test_a_directory_loads_its_yaml_files_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "b.yml").write_text("kind: second\n")
    (tmp_path / "a.yaml").write_text("kind: first\n---\nkind: also-first\n")
    (tmp_path / "c.txt").write_text("kind: ignored\n")
    (tmp_path / "d.yaml").mkdir()
    documents = load_paths([tmp_path])
    assert [d.data["kind"] for d in documents] == ["first", "also-first", "second"]
    assert documents[2].position == Position(file=str(tmp_path / "b.yml"), line=1)


def test_a_directory_without_yaml_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing\n")
    with pytest.raises(InputError, match=r"directory has no \.yaml or \.yml file") as caught:
        load_paths([tmp_path])
    assert caught.value.hint


def test_a_missing_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or directory"):
        load_paths([tmp_path / "missing.yaml"])


def test_an_unreadable_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        load_file(tmp_path)

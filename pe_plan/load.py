"""Load: YAML files and directories into plain documents that remember file and line.

The only stage that reads config files. Every mapping key and every value of a document
gets a :class:`~pe_plan.errors.Position`, keyed by its dotted path (``spec.neighbors.0``),
so that validation can point at the exact line. Input is bounded (file size, number of
nodes after alias expansion) so that hostile YAML fails fast instead of hanging.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import yaml

from pe_plan.errors import InputError, Position

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_NODES = 200_000
MAX_DEPTH = 64
YAML_SUFFIXES = (".yaml", ".yml")
# libyaml's parser (when PyYAML was built with it, as Debian's and the wheels are) composes
# 1000 VNIs in 0.15 s where the pure-Python one takes 0.8 s; both give the same nodes and marks.
_PARSER = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


class _FastLoader(_PARSER):  # type: ignore[misc,valid-type]
    """The parser, with the tag of each distinct scalar resolved once.

    Even libyaml's composer calls the Python resolver for every scalar, a regular-expression
    match each (a third of the composing at 1000 VNIs), while a config repeats the same keys
    and values thousands of times. The tag depends on nothing but the arguments.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._tags: dict[tuple[type[yaml.Node], str | None, tuple[bool, bool]], str] = {}

    def resolve(self, kind: type[yaml.Node], value: str | None, implicit: tuple[bool, bool]) -> str:
        key = (kind, value, implicit)
        tag = self._tags.get(key)
        if tag is None:
            tag = self._tags[key] = super().resolve(kind, value, implicit)
        return tag


_STR_TAG = "tag:yaml.org,2002:str"


class Document(msgspec.Struct, frozen=True):
    """One YAML document: its data as plain Python values and the position of each path."""

    position: Position
    data: dict[str, Any]
    positions: dict[str, Position]


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given, directories as their ``*.yaml``/``*.yml`` files in name order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in YAML_SUFFIXES and p.is_file())
            if not found:
                raise InputError(
                    f"{path}: directory has no .yaml or .yml file",
                    hint="point -f at a YAML file or at a directory that holds some",
                )
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise InputError(f"{path}: no such file or directory")
    return files


def load_paths(paths: list[Path]) -> list[Document]:
    """Every document of every file, in order."""
    documents: list[Document] = []
    for file in expand_paths(paths):
        documents.extend(load_file(file))
    return documents


def load_file(path: Path) -> list[Document]:
    name = str(path)
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise InputError(f"{name}: cannot read: {err.strerror}") from err
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(f"{name}: file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"{name}: not UTF-8 text (byte {err.start})") from err
    return load_text(text, name)


def load_text(text: str, name: str) -> list[Document]:
    try:
        nodes = _compose(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = err.problem or err.context or "invalid YAML"
        raise InputError(f"{name}:{line}: YAML syntax error: {problem}") from err
    except yaml.YAMLError as err:
        raise InputError(f"{name}: YAML error: {_one_line(str(err))}") from err
    except RecursionError as err:
        raise InputError(f"{name}: YAML nests too deeply") from err
    builder = _Builder(name)  # one per file: MAX_NODES bounds the file, not each document
    documents = [_document(node, builder) for node in nodes if not _is_empty(node)]
    if not documents:
        raise InputError(f"{name}:1: file has no YAML document")
    return documents


def _compose(text: str) -> list[yaml.Node]:
    try:
        return list(yaml.compose_all(text, Loader=_FastLoader))
    except yaml.YAMLError:
        # libyaml words its errors its own way; the pure-Python parser states the same
        # problem as the messages documented and tested here (and only broken input pays).
        return list(yaml.compose_all(text, Loader=yaml.SafeLoader))


def _is_empty(node: yaml.Node | None) -> bool:
    return node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"))


def _document(node: yaml.Node, builder: _Builder) -> Document:
    position = _position(builder.name, node)
    if not isinstance(node, yaml.MappingNode):
        kind = "a list" if isinstance(node, yaml.SequenceNode) else "a scalar"
        raise InputError(
            f"{position}: document is {kind}, expected a mapping with apiVersion, kind, "
            "metadata and spec"
        )
    data, positions = builder.build_document(node)
    if not isinstance(data, dict):  # pragma: no cover - guarded by the isinstance above
        raise InputError(f"{position}: document is not a mapping")
    return Document(position=position, data=data, positions=positions)


class _Builder:
    """Turns composed node trees into Python values, recording positions per path.

    ``count`` goes on across the documents of a file: half a million tiny documents are as
    hostile as one that expands to a million values.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.positions: dict[str, Position] = {}
        self.count = 0
        # Only scalars go through the loader's constructor (resolving int, bool, null...).
        self._constructor = yaml.SafeLoader("")

    def build_document(self, node: yaml.Node) -> tuple[Any, dict[str, Position]]:
        """One document's values and the position of each of its paths."""
        self.positions = {}
        return self.build(node, ""), self.positions

    def build(self, node: yaml.Node, path: str, depth: int = 0) -> Any:
        self.count += 1
        if depth > MAX_DEPTH:
            raise InputError(
                f"{_position(self.name, node)}: YAML nests deeper than {MAX_DEPTH} levels "
                "(a recursive alias?)"
            )
        if self.count > MAX_NODES:
            raise InputError(
                f"{_position(self.name, node)}: file expands to more than {MAX_NODES} "
                "values (YAML aliases, or a great many documents?)"
            )
        self.positions[path] = _position(self.name, node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [
                self.build(item, _join(path, str(i)), depth + 1)
                for i, item in enumerate(node.value)
            ]
        return self._scalar(node)

    def _mapping(self, node: yaml.MappingNode, path: str, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise InputError(
                    f"{_position(self.name, key_node)}: YAML merge keys (<<) are not supported"
                )
            key = self._scalar(key_node)
            if not isinstance(key, str):
                raise InputError(
                    f"{_position(self.name, key_node)}: mapping key {key!r} is not a string"
                )
            if key in result:
                raise InputError(f"{_position(self.name, key_node)}: duplicate key {key!r}")
            child = _join(path, key)
            result[key] = self.build(value_node, child, depth + 1)
            # A key's own line is what users look for, not the line its value starts on.
            self.positions[child] = _position(self.name, key_node)
        return result

    def _scalar(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise InputError(f"{_position(self.name, node)}: expected a scalar")
        if node.tag == _STR_TAG:
            return node.value  # what the constructor returns for a string, without its dispatch
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.YAMLError as err:
            raise InputError(f"{_position(self.name, node)}: {_one_line(str(err))}") from err
        except (ValueError, KeyError, AttributeError, IndexError) as err:
            # PyYAML's constructors raise these for a value that does not fit its (possibly
            # implicit) tag: `2020-13-45` looks like a timestamp, `!!int x` is not an int,
            # `!!int ""` or `!!float -` index an empty string.
            tag = node.tag.rpartition(":")[2]
            raise InputError(
                f"{_position(self.name, node)}: {node.value!r} is not a valid {tag}; quote it "
                "if it is meant as a string"
            ) from err


def _join(path: str, part: str) -> str:
    return f"{path}.{part}" if path else part


def _position(name: str, node: yaml.Node) -> Position:
    return Position(file=name, line=node.start_mark.line + 1)


def _one_line(text: str) -> str:
    return " ".join(text.split())

"""The dialect models: committed JSON Schemas up to date, examples accepted, and check().

The examples are checked against the generated JSON Schemas with a small validator for the
keywords msgspec emits, so the published schemas are known to accept real configs (and to
reject what pe-plan rejects structurally).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest

from pe_plan import schema
from pe_plan.errors import ValidationError
from pe_plan.load import load_paths, load_text
from pe_plan.validate import validate
from tests.conftest import REPO

SCHEMAS = REPO / "schemas"
EXAMPLE_FILES = sorted((REPO / "examples").glob("*/openpe.yaml"))
NODE_FILES = sorted((REPO / "examples").glob("*/nodes/node*.yaml"))
MODELS = [
    model
    for model in vars(schema).values()
    if isinstance(model, type) and issubclass(model, schema.Model) and model is not schema.Model
]


def test_committed_schemas_are_up_to_date() -> None:
    expected = schema.schema_files()
    committed = {path.name: path.read_text() for path in SCHEMAS.glob("*.json")}
    stale = sorted(name for name in expected if committed.get(name) != expected[name])
    assert not stale, f"regenerate with `python -m pe_plan.schema`: {stale}"
    assert sorted(committed) == sorted(expected)


def test_the_entry_point_writes_every_schema(tmp_path: Path) -> None:
    assert schema.main([str(tmp_path)]) == 0
    written = {path.name: path.read_text() for path in tmp_path.iterdir()}
    assert written == schema.schema_files()
    assert all(text.endswith("}\n") for text in written.values())


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.parent.name for p in EXAMPLE_FILES])
def test_examples_match_the_json_schema_of_their_dialect(path: Path) -> None:
    for document in load_paths([path]):
        dialect = schema.DIALECTS[document.data["apiVersion"]]
        published = json.loads((SCHEMAS / dialect.file_name).read_text())
        assert json_schema_errors(document.data, published, published) == []


@pytest.mark.parametrize(
    "path", NODE_FILES, ids=[f"{p.parent.parent.name}/{p.name}" for p in NODE_FILES]
)
def test_node_files_match_the_node_file_schema(path: Path) -> None:
    published = json.loads((SCHEMAS / "node-file.json").read_text())
    (document,) = load_paths([path])
    assert json_schema_errors(document.data, published, published) == []


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        (("spec", "vni"), 0, "minimum"),
        (("spec", "vni"), "110", "type"),
        (("spec", "hostmastr"), {}, "additionalProperties"),
        (("kind",), "L2Vni", "enum"),
        (("spec", "hostmaster", "name"), "br.0", "pattern"),
    ],
)
def test_the_json_schema_rejects_what_validate_rejects(
    path: tuple[str, ...], value: Any, where: str
) -> None:
    (document,) = [
        d for d in load_paths([REPO / "examples/layer2/openpe.yaml"]) if d.data["kind"] == "L2VNI"
    ]
    data = json.loads(json.dumps(document.data))
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    published = json.loads((SCHEMAS / schema.LEGACY.file_name).read_text())
    assert json_schema_errors(data, published, published) == [f"anyOf: {data!r} matches no option"]
    errors = json_schema_errors(data, published["$defs"]["LegacyL2Vni"], published)
    assert any(error.startswith(where) for error in errors), errors
    with pytest.raises(ValidationError) as caught:
        validate(load_text(json.dumps(data), "l2vni.yaml"))
    assert ".".join(path) in [problem.field for problem in caught.value.problems]


def json_schema_errors(value: Any, node: dict[str, Any], root: dict[str, Any]) -> list[str]:
    """Violations of the JSON Schema keywords msgspec emits (enough for these schemas)."""
    if "$ref" in node:
        name = node["$ref"].removeprefix("#/$defs/")
        return json_schema_errors(value, root["$defs"][name], root)
    if "anyOf" in node:
        options = [option for option in node["anyOf"] if option != {"type": "null"}]
        if value is not None and len(options) == 1:
            # An optional field: what is wrong is what is wrong with its one real type.
            return json_schema_errors(value, options[0], root)
        if any(not json_schema_errors(value, option, root) for option in node["anyOf"]):
            return []
        return [f"anyOf: {value!r} matches no option"]
    errors: list[str] = []
    expected = node.get("type")
    if expected is not None and not _has_type(value, expected):
        return [f"type: {value!r} is not {expected}"]
    if "enum" in node and value not in node["enum"]:
        errors.append(f"enum: {value!r}")
    if isinstance(value, int) and not isinstance(value, bool):
        if value < node.get("minimum", value):
            errors.append(f"minimum: {value}")
        if value > node.get("maximum", value):
            errors.append(f"maximum: {value}")
    if isinstance(value, str):
        if len(value) > node.get("maxLength", len(value)) or len(value) < node.get("minLength", 0):
            errors.append(f"length: {value!r}")
        if "pattern" in node and not re.search(node["pattern"], value):
            errors.append(f"pattern: {value!r}")
    if isinstance(value, list):
        if not node.get("minItems", 0) <= len(value) <= node.get("maxItems", len(value)):
            errors.append(f"items: {len(value)}")
        for item in value:
            errors.extend(json_schema_errors(item, node.get("items", {}), root))
    if isinstance(value, dict):
        properties = node.get("properties", {})
        errors.extend(f"required: {key}" for key in node.get("required", ()) if key not in value)
        for key, item in value.items():
            if key in properties:
                errors.extend(json_schema_errors(item, properties[key], root))
            elif node.get("additionalProperties") is False:
                errors.append(f"additionalProperties: {key}")
            elif isinstance(node.get("additionalProperties"), dict):
                errors.extend(json_schema_errors(item, node["additionalProperties"], root))
    return errors


def _has_type(value: Any, expected: str) -> bool:
    checks = {
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "null": value is None,
    }
    return checks[expected]


@pytest.mark.parametrize("model", MODELS, ids=[m.__name__ for m in MODELS])
def test_refused_and_renamed_keys_are_not_fields(model: type[schema.Model]) -> None:
    fields = {f.encode_name for f in msgspec.structs.fields(model)}
    for key in [*model.UNSUPPORTED, *model.RENAMED]:
        name, _, value = key.partition("=")
        # An enum value is refused on a real field; a refused key must not be one.
        assert (name in fields) == bool(value), key


def test_check_reports_every_difference_with_its_path() -> None:
    data = {
        "asn": 0,
        "vtepcidr": "100.65.0.0/24",
        "nics": ["toswitch", 7],
        "neighbors": [{"asn": 64512, "address": "192.168.11.2", "holdtime": 3}],
        "isis": {},
    }
    assert schema.check(data, schema.LegacyUnderlaySpec, "spec") == [
        ("spec.asn", "expected an ASN from 1 to 4294967295, got 0"),
        ("spec.nics.1", "expected a string, got 7; put it in quotes"),
        ("spec.neighbors.0.holdtime", "unknown field; did you mean `holdTime`?"),
        (
            "spec.isis",
            (
                "unknown field; valid fields here: `asn`, `vtepcidr`, `routeridcidr`, "
                "`nics`, `neighbors`"
            ),
        ),
    ]


def test_check_accepts_what_msgspec_converts() -> None:
    data = {"type": "LinuxBridge", "linuxBridge": {"lifecycle": "External", "name": "br0"}}
    assert schema.check(data, schema.HostMaster) == []
    converted = msgspec.convert(data, schema.HostMaster)
    assert converted.linux_bridge is not None
    assert converted.linux_bridge.name == "br0"


def test_check_never_shows_a_secret() -> None:
    findings = schema.check({"asn": 1, "address": "::1", "password": "a b"}, schema.Neighbor)
    assert findings == [
        (
            "password",
            "expected a password of at most 128 characters without whitespace, got a string",
        )
    ]


@pytest.mark.parametrize(
    ("word", "choices", "match"),
    [
        ("hostmastr", ["hostmaster", "vni"], "hostmaster"),
        ("l2vni", ["L2VNI", "L3VNI"], "L2VNI"),
        ("zzz", ["vni"], None),
    ],
)
def test_suggest(word: str, choices: list[str], match: str | None) -> None:
    assert schema.suggest(word, choices) == match

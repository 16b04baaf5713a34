"""The schema ``/api/schema/`` serves is written for integrators and typed as the API answers:
every operation says what it does and documents its failures in the one error shape, fields
have their real types, and the request examples are valid requests.

(tests/test_api_schema_fuzz.py checks the same schema against a live server.)"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from rest_framework import serializers
from rest_framework.views import APIView

_METHODS = {"get", "put", "post", "patch", "delete"}
ERROR_REF = "#/components/schemas/Error"
# Fields whose value is any JSON value on purpose (an agent version diff's old and new value,
# what a tool answered).
ANY_JSON_FIELDS = {
    ("FieldChange", "old"),
    ("FieldChange", "new"),
    ("ToolInvocation", "result"),
    ("ToolExecution", "result"),
}
# Path parameters that name something rather than identify a row (a tool by its name).
STRING_PATH_PARAMETERS = {("POST /api/v1/integrations/{id}/tools/{tool}/execute/", "tool")}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document, renderer_context={}))


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in _METHODS:
                yield f"{method.upper()} {path}", operation


def test_every_operation_says_what_it_does(schema):
    undescribed = {
        name
        for name, operation in operations(schema)
        if not operation.get("summary") or not operation.get("description")
    }

    assert sorted(undescribed) == [], (
        "Give each operation extend_schema(summary=..., description=...), written for integrators."
    )


def test_no_docstring_reaches_the_schema(schema):
    """Docstrings are written for maintainers; descriptions are given with extend_schema."""
    from django.urls import get_resolver

    text = json.dumps(schema)
    classes = {
        cls
        for pattern in _url_patterns(get_resolver().url_patterns)
        if (cls := getattr(getattr(pattern, "callback", None), "cls", None)) is not None
        and issubclass(cls, APIView)
    }
    serializer_classes = {
        cls
        for module in {inspect.getmodule(view) for view in classes}
        for _name, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, serializers.BaseSerializer)
    }
    leaked = [
        cls.__qualname__
        for cls in classes | serializer_classes
        if cls.__doc__ and json.dumps(inspect.cleandoc(cls.__doc__))[1:-1] in text
    ]

    assert leaked == []


def _url_patterns(patterns: list) -> Iterator[Any]:
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            yield from _url_patterns(pattern.url_patterns)
        else:
            yield pattern


def test_every_failure_answers_the_error_shape(schema):
    other_shapes = [
        f"{name} {status}"
        for name, operation in operations(schema)
        for status, response in operation["responses"].items()
        if int(status) >= 400
        and response.get("content", {}).get("application/json", {}).get("schema")
        != {"$ref": ERROR_REF}
    ]

    assert other_shapes == []
    error = schema["components"]["schemas"]["ErrorBody"]
    assert set(error["required"]) == {"code", "message", "details", "request_id"}


def test_every_operation_documents_the_failures_it_can_answer(schema):
    missing = []
    for name, operation in operations(schema):
        documented = set(operation["responses"])
        parameters = operation.get("parameters", [])
        expected = {"401", "403", "429"}
        if "requestBody" in operation or any(p["in"] == "query" for p in parameters):
            expected.add("400")
        if "requestBody" in operation:
            expected |= {"413", "415"}
        if any(p["in"] == "path" for p in parameters):
            expected.add("404")
        if expected - documented:
            missing.append(f"{name}: {sorted(expected - documented)}")

    assert missing == []


def test_no_field_is_left_untyped(schema):
    untyped = [
        f"{component}.{field}"
        for component, definition in schema["components"]["schemas"].items()
        for field, property_schema in definition.get("properties", {}).items()
        if (component, field) not in ANY_JSON_FIELDS
        and not {"type", "$ref", "allOf", "oneOf", "anyOf"} & set(property_schema)
    ]

    assert untyped == []


def test_json_and_nullable_fields_have_the_types_the_api_answers(schema):
    components = schema["components"]["schemas"]
    agent = components["Agent"]["properties"]
    document = components["Document"]["properties"]

    assert agent["tools"]["type"] == "array"
    assert agent["tools"]["items"]["type"] == "string"
    assert agent["end_call_phrases"]["items"]["type"] == "string"
    assert agent["provider_config"]["type"] == "object"
    assert agent["created_by"]["nullable"] is True
    assert document["current_version"] == {**document["current_version"], "type": "integer"}
    assert document["current_version"]["nullable"] is True
    assert document["metadata"]["type"] == "object"


def test_times_of_day_are_documented_as_the_api_reads_and_writes_them(schema):
    """OpenAPI's ``format: time`` requires a UTC offset, which DRF neither writes nor needs."""
    window = schema["components"]["schemas"]["Organization"]["properties"]["calling_window_start"]

    assert '"format": "time"' not in json.dumps(schema)
    assert jsonschema.Draft7Validator({"pattern": window["pattern"]}).is_valid("09:00:00")
    assert jsonschema.Draft7Validator({"pattern": window["pattern"]}).is_valid("18:30")
    assert not jsonschema.Draft7Validator({"pattern": window["pattern"]}).is_valid("25:00")


def test_ids_in_paths_are_integers(schema):
    string_ids = [
        f"{name} {parameter['name']}"
        for name, operation in operations(schema)
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "path"
        and parameter["schema"].get("type") != "integer"
        and (name, parameter["name"]) not in STRING_PATH_PARAMETERS
    ]

    assert string_ids == []


def test_request_examples_are_valid_requests(schema):
    definitions = _json_schema(schema["components"]["schemas"], mapping=True)
    examples = []
    for name, operation in operations(schema):
        for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
            for example in content.get("examples", {}).values():
                validator = jsonschema.Draft7Validator(
                    {"definitions": definitions, **_json_schema(content["schema"])},
                    format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER,
                )
                errors = [error.message for error in validator.iter_errors(example["value"])]
                examples.append((f"{name} {media_type} {example['summary']}", errors))

    assert examples, "no operation has a request example"
    assert [(example, errors) for example, errors in examples if errors] == []


def test_the_description_points_integrators_to_the_guide(schema):
    assert "docs/api.md" in schema["info"]["description"]


def _json_schema(node: Any, *, mapping: bool = False) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema (draft 7): ``nullable`` becomes a null
    alternative and component references point at ``definitions``."""
    if mapping:
        return {key: _json_schema(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("nullable", "readOnly", "writeOnly", "example"):
            continue
        if key == "$ref":
            converted[key] = value.replace("#/components/schemas/", "#/definitions/")
        elif key == "properties":
            converted[key] = _json_schema(value, mapping=True)
        else:
            converted[key] = _json_schema(value)
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted

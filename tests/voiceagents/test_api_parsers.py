"""The API's JSON parser (voiceagents.api.parsers): any nesting depth is a 400, never a 500."""

from __future__ import annotations

import json

import pytest

from voiceagents.api.parsers import MAX_JSON_DEPTH, json_depth

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(org_a, make_api_key, bearer):
    client = bearer(make_api_key(org_a, "admin"))
    client.raise_request_exception = False
    return client


def nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    "body",
    ["[" * 1_000 + "]" * 1_000, '{"a":' * 100_000 + "1" + "}" * 100_000],
    ids=["arrays-1000-deep", "objects-100000-deep"],
)
def test_json_nested_a_thousand_levels_deep_is_a_parse_error(admin, body):
    response = admin.post("/api/v1/agents/", body, content_type="application/json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "parse_error"
    assert f"more than {MAX_JSON_DEPTH} levels" in error["message"]


def test_json_just_past_the_depth_limit_is_refused_and_at_it_is_read(admin, in_org_a):
    too_deep = {"name": "Deep", "provider_config": nested(MAX_JSON_DEPTH)}
    at_limit = {"name": "Deep", "provider_config": nested(MAX_JSON_DEPTH - 1)}

    refused = admin.post("/api/v1/agents/", json.dumps(too_deep), content_type="application/json")
    read = admin.post("/api/v1/agents/", json.dumps(at_limit), content_type="application/json")

    assert refused.json()["error"]["code"] == "parse_error"
    # Read: the agent's own rules then refuse the unknown provider setting.
    assert read.json()["error"]["code"] == "validation_error"
    assert "provider_config" in read.json()["error"]["details"]["fields"]


@pytest.mark.parametrize(
    ("value", "depth"),
    [(1, 0), ("x", 0), ([], 1), ({"a": [1, {"b": []}]}, 4), ([[[]], []], 3)],
)
def test_json_depth_counts_containers(value, depth):
    assert json_depth(value) == depth

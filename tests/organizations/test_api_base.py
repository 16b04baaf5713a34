"""What the API base (organizations.api.base) guarantees on every route of the schema: OPTIONS
answers, a malformed id is a JSON 404, and no NUL character gets past the boundary."""

from __future__ import annotations

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django_tenants.utils import tenant_context
from drf_spectacular.generators import SchemaGenerator

from tests.isolation import MISSING_ID, load_registrations
from voiceagents.exceptions import ApplicationError

pytestmark = pytest.mark.django_db

_HTTP_METHODS = ("get", "post", "patch", "delete")
_PARAMETER = re.compile(r"\{(\w+)\}")
BAD_IDS = ("abc", "1.5", "-1", "9" * 30)
# Path parameters that are names, not ids: any string may name an MCP server's tool, and
# whether it exists is the server's answer (tests/integrations/test_mcp_tools.py covers an
# unknown tool). tests/test_openapi_schema.py keeps the same list.
NAME_PARAMETERS = {("/api/v1/integrations/{id}/tools/{tool}/execute/", "tool")}


def schema_paths() -> dict[str, list[str]]:
    """Every path of the API's schema -> its methods."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        path: [method for method in item if method in _HTTP_METHODS]
        for path, item in schema["paths"].items()
    }


PATHS = schema_paths()
DETAIL_PATHS = sorted(path for path in PATHS if _PARAMETER.search(path))


@pytest.fixture
def real_ids(org_a) -> dict[str, str]:
    """A real row of alpha for each resource of the isolation contract (tests/isolation.py),
    by the collection its detail URL names (``agents``, ``documents``, ``members``...)."""
    ids = {}
    with tenant_context(org_a):
        for resource in load_registrations():
            try:
                with transaction.atomic():
                    pk = resource.create(org_a)
            except ApplicationError:
                # Two creators may want the same unique row (a phone number): the second
                # collection is then filled with an id that names nothing, which is enough
                # for what these tests prove.
                continue
            detail = resource.detail_url(org_a, pk).strip("/").split("/")
            ids[detail[-2]] = str(pk)
            # A nested row's URL also names its parents: /knowledge-bases/1/documents/2/.
            for collection, value in zip(detail[2:-2:2], detail[3:-2:2], strict=True):
                ids.setdefault(f"{collection}/{detail[-2]}", value)
    return ids


def fill(path: str, ids: dict[str, str], **override: str) -> str:
    """``path`` with each ``{parameter}`` replaced by a real id (``override`` first; a version
    number is 1; a collection without a registered resource gets an id that names nothing)."""
    segments = path.strip("/").split("/")
    out = []
    for index, segment in enumerate(segments):
        match = _PARAMETER.fullmatch(segment)
        if match is None:
            out.append(segment)
            continue
        collection = segments[index - 1]
        child = segments[index + 1] if index + 1 < len(segments) else ""
        if match[1] in override:
            value = override[match[1]]
        elif match[1] == "number":
            value = "1"
        else:
            value = ids.get(f"{collection}/{child}") or ids.get(collection) or str(MISSING_ID)
        out.append(value)
    return "/" + "/".join(out) + ("/" if path.endswith("/") else "")


@pytest.fixture
def owner(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "owner"))


def test_the_schema_has_collection_action_and_detail_routes():
    assert "/api/v1/agents/" in PATHS
    assert "/api/v1/agents/{id}/duplicate/" in PATHS
    assert "/api/v1/knowledge-bases/{kb_id}/documents/{id}/versions/{number}/" in PATHS


@pytest.mark.parametrize("path", sorted(PATHS))
def test_options_answers_on_every_route_of_the_schema(path, owner, real_ids):
    # DRF's OPTIONS checks the permissions of each method it describes on a copy of the
    # request: a collection or an action route (with POST) used to answer 500.
    owner.raise_request_exception = False
    response = owner.options(fill(path, real_ids))

    assert response.status_code == 200, (path, response.content[:300])
    assert response.json()["name"]


@pytest.mark.parametrize("path", DETAIL_PATHS)
def test_a_malformed_id_in_any_place_of_any_route_is_a_json_404(path, owner, real_ids):
    owner.raise_request_exception = False
    ids = [name for name in _PARAMETER.findall(path) if (path, name) not in NAME_PARAMETERS]
    for name, bad_id in ((name, bad) for name in ids for bad in BAD_IDS):
        url = fill(path, real_ids, **{name: bad_id})
        for method in PATHS[path]:
            response = getattr(owner, method)(url, {}, format="json")

            assert response.status_code == 404, (method, url, response.content[:300])
            error = response.json()["error"]
            assert error["code"].endswith("not_found"), (method, url, error)
            assert set(error) == {"code", "message", "details", "request_id"}


# --- NUL characters ----------------------------------------------------------------------------


def nul_fields(response) -> dict:
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    return error["details"]["fields"]


def test_a_nul_in_a_query_parameter_is_refused_naming_the_parameter(owner):
    response = owner.get("/api/v1/agents/", {"name": "Sup\x00port"})

    assert nul_fields(response) == {"name": ["NUL characters (U+0000) are not allowed."]}


@pytest.mark.parametrize(
    ("metadata", "path"),
    [
        ({"team\x00": "support"}, "metadata.team\\u0000"),
        ({"tags": ["ok", "b\x00d"]}, "metadata.tags[1]"),
        ({"a": {"b": {"c": "\x00"}}}, "metadata.a.b.c"),
    ],
)
def test_a_nul_in_a_json_key_or_value_at_any_depth_is_refused_naming_its_path(
    owner, in_org_a, metadata, path
):
    from knowledge.models import Document
    from knowledge.services import knowledge_base_create

    kb = knowledge_base_create(name="Support")
    body = {"title": "Hours", "content": "Open 9 to 5.", "metadata": metadata}

    response = owner.post(
        f"/api/v1/knowledge-bases/{kb.pk}/documents/",
        json.dumps(body),
        content_type="application/json",
    )

    assert path in nul_fields(response)
    assert not Document.objects.exists()


def test_a_nul_in_a_form_field_is_refused_naming_the_field(owner, in_org_a):
    from knowledge.services import knowledge_base_create

    kb = knowledge_base_create(name="Support")
    upload = SimpleUploadedFile("hours.txt", b"Open 9 to 5.", "text/plain")

    response = owner.post(
        f"/api/v1/knowledge-bases/{kb.pk}/documents/",
        {"title": "Ho\x00urs", "file": upload},
        format="multipart",
    )

    assert nul_fields(response) == {"title": ["NUL characters (U+0000) are not allowed."]}


def test_the_input_rules_come_after_authentication(api_client):
    response = api_client.get("/api/v1/agents/", {"name": "\x00"})

    assert response.status_code == 401

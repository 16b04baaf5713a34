"""Tenants never see each other's data: the contract of tests/isolation.py, for every resource."""

from pathlib import Path

import pytest
from django_tenants.utils import tenant_context

from tests.isolation import (
    MISSING_ID,
    REGISTERED_BY,
    REGISTRATION_MODULES,
    RESOURCES,
    load_registrations,
)

pytestmark = pytest.mark.django_db

# The resources' registrations live with their apps' tests; importing them fills RESOURCES.
# A module that is missing or fails to import stops the collection of this file.
load_registrations()

ids = [resource.name for resource in RESOURCES]


@pytest.fixture
def b_row(request, org_b):
    resource = request.param
    with tenant_context(org_b):
        pk = resource.create(org_b)
        before = resource.snapshot(org_b, pk) if resource.snapshot else None
    return resource, pk, before


def _assert_unchanged(resource, org_b, pk, before):
    if resource.snapshot is None:
        return
    with tenant_context(org_b):
        assert resource.snapshot(org_b, pk) == before, f"{resource.name} of B was changed"


def _requests(resource, org, pk):
    yield "get", resource.detail_url(org, pk), None
    if resource.update_payload:
        yield "patch", resource.detail_url(org, pk), resource.update_payload
    if resource.can_delete:
        yield "delete", resource.detail_url(org, pk), None
    yield from resource.actions(org, pk)


def _strip(body):
    error = dict(body["error"])
    error.pop("request_id", None)
    return error


@pytest.mark.parametrize("b_row", RESOURCES, ids=ids, indirect=True)
def test_credential_of_a_on_main_host_cannot_reach_b(b_row, org_a, org_b, make_api_key, bearer):
    resource, pk, before = b_row
    client = bearer(make_api_key(org_a, "owner"))
    if resource.list_url is not None:
        listed = client.get(resource.list_url(org_a))
        assert listed.status_code == 200
        assert pk not in [item.get("id") for item in listed.json()["results"]] or pk == org_a.pk
    for method, url, payload in _requests(resource, org_b, pk):
        real = getattr(client, method)(url, payload, format="json")
        missing_url = url.replace(f"/{pk}/", f"/{MISSING_ID}/")
        missing = getattr(client, method)(missing_url, payload, format="json")
        assert real.status_code == 404, (method, url, real.status_code, real.content)
        assert _strip(real.json()) == _strip(missing.json()), "the answer reveals existence"
    _assert_unchanged(resource, org_b, pk, before)


@pytest.mark.parametrize("b_row", RESOURCES, ids=ids, indirect=True)
def test_credential_of_a_on_b_domain_is_refused(b_row, org_a, org_b, make_api_key, bearer):
    resource, pk, before = b_row
    client = bearer(make_api_key(org_a, "owner"), host="beta.localhost")
    urls = list(_requests(resource, org_b, pk))
    if resource.list_url is not None:
        urls.append(("get", resource.list_url(org_b), None))
    for method, url, payload in urls:
        real = getattr(client, method)(url, payload, format="json")
        missing = getattr(client, method)(
            url.replace(f"/{pk}/", f"/{MISSING_ID}/"), payload, format="json"
        )
        assert real.status_code == 403, (method, url, real.status_code)
        assert _strip(real.json()) == _strip(missing.json())
    _assert_unchanged(resource, org_b, pk, before)


@pytest.mark.parametrize("b_row", RESOURCES, ids=ids, indirect=True)
def test_jwt_of_a_member_naming_b_is_refused(b_row, org_a, org_b, make_member, make_jwt, bearer):
    resource, pk, before = b_row
    user = make_member(org_a, "owner")
    client = bearer(make_jwt(user, org_b))
    for method, url, payload in _requests(resource, org_b, pk):
        response = getattr(client, method)(url, payload, format="json")
        assert response.status_code == 403, (method, url, response.status_code)
    _assert_unchanged(resource, org_b, pk, before)


# --- the registrations themselves -------------------------------------------------------------


def test_a_missing_registration_module_is_an_error():
    with pytest.raises(ModuleNotFoundError, match="tests.no_such_app"):
        load_registrations(["tests.no_such_app.isolation"])


def test_every_apps_registration_module_is_loaded():
    tests_dir = Path(__file__).parent
    found = {f"tests.{path.parent.name}.isolation" for path in tests_dir.glob("*/isolation.py")}

    assert found == set(REGISTRATION_MODULES)


def test_every_registration_module_registers_a_resource():
    registrants = set(REGISTERED_BY.values())

    assert set(REGISTRATION_MODULES) <= registrants
    assert "tests.isolation" in registrants  # the organizations' own
    assert len(RESOURCES) == len(REGISTERED_BY)

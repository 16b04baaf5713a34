"""The API's filter backend (voiceagents.api.filters): a datetime filter takes any UTC offset,
and one PostgreSQL cannot take is converted, not a 500."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.isolation import load_registrations

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(org_a, make_api_key, bearer):
    client = bearer(make_api_key(org_a, "viewer"))
    client.raise_request_exception = False
    return client


@pytest.fixture
def call_at_16_utc(org_a, in_org_a):
    """A call of alpha created at 2020-01-01 16:00 UTC."""
    from calls.models import Call

    resource = next(r for r in load_registrations() if r.name == "call")
    pk = resource.create(org_a)
    Call.objects.filter(pk=pk).update(created_at=dt.datetime(2020, 1, 1, 16, 0, tzinfo=dt.UTC))
    return pk


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content[:300]
    return [row["id"] for row in response.json()["results"]]


def test_an_offset_beyond_what_postgresql_accepts_is_converted_to_utc(viewer, call_at_16_utc):
    # -16:30 is 16:30 UTC: after the call, so the call is before it and not after it.
    at = "2020-01-01T00:00:00-16:30"

    assert ids(viewer.get("/api/v1/calls/", {"created_before": at})) == [call_at_16_utc]
    assert ids(viewer.get("/api/v1/calls/", {"created_after": at})) == []
    assert ids(viewer.get("/api/v1/calls/", {"created_after": "2020-01-01T00:00:00-15:30"})) == [
        call_at_16_utc
    ]


@pytest.mark.parametrize("path", ["/api/v1/calls/", "/api/v1/messages/"])
@pytest.mark.parametrize("offset", ["+23:59", "-23:59", "-16:30", "+15:00"])
def test_every_datetime_filter_takes_any_offset(viewer, path, offset):
    for name in ("created_before", "created_after"):
        response = viewer.get(path, {name: f"2020-06-01T12:00:00{offset}"})

        assert response.status_code == 200, (path, name, response.content[:300])


def test_a_datetime_that_leaves_the_calendar_in_utc_is_a_400_naming_the_parameter(viewer):
    response = viewer.get("/api/v1/calls/", {"created_before": "9999-12-31T23:59:59-16:30"})

    assert response.status_code == 400
    fields = response.json()["error"]["details"]["fields"]
    assert fields == {
        "created_before": ["This date and time is out of range once converted to UTC."]
    }


def test_an_offset_python_cannot_read_is_a_400_naming_the_parameter(viewer):
    response = viewer.get("/api/v1/calls/", {"created_before": "2020-01-01T00:00:00+99:00"})

    assert response.status_code == 400
    assert "created_before" in response.json()["error"]["details"]["fields"]


def test_a_datetime_in_a_body_is_stored_in_utc(org_a, make_api_key, bearer):
    response = bearer(make_api_key(org_a, "admin")).post(
        "/api/v1/api-keys/",
        {"name": "ci", "role": "viewer", "expires_at": "2999-01-01T00:00:00-16:30"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["expires_at"] == "2999-01-01T16:30:00Z"

"""A batch's timeline (BatchEvent): GET /api/v1/batches/{id}/events/ (newest first,
paginated, filtered by kind, for viewers; another organization's batch is a 404) and the
timeline section of the batch's admin page (newest first, a page at a time)."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from calls.models import Batch, BatchEvent, BatchStatus, PhoneNumber
from calls.services.batch_rows import batch_event_record
from tests.calls.batch_support import make_batch

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(org_a, make_member, make_jwt, bearer):
    user = make_member(org_a, "member", email="mia@example.com")
    return bearer(make_jwt(user, org_a))


@pytest.fixture
def viewer(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "viewer"))


@pytest.fixture
def batch(alpha, batch_agent):
    with alpha():
        number = PhoneNumber.objects.get(number="+14155550100")
        return make_batch(agent=batch_agent, number=number, phones=2, name="June")


def record_events(batch, count, *, kind=BatchEvent.Kind.INFO, start=None):
    """``count`` events a second apart, oldest first, named info-0, info-1..."""
    start = start or timezone.now() - dt.timedelta(hours=1)
    events = []
    for i in range(count):
        event = batch_event_record(batch=batch, kind=kind, name=f"{kind}-{i}", payload={"i": i})
        BatchEvent.objects.filter(pk=event.pk).update(created_at=start + dt.timedelta(seconds=i))
        events.append(event)
    return events


def test_a_control_action_is_on_the_timeline_with_who_did_it(member, viewer, alpha, batch):
    with alpha():
        Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.RUNNING)
        record_events(batch, 1, kind=BatchEvent.Kind.STATUS)

    paused = member.post(f"/api/v1/batches/{batch.pk}/pause/", {"reason": "lunch"}, format="json")
    response = viewer.get(f"/api/v1/batches/{batch.pk}/events/")

    assert paused.status_code == 200, paused.content
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 2
    newest, oldest = body["results"]
    assert (newest["kind"], newest["name"], newest["payload"]) == (
        "action",
        "paused",
        {"reason": "lunch"},
    )
    assert newest["actor"] == "mia@example.com"
    assert set(newest) == {"id", "kind", "name", "payload", "actor", "created_at"}
    assert (oldest["name"], oldest["actor"]) == ("status-0", None)  # the dispatcher's


def test_events_are_newest_first_paginated_and_filtered_by_kind(viewer, alpha, batch):
    with alpha():
        record_events(batch, 5)
        record_events(batch, 2, kind=BatchEvent.Kind.ERROR, start=timezone.now())

    first = viewer.get(f"/api/v1/batches/{batch.pk}/events/?page_size=3").json()
    second = viewer.get(f"/api/v1/batches/{batch.pk}/events/?page_size=3&page=2").json()
    errors = viewer.get(f"/api/v1/batches/{batch.pk}/events/?kind=error").json()
    both = viewer.get(f"/api/v1/batches/{batch.pk}/events/?kind=error&kind=info").json()
    oldest_first = viewer.get(f"/api/v1/batches/{batch.pk}/events/?ordering=created_at").json()
    bad = viewer.get(f"/api/v1/batches/{batch.pk}/events/?kind=nope")

    assert first["count"] == 7 and first["next"] and first["previous"] is None
    assert [e["name"] for e in first["results"]] == ["error-1", "error-0", "info-4"]
    assert [e["name"] for e in second["results"]] == ["info-3", "info-2", "info-1"]
    assert [e["name"] for e in errors["results"]] == ["error-1", "error-0"]
    assert both["count"] == 7
    assert oldest_first["results"][0]["name"] == "info-0"
    assert bad.status_code == 400
    assert set(bad.json()) == {"error"}


def test_another_organizations_batch_events_are_not_found(
    viewer, alpha, batch, org_b, make_agent, make_number
):
    with tenant_context(org_b):
        agent = make_agent(name="B's caller")
        number = make_number("+14155550188", agent=agent)
        theirs = [make_batch(agent=agent, number=number, phones=1) for _ in range(3)]
        for their_batch in theirs:
            record_events(their_batch, 1, kind=BatchEvent.Kind.ERROR)
    with alpha():
        ours = set(Batch.objects.values_list("pk", flat=True))
        record_events(batch, 1)
    missing = next(b for b in theirs if b.pk not in ours)

    response = viewer.get(f"/api/v1/batches/{missing.pk}/events/")
    shared = viewer.get(f"/api/v1/batches/{batch.pk}/events/").json()

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "batch_not_found"
    assert [e["name"] for e in shared["results"]] == ["info-0"]  # alpha's only


def test_the_batch_page_shows_its_timeline_newest_first_a_page_at_a_time(
    alpha, batch, org_a, make_member
):
    with alpha():
        record_events(batch, 25)
    client = Client(HTTP_HOST="alpha.localhost")
    client.force_login(make_member(org_a, "viewer"))

    first = client.get(f"/admin/calls/batch/{batch.pk}/change/")
    second = client.get(f"/admin/calls/batch/{batch.pk}/change/?events_page=2")

    assert first.status_code == 200 and second.status_code == 200
    page_one = first.context["batch_events"]
    assert [e.name for e in page_one][:2] == ["info-24", "info-23"]
    assert len(page_one) == 20 and page_one.paginator.count == 25
    assert [e.name for e in second.context["batch_events"]] == [
        f"info-{i}" for i in range(4, -1, -1)
    ]
    html = first.content.decode()
    assert "Timeline (25 events, newest first)" in html
    assert html.index("info-24") < html.index("info-23")
    assert "?events_page=2#batch-timeline" in html
    assert "dispatcher" in html


def test_a_batch_page_without_events_says_so(alpha, batch, org_a, make_member):
    client = Client(HTTP_HOST="alpha.localhost")
    client.force_login(make_member(org_a, "viewer"))

    html = client.get(f"/admin/calls/batch/{batch.pk}/change/").content.decode()

    assert "Timeline (0 events, newest first)" in html
    assert "the batch has not been started" in html

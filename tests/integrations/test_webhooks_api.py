"""/api/v1/webhooks/ and /api/v1/webhook-deliveries/ end to end: the signing secret is in the
answer that made it (creation, rotation) and nowhere else (not in reads, the delivery log or
the logs); the test ping reaches the loopback receiver signed with it; the deliveries log is
filtered and paginated; redelivery sends the same event again; members and viewers are
refused; bad URLs come back in the one JSON error shape."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django_tenants.utils import tenant_context

from integrations import signing
from integrations.webhook_models import WebhookDelivery
from integrations.webhook_services import webhook_event_emit
from tests.integrations.webhook_support import make_endpoint

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]

URL = "/api/v1/webhooks/"
DELIVERIES = "/api/v1/webhook-deliveries/"


@pytest.fixture
def admin(org_a, make_api_key, bearer):
    return bearer(make_api_key(org_a, "admin"))


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) >= {"code", "message", "details"}
    assert body["error"]["code"] == code
    return body["error"]


def test_the_secret_is_shown_at_creation_and_never_again(admin, receiver, caplog):
    caplog.set_level(logging.DEBUG)

    created = admin.post(
        URL,
        {"url": receiver.url(), "event_types": ["call.ended"], "description": "CRM"},
        format="json",
    )
    body = created.json()
    secret = body["signing_secret"]
    receiver.secret = secret
    endpoint_id = body["id"]
    ping = admin.post(f"{URL}{endpoint_id}/test/", format="json")
    reads = [
        admin.get(URL),
        admin.get(f"{URL}{endpoint_id}/"),
        admin.patch(f"{URL}{endpoint_id}/", {"description": "CRM 2"}, format="json"),
        admin.get(f"{URL}{endpoint_id}/deliveries/"),
        admin.get(f"{DELIVERIES}{ping.json()['id']}/"),
        ping,
    ]

    assert created.status_code == 201, created.content
    assert secret.startswith(signing.SECRET_PREFIX) and len(secret) > 30
    assert body["signing_secret_last_four"] == secret[-4:]
    assert body["event_types"] == ["call.ended"] and body["enabled"] is True
    for response in reads:
        assert response.status_code == 200, response.content
        assert secret not in response.content.decode()
        assert 'signing_secret"' not in response.content.decode()
    assert reads[1].json()["signing_secret_last_four"] == secret[-4:]
    assert secret not in caplog.text
    assert secret[:-4] not in receiver.received[0].raw.decode()


def test_rotating_through_the_api_shows_the_new_secret_once_and_the_old_stops_signing(
    org_a, admin, receiver
):
    endpoint, old = make_endpoint(org_a, receiver, ["call.ended"])

    rotated = admin.post(f"{URL}{endpoint.pk}/rotate-secret/", format="json")
    new = rotated.json()["signing_secret"]
    stale = admin.post(f"{URL}{endpoint.pk}/test/", format="json")  # receiver still has old
    receiver.secret = new
    fresh = admin.post(f"{URL}{endpoint.pk}/test/", format="json")
    detail = admin.get(f"{URL}{endpoint.pk}/")

    assert rotated.status_code == 200 and new != old
    assert rotated.json()["signing_secret_last_four"] == new[-4:]
    assert stale.json()["status"] == "failed" and stale.json()["last_status_code"] == 401
    assert fresh.json()["status"] == "succeeded"
    assert [d.verified for d in receiver.received] == [False, True]
    assert new not in detail.content.decode() and old not in detail.content.decode()


def test_the_test_ping_is_delivered_signed_to_the_receiver(org_a, admin, receiver):
    endpoint, secret = make_endpoint(org_a, receiver, ["batch.completed"])

    answer = admin.post(f"{URL}{endpoint.pk}/test/", format="json")

    assert answer.status_code == 200, answer.content
    body = answer.json()
    [got] = receiver.received
    assert got.verified and got.status == 200
    assert got.body["type"] == "ping" and got.body["id"] == body["event_id"]
    assert got.body["data"]["endpoint_id"] == endpoint.pk
    assert got.headers["x-voiceagents-event-id"] == body["event_id"]
    assert body["event_type"] == "ping" and body["status"] == "succeeded"
    [attempt] = body["attempts"]
    assert attempt["ok"] and attempt["status_code"] == 200 and attempt["manual"]
    assert attempt["latency_ms"] >= 0 and '"ok"' in attempt["response_excerpt"]


def test_the_deliveries_log_is_filtered_and_paginated(
    org_a, admin, receiver, eager, django_capture_on_commit_callbacks
):
    endpoint, _secret = make_endpoint(org_a, receiver, ["call.ended", "call.failed"])
    other, _ = make_endpoint(org_a, receiver, ["call.ended"], path="/other")
    receiver.secret = ""  # every attempt fails (401): the deliveries stay pending/failed
    with tenant_context(org_a):
        pending = [webhook_event_emit("call.ended", {"call": {"id": n}}).event_id for n in range(3)]
        failed = webhook_event_emit("call.failed", {"call": {"id": 9}})
        WebhookDelivery.objects.filter(event=failed).update(status="failed")
        WebhookDelivery.objects.filter(event__event_id=pending[0]).update(
            created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        )

    first = admin.get(f"{URL}{endpoint.pk}/deliveries/", {"page_size": 2})
    second = admin.get(f"{URL}{endpoint.pk}/deliveries/", {"page_size": 2, "page": 2})
    by_type = admin.get(f"{URL}{endpoint.pk}/deliveries/", {"event_type": "call.failed"})
    by_status = admin.get(f"{URL}{endpoint.pk}/deliveries/", {"status": "failed"})
    by_id = admin.get(f"{URL}{endpoint.pk}/deliveries/", {"event_id": pending[1]})
    before = admin.get(
        f"{URL}{endpoint.pk}/deliveries/", {"created_before": "2026-06-01T00:00:00Z"}
    )
    after = admin.get(f"{URL}{endpoint.pk}/deliveries/", {"created_after": "2026-06-01T00:00:00Z"})
    bad = admin.get(f"{URL}{endpoint.pk}/deliveries/", {"status": "nope"})

    assert first.status_code == 200, first.content
    assert first.json()["count"] == 4 and first.json()["next"]
    ids = [d["event_id"] for d in first.json()["results"] + second.json()["results"]]
    assert ids == [failed.event_id, pending[2], pending[1], pending[0]]  # newest first
    assert {d["endpoint"] for d in first.json()["results"]} == {endpoint.pk}
    assert [d["event_id"] for d in by_type.json()["results"]] == [failed.event_id]
    assert [d["event_id"] for d in by_status.json()["results"]] == [failed.event_id]
    assert [d["event_id"] for d in by_id.json()["results"]] == [pending[1]]
    assert [d["event_id"] for d in before.json()["results"]] == [pending[0]]
    assert len(after.json()["results"]) == 3
    _error(bad, 400, "validation_error")
    assert other.pk != endpoint.pk


def test_redeliver_sends_the_same_event_again(
    org_a, admin, receiver, eager, django_capture_on_commit_callbacks
):
    make_endpoint(org_a, receiver, ["call.ended"])
    with tenant_context(org_a), django_capture_on_commit_callbacks(execute=True):
        event = webhook_event_emit("call.ended", {"call": {"id": 5}})
    with tenant_context(org_a):
        delivery = WebhookDelivery.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        answer = admin.post(f"{DELIVERIES}{delivery.pk}/redeliver/", format="json")
    detail = admin.get(f"{DELIVERIES}{delivery.pk}/")
    missing = admin.post(f"{DELIVERIES}999999/redeliver/", format="json")

    assert answer.status_code == 202, answer.content
    assert answer.json()["event_id"] == event.event_id
    assert receiver.event_ids == [event.event_id, event.event_id]
    assert all(d.verified for d in receiver.received)
    attempts = detail.json()["attempts"]
    assert [(a["number"], a["manual"], a["ok"]) for a in attempts] == [
        (1, False, True),
        (2, True, True),
    ]
    _error(missing, 404, "webhook_delivery_not_found")


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_members_and_viewers_are_refused(
    role, org_a, make_api_key, bearer, receiver, eager, django_capture_on_commit_callbacks
):
    endpoint, secret = make_endpoint(org_a, receiver, ["call.ended"])
    with tenant_context(org_a), django_capture_on_commit_callbacks(execute=True):
        webhook_event_emit("call.ended", {"call": {"id": 1}})
    with tenant_context(org_a):
        delivery = WebhookDelivery.objects.get()
    client = bearer(make_api_key(org_a, role))

    answers = [
        client.get(URL),
        client.get(f"{URL}{endpoint.pk}/"),
        client.post(URL, {"url": receiver.url(), "event_types": ["call.ended"]}, format="json"),
        client.patch(f"{URL}{endpoint.pk}/", {"enabled": False}, format="json"),
        client.delete(f"{URL}{endpoint.pk}/"),
        client.post(f"{URL}{endpoint.pk}/rotate-secret/", format="json"),
        client.post(f"{URL}{endpoint.pk}/test/", format="json"),
        client.get(f"{URL}{endpoint.pk}/deliveries/"),
        client.get(f"{DELIVERIES}{delivery.pk}/"),
        client.post(f"{DELIVERIES}{delivery.pk}/redeliver/", format="json"),
    ]

    for answer in answers:
        _error(answer, 403, "permission_denied")
        assert secret not in answer.content.decode()
    assert len(receiver.received) == 1
    with tenant_context(org_a):
        endpoint.refresh_from_db()
        assert endpoint.enabled and endpoint.signing_secret.reveal() == secret


@pytest.mark.parametrize(
    "url, problem",
    [
        ("http://example.com/hooks", "Use an https:// URL."),
        ("ftp://example.com/hooks", "Use an https:// URL."),
        ("https://user:pw@example.com/hooks", "not in the URL"),
        ("https:///hooks", "no host"),
    ],
)
def test_a_bad_url_is_refused_in_the_json_error_shape(admin, settings, url, problem):
    settings.INTEGRATION_URLS_ALLOW_HTTP = False  # the deployment's default

    answer = admin.post(URL, {"url": url, "event_types": ["call.ended"]}, format="json")

    error = _error(answer, 400, "validation_error")
    assert problem in error["details"]["fields"]["url"][0]
    assert admin.get(URL).json()["count"] == 0


def test_a_private_address_is_refused_when_the_endpoint_is_reached(admin, settings, receiver):
    # Where a host resolves is checked at each connection (it may change after creation),
    # so a private address is accepted as a URL and refused on the wire, every time.
    settings.INTEGRATION_URLS_ALLOW_PRIVATE = False
    created = admin.post(URL, {"url": receiver.url(), "event_types": ["call.ended"]}, format="json")

    ping = admin.post(f"{URL}{created.json()['id']}/test/", format="json")

    assert ping.status_code == 200
    assert ping.json()["status"] == "failed"
    [attempt] = ping.json()["attempts"]
    assert attempt["status_code"] is None
    assert "private, loopback or link-local" in attempt["error"]
    assert receiver.received == []


def test_unknown_event_types_are_refused(admin, receiver):
    answer = admin.post(
        URL, {"url": receiver.url(), "event_types": ["call.exploded"]}, format="json"
    )

    error = _error(answer, 400, "validation_error")
    assert "event_types" in error["details"]["fields"]

"""Webhooks in the organization's admin: an endpoint is added and changed through the services,
its signing secret shown once (after adding and after rotating) and never on a page again;
the test ping reaches the receiver; the delivery log is read only, newest first, each
delivery with its attempts; "Redeliver" sends one again; members and viewers see none of it."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from integrations.webhook_models import WebhookDelivery, WebhookEndpoint
from integrations.webhook_services import webhook_event_emit
from organizations.models import AuditEvent
from tests.integrations.webhook_support import make_endpoint

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]

ENDPOINTS = "/admin/integrations/webhookendpoint/"
DELIVERIES = "/admin/integrations/webhookdelivery/"
SECRET_RE = re.compile(r"keep it\): (\S+?)\s*<")


def _client(org, make_member, role: str) -> Client:
    client = Client(HTTP_HOST="alpha.localhost")
    client.force_login(make_member(org, role))
    return client


@pytest.fixture
def admin_client(org_a, make_member):
    return _client(org_a, make_member, "admin")


def _secret_in(page) -> str:
    match = SECRET_RE.search(page.content.decode())
    assert match, page.content.decode()[:3000]
    return match[1]


def test_an_endpoint_added_in_the_admin_shows_its_secret_once(org_a, admin_client, receiver):
    added = admin_client.post(
        f"{ENDPOINTS}add/",
        {
            "url": receiver.url(),
            "description": "CRM",
            "event_types": ["call.ended", "batch.completed"],
            "enabled": "on",
        },
        follow=True,
    )
    secret = _secret_in(added)
    with tenant_context(org_a):
        endpoint = WebhookEndpoint.objects.get()
        audit = list(
            AuditEvent.objects.filter(target_type="webhook_endpoint").values_list(
                "action", flat=True
            )
        )
    change = admin_client.get(f"{ENDPOINTS}{endpoint.pk}/change/")
    listing = admin_client.get(ENDPOINTS)

    assert added.status_code == 200
    assert endpoint.event_types == ["batch.completed", "call.ended"]
    assert endpoint.signing_secret.reveal() == secret
    assert endpoint.signing_secret_last_four == secret[-4:]
    assert audit == ["webhook_endpoint.created"]
    for page in (change, listing):
        assert page.status_code == 200
        assert secret not in page.content.decode()
    assert f"••••{secret[-4:]}" in change.content.decode()


def test_a_refused_url_comes_back_on_the_form(org_a, admin_client, settings):
    settings.INTEGRATION_URLS_ALLOW_HTTP = False

    page = admin_client.post(
        f"{ENDPOINTS}add/",
        {"url": "http://example.com/hooks", "event_types": ["call.ended"], "enabled": "on"},
    )

    assert page.status_code == 200
    assert "https" in page.content.decode()
    with tenant_context(org_a):
        assert not WebhookEndpoint.objects.exists()


def test_an_endpoint_is_changed_through_the_service(org_a, admin_client, receiver):
    endpoint, _secret = make_endpoint(org_a, receiver, ["call.ended"])

    changed = admin_client.post(
        f"{ENDPOINTS}{endpoint.pk}/change/",
        {
            "url": receiver.url("/other"),
            "description": "",
            "event_types": ["call.failed"],
            "enabled": "on",
        },
    )

    assert changed.status_code == 302, changed.content.decode()[:3000]
    with tenant_context(org_a):
        endpoint.refresh_from_db()
        updated = AuditEvent.objects.get(action="webhook_endpoint.updated")
    assert endpoint.url == receiver.url("/other") and endpoint.event_types == ["call.failed"]
    assert updated.data["fields"] == ["event_types", "url"]


def test_rotating_the_secret_shows_the_new_one_once_and_the_old_one_stops_signing(
    org_a, admin_client, receiver
):
    endpoint, old = make_endpoint(org_a, receiver, ["call.ended"])

    rotated = admin_client.post(
        ENDPOINTS,
        {"action": "rotate_secret", "_selected_action": [endpoint.pk]},
        follow=True,
    )
    new = _secret_in(rotated)
    receiver.secret = new
    tested = admin_client.post(
        ENDPOINTS, {"action": "send_test", "_selected_action": [endpoint.pk]}, follow=True
    )
    change = admin_client.get(f"{ENDPOINTS}{endpoint.pk}/change/")

    assert new != old
    with tenant_context(org_a):
        endpoint.refresh_from_db()
        assert endpoint.signing_secret.reveal() == new
    [ping] = receiver.received
    assert ping.verified and ping.body["type"] == "ping"
    assert "answered 200" in tested.content.decode()
    assert new not in change.content.decode() and old not in change.content.decode()
    assert f"••••{new[-4:]}" in change.content.decode()


def test_the_delivery_log_is_read_only_newest_first_with_its_attempts(
    org_a, admin_client, receiver, eager, django_capture_on_commit_callbacks
):
    endpoint, _secret = make_endpoint(org_a, receiver, ["call.ended"])
    receiver.fail_next = 1
    with tenant_context(org_a), django_capture_on_commit_callbacks(execute=True):
        first = webhook_event_emit("call.ended", {"call": {"id": 1}})
    with tenant_context(org_a), django_capture_on_commit_callbacks(execute=True):
        second = webhook_event_emit("call.ended", {"call": {"id": 2}})
    with tenant_context(org_a):
        delivery = WebhookDelivery.objects.get(event=first)

    log = admin_client.get(DELIVERIES, {"endpoint__id__exact": endpoint.pk})
    page = admin_client.get(f"{DELIVERIES}{delivery.pk}/change/")
    endpoint_page = admin_client.get(f"{ENDPOINTS}{endpoint.pk}/change/")
    changed = admin_client.post(f"{DELIVERIES}{delivery.pk}/change/", {"status": "pending"})
    add = admin_client.get(f"{DELIVERIES}add/")

    text = log.content.decode()
    assert log.status_code == 200
    assert text.index(second.event_id) < text.index(first.event_id)  # newest first
    detail = page.content.decode()
    assert page.status_code == 200
    assert "HTTP 500" in detail and "latency" in detail.lower()
    # The attempts, newest first: the 200 then the 500.
    codes = re.findall(
        r'field-status_code[ "][^>]*>.*?class="readonly[^"]*">\s*(?:<p>)?\s*(\d+)', detail, re.S
    )
    assert codes == ["200", "500"], detail[detail.find("field-number") :][:1500]
    assert first.event_id in endpoint_page.content.decode()
    assert "The whole delivery log" in endpoint_page.content.decode()
    assert changed.status_code == 403 and add.status_code == 403
    with tenant_context(org_a):
        delivery.refresh_from_db()
    assert delivery.status == "succeeded"


def test_redeliver_sends_the_same_event_again_through_the_service(
    org_a, admin_client, receiver, eager, django_capture_on_commit_callbacks
):
    make_endpoint(org_a, receiver, ["call.ended"])
    with tenant_context(org_a), django_capture_on_commit_callbacks(execute=True):
        event = webhook_event_emit("call.ended", {"call": {"id": 3}})
    with tenant_context(org_a):
        delivery = WebhookDelivery.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        page = admin_client.post(
            DELIVERIES,
            {"action": "redeliver", "_selected_action": [delivery.pk]},
            follow=True,
        )

    assert "1 delivery sent again." in page.content.decode()
    assert receiver.event_ids == [event.event_id, event.event_id]
    assert all(d.verified for d in receiver.received)
    with tenant_context(org_a):
        delivery.refresh_from_db()
        assert delivery.attempt_count == 2
        assert list(delivery.attempts.values_list("manual", flat=True)) == [False, True]
        assert AuditEvent.objects.filter(action="webhook_delivery.redelivered").count() == 1


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_members_and_viewers_cannot_see_or_change_webhooks(
    org_a, make_member, receiver, role, eager, django_capture_on_commit_callbacks
):
    endpoint, secret = make_endpoint(org_a, receiver, ["call.ended"])
    with tenant_context(org_a), django_capture_on_commit_callbacks(execute=True):
        webhook_event_emit("call.ended", {"call": {"id": 4}})
    with tenant_context(org_a):
        delivery = WebhookDelivery.objects.get()
    client = _client(org_a, make_member, role)

    pages = [
        client.get(ENDPOINTS),
        client.get(f"{ENDPOINTS}{endpoint.pk}/change/"),
        client.get(f"{ENDPOINTS}add/"),
        client.get(DELIVERIES),
        client.get(f"{DELIVERIES}{delivery.pk}/change/"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        posts = [
            client.post(f"{ENDPOINTS}add/", {"url": receiver.url(), "event_types": ["call.ended"]}),
            client.post(
                f"{ENDPOINTS}{endpoint.pk}/change/",
                {"url": receiver.url("/x"), "event_types": ["call.failed"], "enabled": "on"},
            ),
            client.post(ENDPOINTS, {"action": "rotate_secret", "_selected_action": [endpoint.pk]}),
            client.post(DELIVERIES, {"action": "redeliver", "_selected_action": [delivery.pk]}),
        ]

    assert all(page.status_code in (302, 403) for page in pages + posts)
    assert all(secret not in page.content.decode() for page in pages + posts)
    with tenant_context(org_a):
        endpoint.refresh_from_db()
        assert WebhookEndpoint.objects.count() == 1
        assert endpoint.url == receiver.url() and endpoint.signing_secret.reveal() == secret
        assert delivery.attempts.count() == 1
    assert len(receiver.received) == 1

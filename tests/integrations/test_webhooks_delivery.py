"""Outbound webhooks delivered: a signed POST per subscribed endpoint after commit, checked by
the receiver with the lines docs/api.md gives customers; retries with backoff carrying the
same event id; giving up; disabling an endpoint that keeps failing (its owners emailed);
redirects not followed; private addresses refused."""

from __future__ import annotations

import pytest
from django.core import mail
from django_tenants.utils import tenant_context

from integrations import signing
from integrations.webhook_models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEvent,
)
from integrations.webhook_services import (
    webhook_backoff_seconds,
    webhook_delivery_attempt,
    webhook_event_emit,
)
from tests.integrations.webhook_support import make_endpoint

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_allowed")]


def test_an_event_is_signed_and_delivered_to_each_subscribed_endpoint_after_commit(
    org_a, receiver, eager, django_capture_on_commit_callbacks
):
    endpoint, secret = make_endpoint(org_a, receiver, ["call.ended", "call.failed"])
    make_endpoint(org_a, receiver, ["batch.completed"])  # not subscribed to call.ended
    receiver.secret = secret

    with tenant_context(org_a), django_capture_on_commit_callbacks(execute=True) as callbacks:
        event = webhook_event_emit("call.ended", {"call": {"id": 7}})
        assert receiver.received == []  # nothing before commit
    assert len(callbacks) == 1

    [got] = receiver.received
    assert got.verified and got.status == 200
    assert got.body == {
        "id": event.event_id,
        "type": "call.ended",
        "created": event.created_at.isoformat().replace("+00:00", "Z"),
        "data": {"call": {"id": 7}},
    }
    assert got.headers["x-voiceagents-event-id"] == event.event_id
    assert got.headers["x-voiceagents-event-type"] == "call.ended"
    signing.signature_verify(
        secret=secret, header=got.headers["x-voiceagents-signature"], body=got.raw
    )
    with tenant_context(org_a):
        delivery = WebhookDelivery.objects.get(event=event)
        assert delivery.endpoint_id == endpoint.pk
        assert delivery.status == WebhookDeliveryStatus.SUCCEEDED
        [attempt] = delivery.attempts.all()
        assert attempt.ok and attempt.status_code == 200 and attempt.number == 1
        assert '"ok"' in attempt.response_excerpt


def test_nothing_is_recorded_when_no_endpoint_subscribes(org_a, receiver):
    make_endpoint(org_a, receiver, ["batch.completed"])
    with tenant_context(org_a):
        assert webhook_event_emit("call.started", {"call": {"id": 1}}) is None
        assert not WebhookEvent.objects.exists()


def test_the_same_dedupe_key_announces_once(org_a, receiver):
    make_endpoint(org_a, receiver, ["call.ended"])
    with tenant_context(org_a):
        first = webhook_event_emit("call.ended", {"n": 1}, dedupe_key="call.ended:5")
        second = webhook_event_emit("call.ended", {"n": 2}, dedupe_key="call.ended:5")
        assert first is not None and second is not None and first.pk == second.pk
        assert WebhookDelivery.objects.count() == 1


def test_failed_attempts_are_retried_with_the_same_event_id_until_one_succeeds(
    org_a, receiver, eager, django_capture_on_commit_callbacks
):
    make_endpoint(org_a, receiver, ["call.ended"])
    receiver.fail_next = 2

    with tenant_context(org_a), django_capture_on_commit_callbacks(execute=True):
        event = webhook_event_emit("call.ended", {"call": {"id": 9}})

    assert [d.status for d in receiver.received] == [500, 500, 200]
    assert receiver.event_ids == [event.event_id] * 3
    assert [d.headers["x-voiceagents-delivery-attempt"] for d in receiver.received] == [
        "1",
        "2",
        "3",
    ]
    assert len({d.headers["x-voiceagents-signature"] for d in receiver.received}) >= 1
    assert all(d.verified for d in receiver.received)
    with tenant_context(org_a):
        delivery = WebhookDelivery.objects.get()
        assert delivery.status == WebhookDeliveryStatus.SUCCEEDED
        assert delivery.attempt_count == 3
        assert list(delivery.attempts.values_list("status_code", "ok")) == [
            (500, False),
            (500, False),
            (200, True),
        ]
        assert all(a.latency_ms >= 0 for a in delivery.attempts.all())
        assert WebhookEndpoint.objects.get().consecutive_failures == 0


def test_a_failed_attempt_waits_an_exponential_jittered_capped_backoff(org_a, receiver, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 10
    settings.WEBHOOK_RETRY_MAX_SECONDS = 100
    for attempt, full in [(1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (9, 100)]:
        waits = [webhook_backoff_seconds(attempt) for _ in range(50)]
        assert all(full / 2 <= wait <= full for wait in waits), (attempt, waits)
        assert len(set(waits)) > 1  # jittered

    make_endpoint(org_a, receiver, ["call.ended"])
    receiver.fail_next = 1
    with tenant_context(org_a):
        webhook_event_emit("call.ended", {})
        delivery = WebhookDelivery.objects.get()
        retry_in = webhook_delivery_attempt(delivery_id=delivery.pk)
        delivery.refresh_from_db()
    assert retry_in is not None and 5 <= retry_in <= 10
    assert delivery.status == WebhookDeliveryStatus.PENDING
    assert delivery.next_attempt_at is not None and delivery.last_status_code == 500


def test_a_delivery_gives_up_after_the_last_attempt(
    org_a, receiver, eager, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    make_endpoint(org_a, receiver, ["call.ended"])
    receiver.fail_next = 10

    with tenant_context(org_a), django_capture_on_commit_callbacks(execute=True):
        webhook_event_emit("call.ended", {})

    assert len(receiver.received) == 3
    with tenant_context(org_a):
        delivery = WebhookDelivery.objects.get()
        assert delivery.status == WebhookDeliveryStatus.FAILED
        assert delivery.last_error == "HTTP 500" and delivery.next_attempt_at is None
        # Running the task again (a duplicate message) sends nothing.
        assert webhook_delivery_attempt(delivery_id=delivery.pk) is None
    assert len(receiver.received) == 3


def test_an_endpoint_that_keeps_failing_is_disabled_and_its_owners_are_emailed(
    org_a, receiver, eager, settings, make_member, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 10
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 3
    owner = make_member(org_a, "owner", email="owner@alpha.test")
    make_member(org_a, "admin", email="admin@alpha.test")
    endpoint, _secret = make_endpoint(org_a, receiver, ["call.ended"])
    receiver.fail_next = 100

    with tenant_context(org_a), django_capture_on_commit_callbacks(execute=True):
        webhook_event_emit("call.ended", {})

    assert len(receiver.received) == 3  # disabled at the third failure: no fourth attempt
    with tenant_context(org_a):
        endpoint.refresh_from_db()
        assert not endpoint.enabled and endpoint.disabled_at is not None
        assert "3 failed attempts in a row" in endpoint.disabled_reason
        assert WebhookDelivery.objects.get().status == WebhookDeliveryStatus.FAILED
        # A disabled endpoint hears nothing more.
        assert webhook_event_emit("call.ended", {}) is None
    [email] = mail.outbox
    assert email.to == [owner.email]
    assert endpoint.url in email.body and "disabled" in email.subject


def test_a_redirect_is_not_followed(
    org_a, receiver, eager, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    make_endpoint(org_a, receiver, ["call.ended"], path="/redirect")

    with tenant_context(org_a), django_capture_on_commit_callbacks(execute=True):
        webhook_event_emit("call.ended", {})

    assert [d.path for d in receiver.received] == ["/redirect"]
    with tenant_context(org_a):
        attempt = WebhookAttempt.objects.get()
    assert attempt.status_code == 302 and not attempt.ok
    assert "redirects are not followed" in attempt.error


def test_a_private_address_is_refused_at_connection(
    org_a, receiver, eager, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    make_endpoint(org_a, receiver, ["call.ended"])
    settings.INTEGRATION_URLS_ALLOW_PRIVATE = False  # the deployment's default

    with tenant_context(org_a), django_capture_on_commit_callbacks(execute=True):
        webhook_event_emit("call.ended", {})

    assert receiver.received == []
    with tenant_context(org_a):
        attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None and "private, loopback or link-local" in attempt.error


def test_a_slow_receiver_times_out(org_a, settings, eager, django_capture_on_commit_callbacks):
    import socket

    settings.WEBHOOK_MAX_ATTEMPTS = 1
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    # A socket that accepts and never answers.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    from integrations.webhook_services import webhook_endpoint_create

    try:
        with tenant_context(org_a):
            webhook_endpoint_create(
                data={
                    "url": f"http://127.0.0.1:{listener.getsockname()[1]}/",
                    "event_types": ["call.ended"],
                }
            )
        with tenant_context(org_a), django_capture_on_commit_callbacks(execute=True):
            webhook_event_emit("call.ended", {})
        with tenant_context(org_a):
            attempt = WebhookAttempt.objects.get()
    finally:
        listener.close()
    assert "No answer within 0.5 s" in attempt.error and attempt.latency_ms < 3000

"""Writes of outbound webhooks: the organization's endpoints (each change an audit event),
recording an event and its deliveries, one attempt of a delivery (with the retry policy and
the disabling of an endpoint that keeps failing), redelivery and the test ping.

Delivery is at-least-once: a delivery is tried until the endpoint answers 2xx, every attempt
carrying the event's id (``X-Voiceagents-Event-Id``) so a receiver drops repeats. A new
signing secret is returned once, to the caller that created or rotated the endpoint; after
that it only leaves the database into a signature.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from integrations.signing import signing_secret_generate
from integrations.tool_rules import url_problem
from integrations.webhook_delivery import webhook_body, webhook_post
from integrations.webhook_models import (
    SUBSCRIBABLE_EVENT_TYPES,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEvent,
    WebhookEventType,
)
from organizations.models import ApiKey, Membership, Organization, Role, User
from organizations.services import audit_record
from voiceagents import secrets
from voiceagents.exceptions import ValidationFailed
from voiceagents.queue import enqueue_on_commit

__all__ = [
    "WEBHOOK_DELIVER_TASK",
    "webhook_backoff_seconds",
    "webhook_delivery_attempt",
    "webhook_delivery_redeliver",
    "webhook_endpoint_create",
    "webhook_endpoint_delete",
    "webhook_endpoint_rotate_secret",
    "webhook_endpoint_test",
    "webhook_endpoint_update",
    "webhook_event_emit",
]

logger = structlog.get_logger(__name__)

# The Celery task that makes a delivery's attempts (integrations.tasks), sent by name.
WEBHOOK_DELIVER_TASK = "integrations.webhook_deliver"
MAX_ENDPOINTS = 20


def _organization() -> Organization:
    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Organization):
        return tenant
    schema: str = getattr(connection, "schema_name", get_public_schema_name())
    return Organization.objects.get(schema_name=schema)


def _audit(
    action: str,
    endpoint: WebhookEndpoint,
    *,
    actor: User | None,
    api_key: ApiKey | None,
    **data: Any,
) -> None:
    audit_record(
        organization=_organization(),
        action=action,
        target_type="webhook_endpoint",
        target_id=endpoint.pk,
        actor=actor,
        api_key=api_key,
        data=data,
    )


# --- endpoints ------------------------------------------------------------------------------------


def _clean(data: Mapping[str, Any], *, instance: WebhookEndpoint | None) -> dict[str, Any]:
    fields: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    if "url" in data or instance is None:
        url = str(data.get("url") or "").strip()
        problem = "This field is required." if not url else url_problem(url)
        if len(url) > 500:
            problem = "At most 500 characters."
        if problem:
            fields["url"] = [problem]
        out["url"] = url
    if "event_types" in data or instance is None:
        value = data.get("event_types")
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            fields["event_types"] = [
                f"Give a list of one or more of: {', '.join(SUBSCRIBABLE_EVENT_TYPES)}."
            ]
        else:
            unknown = [v for v in value if v not in SUBSCRIBABLE_EVENT_TYPES]
            if unknown:
                fields["event_types"] = [
                    f"Unknown event type(s) {', '.join(repr(v[:40]) for v in unknown[:5])}; "
                    f"choose from: {', '.join(SUBSCRIBABLE_EVENT_TYPES)}."
                ]
            out["event_types"] = sorted(set(value))
    if "description" in data:
        description = str(data.get("description") or "").strip()
        if len(description) > 200:
            fields["description"] = ["At most 200 characters."]
        out["description"] = description
    if "enabled" in data:
        if not isinstance(data["enabled"], bool):
            fields["enabled"] = ["Give true or false."]
        out["enabled"] = data["enabled"]
    if fields:
        raise ValidationFailed.for_fields(fields)
    return out


def _secret_new(endpoint: WebhookEndpoint) -> str:
    plaintext = signing_secret_generate()
    endpoint.signing_secret = secrets.Secret.from_plaintext(plaintext)
    endpoint.signing_secret_last_four = secrets.last_four(plaintext)
    return plaintext


@transaction.atomic
def webhook_endpoint_create(
    *, data: Mapping[str, Any], actor: User | None = None, api_key: ApiKey | None = None
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (in clear, this once)."""
    cleaned = _clean(data, instance=None)
    if WebhookEndpoint.objects.count() >= MAX_ENDPOINTS:
        raise ValidationFailed(f"An organization has at most {MAX_ENDPOINTS} webhook endpoints.")
    endpoint = WebhookEndpoint(created_by=actor, **cleaned)
    plaintext = _secret_new(endpoint)
    endpoint.save()
    _audit(
        "webhook_endpoint.created",
        endpoint,
        actor=actor,
        api_key=api_key,
        url=endpoint.url,
        event_types=endpoint.event_types,
    )
    return endpoint, plaintext


@transaction.atomic
def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    data: Mapping[str, Any],
    actor: User | None = None,
    api_key: ApiKey | None = None,
) -> WebhookEndpoint:
    """Change it. Enabling a disabled endpoint starts its failure count afresh."""
    cleaned = _clean(data, instance=endpoint)
    changed = [name for name, value in cleaned.items() if getattr(endpoint, name) != value]
    for name in changed:
        setattr(endpoint, name, cleaned[name])
    if "enabled" in changed and endpoint.enabled:
        endpoint.consecutive_failures, endpoint.disabled_reason, endpoint.disabled_at = 0, "", None
        changed += ["consecutive_failures", "disabled_reason", "disabled_at"]
    if not changed:
        return endpoint
    endpoint.save(update_fields=[*changed, "updated_at"])
    _audit(
        "webhook_endpoint.updated",
        endpoint,
        actor=actor,
        api_key=api_key,
        fields=sorted(set(changed)),
    )
    return endpoint


@transaction.atomic
def webhook_endpoint_rotate_secret(
    *, endpoint: WebhookEndpoint, actor: User | None = None, api_key: ApiKey | None = None
) -> tuple[WebhookEndpoint, str]:
    """A new signing secret, returned in clear; the old one stops signing at once."""
    plaintext = _secret_new(endpoint)
    endpoint.save(update_fields=["signing_secret", "signing_secret_last_four", "updated_at"])
    _audit("webhook_endpoint.secret_rotated", endpoint, actor=actor, api_key=api_key)
    return endpoint, plaintext


@transaction.atomic
def webhook_endpoint_delete(
    *, endpoint: WebhookEndpoint, actor: User | None = None, api_key: ApiKey | None = None
) -> None:
    """Remove it with its deliveries and their attempts."""
    _audit("webhook_endpoint.deleted", endpoint, actor=actor, api_key=api_key, url=endpoint.url)
    endpoint.delete()


# --- events ---------------------------------------------------------------------------------------


def _deliveries_create(event: WebhookEvent, endpoints: list[WebhookEndpoint]) -> list[int]:
    deliveries = WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(event=event, endpoint=endpoint) for endpoint in endpoints]
    )
    for delivery in deliveries:
        enqueue_on_commit(WEBHOOK_DELIVER_TASK, delivery_id=delivery.pk)
    return [delivery.pk for delivery in deliveries]


def webhook_event_emit(
    event_type: str,
    payload: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
    *,
    dedupe_key: str | None = None,
) -> WebhookEvent | None:
    """Tell every enabled endpoint of the active organization that subscribes to
    ``event_type``: one event (its id the same on every attempt), one delivery per endpoint,
    each sent by the delivery task once the current transaction commits. Nothing is recorded
    when no endpoint subscribes. ``dedupe_key`` names the fact announced (``call.ended:42``): a
    second emit with the same key changes nothing, so a task that runs twice sends once.
    ``payload`` may be a function: it is then only built when an endpoint subscribes (the
    usual case on a call's path is none)."""
    if event_type not in WebhookEventType.values:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    endpoints = list(
        WebhookEndpoint.objects.filter(enabled=True, event_types__contains=[event_type])
    )
    if not endpoints:
        return None
    data = payload() if callable(payload) else payload
    try:
        # A savepoint: a concurrent emit of the same key must not break the caller's
        # transaction (a call's end, a batch's progress).
        with transaction.atomic():
            event = WebhookEvent.objects.create(
                type=event_type, payload=dict(data), dedupe_key=dedupe_key
            )
            _deliveries_create(event, endpoints)
    except IntegrityError:
        if dedupe_key is None:
            raise
        return WebhookEvent.objects.filter(dedupe_key=dedupe_key).first()
    logger.info(
        "webhook_event_recorded",
        event_id=event.event_id,
        event_type=event_type,
        endpoints=len(endpoints),
    )
    return event


# --- attempts -------------------------------------------------------------------------------------


def webhook_backoff_seconds(attempt: int) -> float:
    """How long to wait after the ``attempt``-th failed attempt: base * 2^(attempt-1), capped
    at WEBHOOK_RETRY_MAX_SECONDS, then "equal jitter" (between half and all of it) so
    endpoints that failed together are not all tried again in the same second."""
    base = float(settings.WEBHOOK_RETRY_BASE_SECONDS)
    ceiling = float(settings.WEBHOOK_RETRY_MAX_SECONDS)
    delay = min(ceiling, base * (2 ** max(0, attempt - 1)))
    return delay / 2 + random.uniform(0, delay / 2)


def _owners_notify(endpoint: WebhookEndpoint, organization: Organization) -> None:
    emails = list(
        Membership.objects.filter(organization=organization, role=Role.OWNER)
        .values_list("user__email", flat=True)
        .order_by("user__email")
    )
    if not emails:
        return
    subject = f"A webhook endpoint of {organization.name} was disabled"
    message = (
        f"The webhook endpoint {endpoint.url} of {organization.name} failed "
        f"{endpoint.consecutive_failures} times in a row and was disabled:\n"
        f"{endpoint.disabled_reason}\n\n"
        "Nothing more is sent to it until it is enabled again (PATCH /api/v1/webhooks/"
        f'{endpoint.pk}/ with {{"enabled": true}}, or in the admin). Failed deliveries can '
        "be sent again from /api/v1/webhook-deliveries/<id>/redeliver/.\n"
    )
    transaction.on_commit(
        lambda: send_mail(subject=subject, message=message, from_email=None, recipient_list=emails)
    )


def _failure_record(endpoint: WebhookEndpoint, error: str, now: dt.datetime) -> None:
    """One more failed attempt in a row; past the limit the endpoint is disabled and its
    owners are told (once: only the attempt that disables it sends the email)."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        consecutive_failures=F("consecutive_failures") + 1, last_failure_at=now
    )
    endpoint.refresh_from_db(fields=["consecutive_failures", "enabled"])
    limit = int(settings.WEBHOOK_DISABLE_AFTER_FAILURES)
    if endpoint.enabled and endpoint.consecutive_failures >= limit:
        endpoint.enabled = False
        endpoint.disabled_at = now
        endpoint.disabled_reason = (
            f"{endpoint.consecutive_failures} failed attempts in a row; the last: {error}"
        )[:300]
        endpoint.save(update_fields=["enabled", "disabled_at", "disabled_reason", "updated_at"])
        organization = _organization()
        audit_record(
            organization=organization,
            action="webhook_endpoint.disabled",
            target_type="webhook_endpoint",
            target_id=endpoint.pk,
            data={"failures": endpoint.consecutive_failures},
        )
        _owners_notify(endpoint, organization)
        logger.warning(
            "webhook_endpoint_disabled",
            endpoint_id=endpoint.pk,
            failures=endpoint.consecutive_failures,
        )


def webhook_delivery_attempt(*, delivery_id: int, manual: bool = False) -> float | None:
    """Make one attempt of a delivery and record it. Returns the seconds to wait before the
    next attempt, or None when there is none (delivered, given up, or ``manual``: a
    redelivery or a test is one attempt). Safe to run twice: a delivered delivery is not sent
    again unless ``manual``, and an automatic attempt is never made to a disabled endpoint.

    The delivery stays locked while its request is in flight (at most the attempt's timeout):
    two copies of the task for one delivery then send it once, one after the other."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("endpoint", "event")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            return None
        endpoint, event = delivery.endpoint, delivery.event
        if not manual:
            if delivery.status != WebhookDeliveryStatus.PENDING:
                return None
            if not endpoint.enabled:
                delivery.status = WebhookDeliveryStatus.FAILED
                delivery.last_error = "The endpoint is disabled."
                delivery.next_attempt_at = None
                delivery.save(
                    update_fields=["status", "last_error", "next_attempt_at", "updated_at"]
                )
                return None
        number = delivery.attempt_count + 1
        try:
            secret = endpoint.signing_secret.reveal()
        except secrets.SecretDecryptionFailed:
            secret = ""
        if not secret:
            result = None
            error = "The signing secret cannot be decrypted with the configured keys."
        else:
            body = webhook_body(
                event_id=event.event_id,
                event_type=event.type,
                created=event.created_at.isoformat().replace("+00:00", "Z"),
                data=event.payload,
            )
            result = webhook_post(
                url=endpoint.url,
                body=body,
                secret=secret,
                event_id=event.event_id,
                event_type=event.type,
                attempt=number,
                timeout=float(settings.WEBHOOK_TIMEOUT_SECONDS),
            )
            error = result.error
        now = timezone.now()
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=number,
            manual=manual,
            ok=bool(result and result.ok),
            status_code=result.status_code if result else None,
            latency_ms=result.latency_ms if result else 0,
            error=error,
            response_excerpt=result.response_excerpt if result else "",
            created_at=now,
        )
        delivery.attempt_count = number
        delivery.last_status_code = result.status_code if result else None
        delivery.last_error = error
        retry_in: float | None = None
        if result is not None and result.ok:
            delivery.status = WebhookDeliveryStatus.SUCCEEDED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
                consecutive_failures=0, last_success_at=now
            )
        else:
            _failure_record(endpoint, error, now)
            more = number < int(settings.WEBHOOK_MAX_ATTEMPTS) and endpoint.enabled
            if manual or not more:
                delivery.status = WebhookDeliveryStatus.FAILED
                delivery.next_attempt_at = None
            else:
                retry_in = webhook_backoff_seconds(number)
                delivery.status = WebhookDeliveryStatus.PENDING
                delivery.next_attempt_at = now + dt.timedelta(seconds=retry_in)
        delivery.save(
            update_fields=[
                "attempt_count",
                "last_status_code",
                "last_error",
                "status",
                "delivered_at",
                "next_attempt_at",
                "updated_at",
            ]
        )
    logger.info(
        "webhook_attempt",
        delivery_id=delivery.pk,
        event_id=event.event_id,
        attempt=number,
        ok=delivery.status == WebhookDeliveryStatus.SUCCEEDED,
        status_code=delivery.last_status_code,
        retry_in=retry_in,
    )
    return retry_in


@transaction.atomic
def webhook_delivery_redeliver(
    *, delivery: WebhookDelivery, actor: User | None = None, api_key: ApiKey | None = None
) -> WebhookDelivery:
    """Send a delivery once more (the same event id), whatever its status, after commit."""
    audit_record(
        organization=_organization(),
        action="webhook_delivery.redelivered",
        target_type="webhook_delivery",
        target_id=delivery.pk,
        actor=actor,
        api_key=api_key,
        data={"event_id": delivery.event.event_id},
    )
    enqueue_on_commit(WEBHOOK_DELIVER_TASK, delivery_id=delivery.pk, manual=True)
    return delivery


def webhook_endpoint_test(
    *, endpoint: WebhookEndpoint, actor: User | None = None, api_key: ApiKey | None = None
) -> WebhookDelivery:
    """Send a ``ping`` event to this endpoint now (one attempt, recorded like any other) and
    return its delivery with the attempt."""
    with transaction.atomic():
        event = WebhookEvent.objects.create(
            type=WebhookEventType.PING,
            payload={"endpoint_id": endpoint.pk, "message": "A test event from voiceagents."},
        )
        delivery = WebhookDelivery.objects.create(event=event, endpoint=endpoint)
        _audit("webhook_endpoint.tested", endpoint, actor=actor, api_key=api_key)
    webhook_delivery_attempt(delivery_id=delivery.pk, manual=True)
    delivery.refresh_from_db()
    return delivery

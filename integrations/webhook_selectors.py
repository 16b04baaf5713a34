"""Reads of outbound webhooks: the organization's endpoints, their deliveries and attempts.
A missing id and another organization's id look alike (the schema holds only this one's)."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from integrations.exceptions import WebhookDeliveryNotFound, WebhookEndpointNotFound
from integrations.webhook_models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "webhook_delivery_get",
    "webhook_delivery_list",
    "webhook_endpoint_get",
    "webhook_endpoint_list",
    "webhook_subscribed",
]


def webhook_subscribed(event_type: str) -> bool:
    """Whether an enabled endpoint of the active organization subscribes to ``event_type``:
    one query that lets a caller announcing many events at once skip building them when
    nobody listens (``webhook_event_emit`` asks for each event otherwise)."""
    return WebhookEndpoint.objects.filter(enabled=True, event_types__contains=[event_type]).exists()


def webhook_endpoint_list() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.select_related("created_by").order_by("id")


def webhook_endpoint_get(*, endpoint_id: Any) -> WebhookEndpoint:
    try:
        return webhook_endpoint_list().get(pk=int(endpoint_id))
    except (WebhookEndpoint.DoesNotExist, TypeError, ValueError, OverflowError):
        raise WebhookEndpointNotFound() from None


def webhook_delivery_list(*, endpoint: WebhookEndpoint | None = None) -> QuerySet[WebhookDelivery]:
    """Deliveries newest first, each with its event and attempts (one query each)."""
    deliveries = WebhookDelivery.objects.select_related("event", "endpoint").prefetch_related(
        Prefetch("attempts", queryset=WebhookAttempt.objects.order_by("number"))
    )
    if endpoint is not None:
        deliveries = deliveries.filter(endpoint=endpoint)
    return deliveries.order_by("-created_at", "-id")


def webhook_delivery_get(*, delivery_id: Any) -> WebhookDelivery:
    try:
        return webhook_delivery_list().get(pk=int(delivery_id))
    except (WebhookDelivery.DoesNotExist, TypeError, ValueError, OverflowError):
        raise WebhookDeliveryNotFound() from None

"""The one FilterSet for webhook deliveries (API; the admin's filters mirror it)."""

from __future__ import annotations

import django_filters

from integrations.webhook_models import WebhookDelivery, WebhookDeliveryStatus, WebhookEventType

__all__ = ["WebhookDeliveryFilterSet"]


class WebhookDeliveryFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=WebhookDeliveryStatus.choices)
    event_type = django_filters.ChoiceFilter(
        field_name="event__type", choices=WebhookEventType.choices
    )
    event_id = django_filters.CharFilter(field_name="event__event_id", max_length=40)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = WebhookDelivery
        fields = ["status", "event_type", "event_id"]

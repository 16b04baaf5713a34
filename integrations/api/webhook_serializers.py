"""API shapes of outbound webhooks. The signing secret is write-never and shown once, in the
answer that made it (creation, rotation); other answers show its last four characters."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from integrations.webhook_models import (
    SUBSCRIBABLE_EVENT_TYPES,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEventType,
)

__all__ = [
    "WebhookAttemptSerializer",
    "WebhookDeliverySerializer",
    "WebhookEndpointCreatedSerializer",
    "WebhookEndpointSerializer",
    "WebhookEndpointWriteSerializer",
]


class WebhookEndpointSerializer(serializers.ModelSerializer):
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=SUBSCRIBABLE_EVENT_TYPES), read_only=True
    )
    created_by = serializers.EmailField(
        source="created_by.email", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "enabled",
            "signing_secret_last_four",
            "consecutive_failures",
            "disabled_reason",
            "disabled_at",
            "last_success_at",
            "last_failure_at",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    signing_secret = serializers.SerializerMethodField(
        help_text="The secret that signs every request to this endpoint: shown in this answer "
        "only. Keep it; rotate it when lost."
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "signing_secret"]
        read_only_fields = fields

    def get_signing_secret(self, obj: WebhookEndpoint) -> str:
        return str(self.context.get("signing_secret") or "")


class WebhookEndpointWriteSerializer(serializers.Serializer):
    """Shapes only; the rules are integrations.webhook_services."""

    url = serializers.CharField(max_length=500, help_text="An https:// URL.")
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=SUBSCRIBABLE_EVENT_TYPES),
        min_length=1,
        max_length=len(SUBSCRIBABLE_EVENT_TYPES),
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    enabled = serializers.BooleanField(
        required=False, help_text="true again after it was disabled starts its count afresh."
    )


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = [
            "number",
            "manual",
            "ok",
            "status_code",
            "latency_ms",
            "error",
            "response_excerpt",
            "created_at",
        ]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.CharField(source="event.event_id", read_only=True)
    event_type = serializers.ChoiceField(
        source="event.type", choices=WebhookEventType.choices, read_only=True
    )
    payload = serializers.SerializerMethodField(help_text="The event's `data`, as sent.")
    status = serializers.ChoiceField(choices=WebhookDeliveryStatus.choices, read_only=True)
    attempts = WebhookAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "event_id",
            "event_type",
            "payload",
            "status",
            "attempt_count",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "delivered_at",
            "created_at",
            "attempts",
        ]
        read_only_fields = fields

    def get_payload(self, obj: WebhookDelivery) -> dict[str, Any]:
        return dict(obj.event.payload)

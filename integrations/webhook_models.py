"""Outbound webhooks (tenant schema): the organization's endpoints, the events we tell them
about, one delivery of an event to an endpoint, and every HTTP attempt of a delivery.

Imported by ``integrations.models`` so Django registers them with the app. Written only by
``integrations.webhook_services``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from voiceagents.secrets import EncryptedSecretField

__all__ = [
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
    "WebhookEndpoint",
    "WebhookEvent",
    "WebhookEventType",
    "event_id_new",
]


class WebhookEventType(models.TextChoices):
    """What an endpoint may subscribe to. ``ping`` is only ever sent by the test action, to
    the endpoint tested, whatever it subscribes to."""

    CALL_STARTED = "call.started", "A call was answered"
    CALL_ENDED = "call.ended", "A call ended (with its transcript and analysis)"
    CALL_FAILED = "call.failed", "A call could not be placed or broke"
    BATCH_PROGRESS = "batch.progress", "A batch's progress (every 10 %)"
    BATCH_COMPLETED = "batch.completed", "A batch finished"
    SCHEDULE_RUN = "schedule.run", "A schedule fired a run"
    PING = "ping", "A test event"


SUBSCRIBABLE_EVENT_TYPES = tuple(t for t in WebhookEventType.values if t != "ping")


def event_id_new() -> str:
    return f"evt_{uuid.uuid4().hex}"


class WebhookEndpoint(models.Model):
    """An HTTPS URL of the organization's that hears about the events it subscribes to. Every
    request is signed with ``signing_secret`` (``integrations.signing``), which is shown once
    (at creation and rotation) and is ciphertext in the database. After
    ``WEBHOOK_DISABLE_AFTER_FAILURES`` failed attempts in a row the endpoint is disabled
    (``disabled_reason``/``disabled_at``) and the organization's owners are emailed;
    enabling it again starts the count afresh."""

    url = models.CharField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list, blank=True)
    signing_secret = EncryptedSecretField()
    signing_secret_last_four = models.CharField(max_length=4, blank=True)
    enabled = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_reason = models.CharField(max_length=300, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "integrations"
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url


class WebhookEvent(models.Model):
    """Something that happened, as it is sent: ``event_id`` is the same on every attempt of
    every delivery (receivers deduplicate by it). Recorded only when an endpoint subscribes.
    ``dedupe_key`` keeps a task that runs twice from announcing the same thing twice."""

    event_id = models.CharField(max_length=40, unique=True, default=event_id_new, editable=False)
    type = models.CharField(max_length=32, choices=WebhookEventType.choices)
    payload = models.JSONField(default=dict)
    dedupe_key = models.CharField(max_length=100, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        app_label = "integrations"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending (being tried)"
    SUCCEEDED = "succeeded", "Delivered"
    FAILED = "failed", "Gave up"


class WebhookDelivery(models.Model):
    """One event to one endpoint, tried until the endpoint answers 2xx or the attempts run
    out (``WEBHOOK_MAX_ATTEMPTS``); redelivery tries it once more."""

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(
        max_length=10, choices=WebhookDeliveryStatus.choices, default=WebhookDeliveryStatus.PENDING
    )
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "integrations"
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_delivery_once")
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery: what came back (or why nothing did) and how long it
    took. Never changed."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    manual = models.BooleanField(default=False)
    ok = models.BooleanField(default=False)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        app_label = "integrations"
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"

"""SMS sent or received on the organization's numbers."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from calls.models.calls import Call
from calls.models.phone_numbers import PhoneNumber
from calls.telephony.base import Carrier

__all__ = ["Message", "MessageDirection", "MessageStatus"]


class MessageDirection(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    RECEIVED = "received", "Received"


class Message(models.Model):
    """An SMS sent or received on one of our numbers, linked to the call it belongs to when it
    was exchanged during one."""

    direction = models.CharField(max_length=10, choices=MessageDirection.choices)
    phone_number = models.ForeignKey(
        PhoneNumber, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    call = models.ForeignKey(
        Call, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    from_number = models.CharField(max_length=20)
    to_number = models.CharField(max_length=20)
    body = models.TextField()
    provider = models.CharField(max_length=10, choices=Carrier.choices)
    provider_message_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=10, choices=MessageStatus.choices)
    error_code = models.CharField(max_length=32, blank=True)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_message_id"],
                condition=~models.Q(provider_message_id=""),
                name="uniq_message_provider_message_id",
            )
        ]

    def __str__(self) -> str:
        return f"{self.direction} SMS {self.from_number} → {self.to_number}"

"""Telephony (tenant schema): the organization's phone numbers and their routing rules, calls
with their timeline, transcript and tool use, and SMS messages.

Which organization owns a number is also recorded in the public schema
(``organizations.PhoneNumberClaim``), so a carrier webhook arriving at the main host finds the
organization; ``calls.services`` writes both in one transaction.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from calls.telephony.base import CallStatus as CarrierCallStatus


class Provider(models.TextChoices):
    TWILIO = "twilio", "Twilio"
    PLIVO = "plivo", "Plivo"


class FallbackAction(models.TextChoices):
    MESSAGE = "message", "Play a message and hang up"
    FORWARD = "forward", "Forward to a human"


class PhoneNumber(models.Model):
    """A carrier number the organization answers and calls from. ``agent`` is the default
    agent, used when no routing rule matches; ``fallback_*`` says what a caller gets when no
    agent can take the call (none matches, or the chosen one is paused)."""

    number = models.CharField(max_length=20, unique=True, help_text="E.164, e.g. +14155550100.")
    provider = models.CharField(max_length=10, choices=Provider.choices, default=Provider.TWILIO)
    provider_id = models.CharField(
        max_length=64, blank=True, help_text="The carrier's id (Twilio PN…, Plivo number)."
    )
    voice_enabled = models.BooleanField(default=True)
    sms_enabled = models.BooleanField(default=True)
    friendly_name = models.CharField(max_length=100, blank=True)
    agent = models.ForeignKey(
        "agents.Agent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="phone_numbers",
        help_text="Default agent when no rule matches.",
    )
    fallback_action = models.CharField(
        max_length=10, choices=FallbackAction.choices, default=FallbackAction.MESSAGE
    )
    fallback_message = models.TextField(
        blank=True, help_text="Said before hanging up; empty = a standard apology."
    )
    fallback_forward_number = models.CharField(
        max_length=20, blank=True, help_text="E.164 number of a human, for the forward fallback."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"{self.number} ({self.friendly_name})" if self.friendly_name else self.number


class RoutingRule(models.Model):
    """One rule of a number, evaluated in ``position`` order; the first that matches picks the
    agent. Empty conditions match anything. Times are in the organization's time zone; a window
    whose end is before its start runs overnight, and its after-midnight part belongs to the
    day it started on. Days are 0 = Monday … 6 = Sunday."""

    phone_number = models.ForeignKey(PhoneNumber, on_delete=models.CASCADE, related_name="rules")
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=100, blank=True)
    caller_prefix = models.CharField(
        max_length=16, blank=True, help_text="Caller number starts with this, e.g. +1415."
    )
    caller_country = models.CharField(
        max_length=2, blank=True, help_text="Caller's country, ISO 3166 alpha-2, e.g. US."
    )
    days_of_week = models.JSONField(
        default=list, blank=True, help_text="0 = Monday … 6 = Sunday; empty = every day."
    )
    start_time = models.TimeField(null=True, blank=True)
    end_time = models.TimeField(null=True, blank=True)
    agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE, related_name="+")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["phone_number", "position", "id"]

    def __str__(self) -> str:
        return self.name or f"rule {self.position}"


class CallDirection(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"


class CallStatus(models.TextChoices):
    """The call's state machine (see ``calls.lifecycle``); values are the carrier layer's."""

    QUEUED = CarrierCallStatus.QUEUED.value, "Queued"
    RINGING = CarrierCallStatus.RINGING.value, "Ringing"
    IN_PROGRESS = CarrierCallStatus.IN_PROGRESS.value, "In progress"
    COMPLETED = CarrierCallStatus.COMPLETED.value, "Completed"
    BUSY = CarrierCallStatus.BUSY.value, "Busy"
    NO_ANSWER = CarrierCallStatus.NO_ANSWER.value, "No answer"
    CANCELED = CarrierCallStatus.CANCELED.value, "Canceled"
    FAILED = CarrierCallStatus.FAILED.value, "Failed"


class EndReason(models.TextChoices):
    COMPLETED = "completed", "Completed"
    CALLER_HANGUP = "caller_hangup", "Caller hung up"
    AGENT_HANGUP = "agent_hangup", "Agent hung up"
    MAX_DURATION = "max_duration", "Maximum duration reached"
    NO_ANSWER = "no_answer", "No answer"
    BUSY = "busy", "Busy"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"
    TRANSFERRED = "transferred", "Transferred"
    VOICEMAIL = "voicemail", "Voicemail"


class Call(models.Model):
    """One phone call, inbound or outbound. ``status`` only moves forward (queued → ringing →
    in progress → a final status) and a final status never changes, however late, duplicated
    or out of order the carrier's callbacks arrive. ``end_reason`` may be set before the call
    is final when we know why it will end (a transfer, a voicemail)."""

    direction = models.CharField(max_length=10, choices=CallDirection.choices)
    from_number = models.CharField(max_length=20)
    to_number = models.CharField(max_length=20)
    phone_number = models.ForeignKey(
        PhoneNumber,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="calls",
        help_text="Our number on this call.",
    )
    provider = models.CharField(max_length=10, choices=Provider.choices)
    provider_call_id = models.CharField(max_length=64, blank=True, db_index=True)
    agent = models.ForeignKey(
        "agents.Agent", null=True, blank=True, on_delete=models.PROTECT, related_name="calls"
    )
    agent_version = models.ForeignKey(
        "agents.AgentVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="calls",
    )
    status = models.CharField(
        max_length=12, choices=CallStatus.choices, default=CallStatus.QUEUED, db_index=True
    )
    end_reason = models.CharField(max_length=16, choices=EndReason.choices, blank=True)
    answered_by = models.CharField(
        max_length=10, blank=True, help_text="human or machine, when detection ran."
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    placed_at = models.DateTimeField(
        null=True, blank=True, help_text="When we asked the carrier to dial (at most once)."
    )
    ringing_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    recording_url = models.URLField(max_length=500, blank=True)
    recording_duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    cost = models.DecimalField(max_digits=12, decimal_places=5, null=True, blank=True)
    cost_currency = models.CharField(max_length=3, blank=True)
    variables = models.JSONField(default=dict, blank=True)
    usage = models.JSONField(
        default=dict, blank=True, help_text="Model usage (tokens, audio seconds) from the bridge."
    )
    error_code = models.CharField(max_length=32, blank=True)
    error_message = models.TextField(blank=True)
    # Batches and schedules arrive in a later issue; plain ids now, foreign keys then.
    batch_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    schedule_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["direction", "status"])]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_call_id"],
                condition=~models.Q(provider_call_id=""),
                name="uniq_call_provider_call_id",
            )
        ]

    def __str__(self) -> str:
        return f"call {self.pk} {self.from_number} → {self.to_number} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def counterpart_number(self) -> str:
        """The other party's number (not ours)."""
        return self.from_number if self.direction == CallDirection.INBOUND else self.to_number


FINAL_STATUSES = frozenset(
    {
        CallStatus.COMPLETED,
        CallStatus.BUSY,
        CallStatus.NO_ANSWER,
        CallStatus.CANCELED,
        CallStatus.FAILED,
    }
)
ACTIVE_STATUSES = frozenset({CallStatus.QUEUED, CallStatus.RINGING, CallStatus.IN_PROGRESS})


class CallEvent(models.Model):
    """One entry of a call's timeline: a carrier webhook (with its payload), a status change,
    an action we took, an error. Written explicitly by the services, never by signals."""

    class Kind(models.TextChoices):
        WEBHOOK = "webhook", "Carrier webhook"
        STATUS = "status", "Status change"
        ACTION = "action", "Action"
        ERROR = "error", "Error"
        INFO = "info", "Information"

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=64)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["call", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.name}"


class TranscriptTurn(models.Model):
    """What one side said, with its offsets from the start of the call's audio. Written by the
    media bridge."""

    class Speaker(models.TextChoices):
        AGENT = "agent", "Agent"
        CALLER = "caller", "Caller"
        SYSTEM = "system", "System"

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="transcript")
    speaker = models.CharField(max_length=10, choices=Speaker.choices)
    text = models.TextField()
    start_ms = models.PositiveIntegerField(default=0)
    end_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["call", "start_ms", "id"]

    def __str__(self) -> str:
        return f"{self.speaker}: {self.text[:40]}"


class ToolInvocation(models.Model):
    """A tool the agent called during the call, its result or error and how long it took.
    Written by the media bridge."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="tool_invocations")
    name = models.CharField(max_length=100)
    arguments = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["call", "created_at", "id"]

    def __str__(self) -> str:
        return self.name


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
    provider = models.CharField(max_length=10, choices=Provider.choices)
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

"""Calls, inbound or outbound, with their timeline (CallEvent), transcript and tool use.

``CallStatus`` and its sets are the telephony layer's (calls.telephony.base), re-exported here:
the carriers map their statuses onto the very choices the model stores.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from calls.models.phone_numbers import PhoneNumber
from calls.telephony.base import ACTIVE_STATUSES, FINAL_STATUSES, CallStatus, Carrier

__all__ = [
    "ACTIVE_STATUSES",
    "CALL_PROVIDERS",
    "FINAL_STATUSES",
    "WEB_PROVIDER",
    "AnalysisStatus",
    "Call",
    "CallDirection",
    "CallEvent",
    "CallStatus",
    "EndReason",
    "ToolInvocation",
    "TranscriptTurn",
]


class CallDirection(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"
    # An operator trying an agent from the console ("Talk to this agent"): the browser streams
    # the microphone through the same media consumer and bridge as a phone call.
    WEB = "web", "Browser test call"


# What carries a call: one of the carriers, or the operator's browser for a web call (no
# carrier: no dial, no carrier call id, nothing to ask a carrier about).
WEB_PROVIDER = "web"
CALL_PROVIDERS = [*Carrier.choices, (WEB_PROVIDER, "Browser")]


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


class AnalysisStatus(models.TextChoices):
    """Where a call's post-call analysis is: empty for calls it does not apply to yet."""

    PENDING = "pending", "Being analysed"
    COMPLETED = "completed", "Analysed"
    FAILED = "failed", "The model failed or its answer did not fit the schema"
    SKIPPED = "skipped", "Not analysed (no transcript, turned off, no model)"


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
    provider = models.CharField(max_length=10, choices=CALL_PROVIDERS)
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
    batch = models.ForeignKey(
        "calls.Batch", null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    batch_row = models.ForeignKey(
        "calls.BatchRow", null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    # Schedules arrive in a later issue; a plain id now, a foreign key then.
    schedule_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    # Post-call analysis (calls.services.analysis): summary, sentiment, goal and the agent's
    # own fields, valid against its analysis schema; or why there is none.
    analysis = models.JSONField(null=True, blank=True)
    analysis_status = models.CharField(
        max_length=10, choices=AnalysisStatus.choices, blank=True, default=""
    )
    analysis_error = models.CharField(max_length=500, blank=True)
    analyzed_at = models.DateTimeField(null=True, blank=True)
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

"""Batch calls (tenant schema): a list of people to call with one agent, each row accounted
for, its timeline (BatchEvent), and the organization's do-not-call list.

A ``Batch`` keeps exact counters of its rows by status: every row transition goes through
``calls.services.batch_rows`` (never a bare ``save``), which moves one counter down and another
up in the same transaction, so ``total = queued + in_progress + completed + failed + invalid +
skipped + canceled`` holds at every moment.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from calls.models.calls import Call
from calls.models.phone_numbers import PhoneNumber

__all__ = [
    "Batch",
    "BatchEvent",
    "BatchRow",
    "BatchRowOutcome",
    "BatchRowStatus",
    "BatchStatus",
    "DoNotCallEntry",
]


class BatchStatus(models.TextChoices):
    """``draft`` -> ``running`` <-> ``paused`` -> ``completed`` | ``canceled``."""

    DRAFT = "draft", "Draft"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    CANCELED = "canceled", "Canceled"


class BatchRowStatus(models.TextChoices):
    """Where one row stands. ``queued`` rows wait for their turn, their calling window or
    their next attempt (``next_attempt_at``); ``in_progress`` rows have a call in flight."""

    QUEUED = "queued", "Queued"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    INVALID = "invalid", "Invalid"
    SKIPPED = "skipped", "Skipped"
    CANCELED = "canceled", "Canceled"


class BatchRowOutcome(models.TextChoices):
    """What the last attempt came to (the retry policy is keyed on these)."""

    ANSWERED = "answered", "Answered"
    NO_ANSWER = "no_answer", "No answer"
    BUSY = "busy", "Busy"
    FAILED = "failed", "Failed"
    VOICEMAIL = "voicemail", "Voicemail"
    CANCELED = "canceled", "Canceled"


# The counter column of each row status, on Batch.
COUNTER_FIELDS: dict[str, str] = {
    BatchRowStatus.QUEUED: "queued_count",
    BatchRowStatus.IN_PROGRESS: "in_progress_count",
    BatchRowStatus.COMPLETED: "completed_count",
    BatchRowStatus.FAILED: "failed_count",
    BatchRowStatus.INVALID: "invalid_count",
    BatchRowStatus.SKIPPED: "skipped_count",
    BatchRowStatus.CANCELED: "canceled_count",
}


def _default_retry_outcomes() -> list[str]:
    return [BatchRowOutcome.NO_ANSWER, BatchRowOutcome.BUSY, BatchRowOutcome.FAILED]


class Batch(models.Model):
    """A list of people to call with one agent, dialed at a bounded concurrency and pace,
    inside a calling window in each callee's local time, with retries per outcome."""

    name = models.CharField(max_length=200)
    agent = models.ForeignKey("agents.Agent", on_delete=models.PROTECT, related_name="batches")
    status = models.CharField(
        max_length=10, choices=BatchStatus.choices, default=BatchStatus.DRAFT, db_index=True
    )
    from_number = models.ForeignKey(
        PhoneNumber,
        on_delete=models.PROTECT,
        related_name="batches",
        help_text="The number the batch dials from.",
    )
    # Dialing
    max_concurrency = models.PositiveIntegerField(
        default=10,
        help_text="Calls of this batch in flight at once (the organization's limit "
        "across all calls applies too).",
    )
    calls_per_second = models.FloatField(
        default=1.0, help_text="Call starts per second; 0 turns pacing off."
    )
    # Calling window, in the callee's local time. Empty days = every day. A window whose end
    # is before its start runs overnight. Defaults: the organization's window.
    window_days = models.JSONField(default=list, blank=True, help_text="0 = Monday … 6 = Sunday.")
    window_start = models.TimeField(null=True, blank=True)
    window_end = models.TimeField(null=True, blank=True)
    # Retries
    retry_outcomes = models.JSONField(default=_default_retry_outcomes, blank=True)
    max_attempts = models.PositiveIntegerField(
        default=1, help_text="Attempts per row, first included."
    )
    retry_delay_seconds = models.PositiveIntegerField(default=3600)
    # Circuit breaker: pause when more than ``breaker_threshold`` of the last
    # ``breaker_window`` attempts failed.
    breaker_window = models.PositiveIntegerField(default=20)
    breaker_threshold = models.FloatField(default=0.8)
    # Input
    column_mapping = models.JSONField(default=dict, blank=True)
    source = models.CharField(
        max_length=20, blank=True, help_text="upload, rows, url, s3, admin, cli"
    )
    source_name = models.CharField(max_length=500, blank=True)
    columns = models.JSONField(default=list, blank=True, help_text="The input's columns, in order.")
    # Counters (exact; see the module docstring)
    total_count = models.PositiveIntegerField(default=0)
    queued_count = models.PositiveIntegerField(default=0)
    in_progress_count = models.PositiveIntegerField(default=0)
    completed_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    invalid_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    canceled_count = models.PositiveIntegerField(default=0)
    # State
    status_reason = models.CharField(max_length=500, blank=True)
    next_dial_at = models.DateTimeField(
        null=True, blank=True, help_text="Pacing: the earliest time the next call may start."
    )
    created_by = models.ForeignKey(
        "organizations.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "batches"

    def __str__(self) -> str:
        return self.name


class BatchEvent(models.Model):
    """One entry of a batch's timeline: a control action (started, paused, resumed, canceled,
    failed rows retried), a status change the dispatcher made (the circuit breaker, the end),
    an error. Written explicitly by the batch services, never by signals."""

    class Kind(models.TextChoices):
        ACTION = "action", "Action"
        STATUS = "status", "Status change"
        INFO = "info", "Information"
        ERROR = "error", "Error"

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=64)
    payload = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        "organizations.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who did it (none: the dispatcher).",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["batch", "created_at", "id"]
        indexes = [models.Index(fields=["batch", "created_at"], name="batch_event_time")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.name}"


class BatchRow(models.Model):
    """One input row: as read, normalized, and what became of it."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="rows")
    line_number = models.PositiveIntegerField(help_text="Line in the input (1 = header).")
    raw = models.JSONField(default=dict, blank=True, help_text="The row's columns as read.")
    phone_number = models.CharField(max_length=20, blank=True, help_text="E.164, when valid.")
    timezone = models.CharField(max_length=64, blank=True, help_text="The callee's IANA zone.")
    variables = models.JSONField(default=dict, blank=True, help_text="Prompt variables.")
    status = models.CharField(
        max_length=12, choices=BatchRowStatus.choices, default=BatchRowStatus.QUEUED
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_call = models.ForeignKey(
        Call, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(max_length=12, choices=BatchRowOutcome.choices, blank=True)
    error = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["batch", "line_number"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "line_number"], name="uniq_batch_row_line")
        ]
        indexes = [
            # The dispatcher's claim: due queued rows of one batch, oldest first.
            models.Index(
                fields=["batch", "next_attempt_at", "line_number"],
                name="batch_row_due",
                condition=models.Q(status="queued"),
            ),
            models.Index(fields=["batch", "status"], name="batch_row_status"),
        ]

    def __str__(self) -> str:
        return f"line {self.line_number}: {self.phone_number or '(invalid)'}"


class DoNotCallEntry(models.Model):
    """A number the organization must never dial (checked at import and again at dial time)."""

    number = models.CharField(max_length=20, unique=True, help_text="E.164.")
    reason = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=20, blank=True, help_text="api, csv, admin")
    created_by = models.ForeignKey(
        "organizations.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["number"]
        verbose_name = "do-not-call entry"
        verbose_name_plural = "do-not-call list"

    def __str__(self) -> str:
        return self.number

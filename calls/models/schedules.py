"""Scheduled calls (tenant schema): a call, or a batch, to run once at a time or again and
again on a cron expression, in a time zone, and every run it made (ScheduledRun).

The schedule's next run is also written to a public-schema index
(``organizations.ScheduleIndexEntry``), in the same transaction, so the dispatcher finds the
due schedules of every organization with one indexed query (calls.services.schedule_dispatch).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone as dj_timezone

from calls.models.batches import Batch, BatchRowOutcome
from calls.models.calls import Call
from calls.models.phone_numbers import PhoneNumber

__all__ = [
    "MissedRunPolicy",
    "ScheduleStatus",
    "ScheduledCall",
    "ScheduledRun",
    "ScheduledRunStatus",
]


class ScheduleStatus(models.TextChoices):
    """``active`` <-> ``paused``; ``completed`` when no run is left (a one-time schedule that
    ran, the end date or ``max_runs`` reached); ``canceled`` for good."""

    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    CANCELED = "canceled", "Canceled"


class MissedRunPolicy(models.TextChoices):
    """What a run found late (beat or the workers were down) does. Whatever the policy, many
    missed runs of one schedule make at most one run: never a burst."""

    RUN_WITHIN_GRACE = "run_within_grace", "Run once now if missed by less than the grace period"
    RUN_ALWAYS = "run_always", "Run once now, however late"
    SKIP = "skip", "Skip to the next run"


def _default_retry_outcomes() -> list[str]:
    return [BatchRowOutcome.NO_ANSWER, BatchRowOutcome.BUSY, BatchRowOutcome.FAILED]


class ScheduledCall(models.Model):
    """A call to ``phone_number`` with ``agent`` (or a run of ``batch``'s list), once at
    ``scheduled_time`` or on every match of ``cron_expression`` in ``timezone``, between
    ``start_date`` and ``end_date`` (local dates), at most ``max_runs`` times.

    ``next_run_at`` is the next occurrence (UTC); the public index holds it too, or an
    earlier retry of a run when one is due first."""

    name = models.CharField(max_length=200, blank=True)
    agent = models.ForeignKey("agents.Agent", on_delete=models.PROTECT, related_name="schedules")
    # The target: one number, or a batch whose list every run calls.
    phone_number = models.CharField(max_length=20, blank=True, help_text="E.164.")
    batch = models.ForeignKey(
        Batch,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="schedules",
        help_text="A one-time schedule starts this batch; a recurring one runs a copy of its "
        "list each time.",
    )
    variables = models.JSONField(default=dict, blank=True, help_text="Prompt variables.")
    from_number = models.ForeignKey(
        PhoneNumber,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="schedules",
        help_text="The number calls come from (a batch dials from its own).",
    )
    # When
    scheduled_time = models.DateTimeField(null=True, blank=True, help_text="One-time (UTC).")
    cron_expression = models.CharField(max_length=120, blank=True, help_text="Recurring.")
    timezone = models.CharField(max_length=64, help_text="IANA zone the times are read in.")
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    max_runs = models.PositiveIntegerField(null=True, blank=True)
    # Missed runs
    missed_policy = models.CharField(
        max_length=20, choices=MissedRunPolicy.choices, default=MissedRunPolicy.RUN_WITHIN_GRACE
    )
    missed_grace_seconds = models.PositiveIntegerField(default=3600)
    # Retries of a run's call
    retry_outcomes = models.JSONField(default=_default_retry_outcomes, blank=True)
    max_attempts = models.PositiveIntegerField(default=1, help_text="Per run, first included.")
    retry_delay_seconds = models.PositiveIntegerField(default=600)
    # State
    status = models.CharField(
        max_length=10, choices=ScheduleStatus.choices, default=ScheduleStatus.ACTIVE, db_index=True
    )
    status_reason = models.CharField(max_length=500, blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    run_count = models.PositiveIntegerField(default=0, help_text="Runs that fired.")
    last_run = models.ForeignKey(
        "calls.ScheduledRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        "organizations.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=dj_timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "schedule"
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(scheduled_time__isnull=False, cron_expression="")
                    | models.Q(scheduled_time__isnull=True) & ~models.Q(cron_expression="")
                ),
                name="schedule_once_or_cron",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(batch__isnull=True) & ~models.Q(phone_number="")
                    | models.Q(batch__isnull=False, phone_number="")
                ),
                name="schedule_number_or_batch",
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"schedule {self.pk}"

    @property
    def is_recurring(self) -> bool:
        return bool(self.cron_expression)


class ScheduledRunStatus(models.TextChoices):
    """``in_progress``: its call is up (or its batch runs); ``waiting``: its next attempt is
    due at ``next_attempt_at`` (a retry, or the organization's concurrency limit was met);
    then ``completed`` (answered), ``failed`` (no attempt got through), ``skipped`` (missed,
    or the number is on the do-not-call list) or ``canceled``. A batch run is ``started``:
    the batch's own window, do-not-call list and retries take it from there."""

    IN_PROGRESS = "in_progress", "In progress"
    WAITING = "waiting", "Waiting for its next attempt"
    STARTED = "started", "Batch started"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    CANCELED = "canceled", "Canceled"


OPEN_RUN_STATUSES = (ScheduledRunStatus.IN_PROGRESS, ScheduledRunStatus.WAITING)


class ScheduledRun(models.Model):
    """One run of a schedule: the occurrence it is for (``due_at``), when it fired, the calls
    it made (``call`` is the newest, ``call_ids`` all of them) or the batch it ran, and what
    came of it. ``reason`` says why it ran late, was skipped or failed."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        MISSED = "missed", "Missed run"
        MANUAL = "manual", "Run now"

    schedule = models.ForeignKey(ScheduledCall, on_delete=models.CASCADE, related_name="runs")
    due_at = models.DateTimeField(help_text="The occurrence this run is for (UTC).")
    fired_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    status = models.CharField(max_length=12, choices=ScheduledRunStatus.choices)
    outcome = models.CharField(max_length=12, choices=BatchRowOutcome.choices, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    call = models.ForeignKey(
        Call, null=True, blank=True, on_delete=models.SET_NULL, related_name="scheduled_runs"
    )
    call_ids = models.JSONField(default=list, blank=True)
    batch = models.ForeignKey(
        Batch, null=True, blank=True, on_delete=models.SET_NULL, related_name="scheduled_runs"
    )
    reason = models.CharField(max_length=500, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-due_at", "-id"]
        constraints = [
            # The safety net under the dispatcher's claim: one run per occurrence.
            models.UniqueConstraint(fields=["schedule", "due_at"], name="uniq_schedule_run_due")
        ]
        indexes = [
            models.Index(
                fields=["schedule", "next_attempt_at"],
                name="scheduled_run_waiting",
                condition=models.Q(status="waiting"),
            ),
            # The repair sweep's two reads (calls.services.schedule_runs): open runs are few
            # among a schedule's whole history, so it reads them, never the history.
            models.Index(
                fields=["call"],
                name="scheduled_run_in_progress",
                condition=models.Q(status="in_progress"),
            ),
            models.Index(
                fields=["batch"],
                name="scheduled_run_started",
                condition=models.Q(status="started"),
            ),
        ]

    def __str__(self) -> str:
        return f"run of {self.schedule_id} due {self.due_at:%Y-%m-%d %H:%M} ({self.status})"

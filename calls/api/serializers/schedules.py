"""API shapes of schedules: a schedule with its next run and plain-language reading, its runs,
the create and change requests, and the preview of an unsaved expression. Every rule (the
time zone, the cron expression, a time in the past) is checked by calls.services."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from rest_framework import serializers

from calls.models import MissedRunPolicy, ScheduledCall, ScheduledRun
from calls.services import RETRYABLE_OUTCOMES
from calls.services.schedule_index import schedule_zone
from calls.services.schedule_times import cron_describe

__all__ = [
    "ScheduleCreateSerializer",
    "ScheduleNextRunsSerializer",
    "SchedulePreviewRequestSerializer",
    "ScheduleSerializer",
    "ScheduleUpdateSerializer",
    "ScheduledRunSerializer",
]

_MAX_ID = 2**31 - 1


def schedule_description(schedule: ScheduledCall) -> str:
    """The plain-language reading of a schedule's times."""
    if schedule.cron_expression:
        return cron_describe(schedule.cron_expression)
    if schedule.scheduled_time is None:
        return ""
    local = schedule.scheduled_time.astimezone(schedule_zone(schedule))
    return f"Once, on {local:%Y-%m-%d} at {local:%H:%M} ({schedule.timezone})"


class ScheduledRunBriefSerializer(serializers.ModelSerializer):
    call_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = ScheduledRun
        fields = ["id", "due_at", "status", "outcome", "call_id"]
        read_only_fields = fields


class ScheduledRunSerializer(serializers.ModelSerializer):
    call_id = serializers.IntegerField(read_only=True, allow_null=True)
    batch_id = serializers.IntegerField(read_only=True, allow_null=True)
    call_ids = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    details = serializers.DictField(read_only=True)

    class Meta:
        model = ScheduledRun
        fields = [
            "id",
            "due_at",
            "fired_at",
            "trigger",
            "status",
            "outcome",
            "attempts",
            "next_attempt_at",
            "call_id",
            "call_ids",
            "batch_id",
            "reason",
            "details",
            "created_at",
        ]
        read_only_fields = fields


class ScheduleSerializer(serializers.ModelSerializer):
    agent_id = serializers.IntegerField(read_only=True)
    batch_id = serializers.IntegerField(read_only=True, allow_null=True)
    from_number = serializers.CharField(
        source="from_number.number", read_only=True, default=None, allow_null=True
    )
    variables = serializers.DictField(read_only=True)
    retry_outcomes = serializers.ListField(child=serializers.CharField(), read_only=True)
    recurring = serializers.BooleanField(source="is_recurring", read_only=True)
    description = serializers.SerializerMethodField(
        help_text='The times in plain language: "At 09:00, only on Monday".'
    )
    last_run = ScheduledRunBriefSerializer(read_only=True, allow_null=True)
    created_by = serializers.EmailField(
        source="created_by.email", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = ScheduledCall
        fields = [
            "id",
            "name",
            "agent_id",
            "phone_number",
            "batch_id",
            "variables",
            "from_number",
            "recurring",
            "scheduled_time",
            "cron_expression",
            "description",
            "timezone",
            "start_date",
            "end_date",
            "max_runs",
            "missed_policy",
            "missed_grace_seconds",
            "retry_outcomes",
            "max_attempts",
            "retry_delay_seconds",
            "status",
            "status_reason",
            "next_run_at",
            "run_count",
            "last_run",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_description(self, obj: ScheduledCall) -> str:
        return schedule_description(obj)


class _ScheduleSettingsSerializer(serializers.Serializer):
    """The fields create and change share. Times stay text: a naive time is read in the
    schedule's zone by the service, which DRF's DateTimeField would read in UTC."""

    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    variables = serializers.DictField(required=False, allow_null=True)
    from_number = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=40
    )
    scheduled_time = serializers.CharField(
        required=False,
        max_length=64,
        help_text="One-time: `2024-02-01 14:00:00` (read in `timezone`) or with a UTC offset "
        "(`2024-02-01T14:00:00-05:00`, which wins).",
    )
    cron_expression = serializers.CharField(
        required=False,
        max_length=120,
        help_text="Recurring: five fields, minute hour day-of-month month day-of-week "
        "(`0 9 * * MON`), names such as MON and JAN allowed, read in `timezone`.",
    )
    timezone = serializers.CharField(
        required=False,
        max_length=64,
        help_text="IANA time zone (`America/New_York`); the organization's by default.",
    )
    start_date = serializers.DateField(required=False, allow_null=True)
    end_date = serializers.DateField(required=False, allow_null=True)
    max_runs = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=1_000_000
    )
    missed_policy = serializers.ChoiceField(choices=MissedRunPolicy.choices, required=False)
    missed_grace_seconds = serializers.IntegerField(
        required=False, min_value=0, max_value=7 * 24 * 3600
    )
    retry_outcomes = serializers.ListField(
        child=serializers.ChoiceField(choices=list(RETRYABLE_OUTCOMES)), required=False
    )
    max_attempts = serializers.IntegerField(required=False, min_value=1, max_value=10)
    retry_delay_seconds = serializers.IntegerField(
        required=False, min_value=0, max_value=7 * 24 * 3600
    )


class ScheduleCreateSerializer(_ScheduleSettingsSerializer):
    """A call (``agent_id`` and ``phone_number``) or a batch (``batch_id``), with either
    ``scheduled_time`` (one-time) or ``cron_expression`` (recurring)."""

    agent_id = serializers.IntegerField(required=False, min_value=1, max_value=_MAX_ID)
    phone_number = serializers.CharField(required=False, max_length=40)
    batch_id = serializers.IntegerField(required=False, min_value=1, max_value=_MAX_ID)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("scheduled_time" in attrs) == ("cron_expression" in attrs):
            message = "Give either scheduled_time (one-time) or cron_expression (recurring)."
            raise serializers.ValidationError(
                {"scheduled_time": [message], "cron_expression": [message]}
            )
        return attrs


class ScheduleUpdateSerializer(_ScheduleSettingsSerializer):
    phone_number = serializers.CharField(required=False, max_length=40)


class SchedulePreviewRequestSerializer(serializers.Serializer):
    cron_expression = serializers.CharField(required=False, allow_blank=True, max_length=120)
    scheduled_time = serializers.CharField(required=False, allow_blank=True, max_length=64)
    timezone = serializers.CharField(required=False, allow_blank=True, max_length=64)
    start_date = serializers.DateField(required=False, allow_null=True)
    end_date = serializers.DateField(required=False, allow_null=True)
    count = serializers.IntegerField(required=False, min_value=1, max_value=50, default=5)


class ScheduleNextRunsSerializer(serializers.Serializer):
    """Next runs in UTC and as the schedule's wall clock reads them, with the reading."""

    timezone = serializers.CharField()
    description = serializers.CharField()
    next_runs = serializers.ListField(child=serializers.DateTimeField())
    next_runs_local = serializers.ListField(
        child=serializers.CharField(),
        help_text="The same instants in the schedule's zone, ISO 8601 with their offset.",
    )

    @staticmethod
    def shape(*, timezone: str, description: str, runs: list[dt.datetime]) -> dict[str, Any]:
        zone = zoneinfo.ZoneInfo(timezone)
        return {
            "timezone": timezone,
            "description": description,
            "next_runs": runs,
            "next_runs_local": [run.astimezone(zone).isoformat() for run in runs],
        }

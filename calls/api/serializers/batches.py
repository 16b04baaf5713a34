"""API shapes of batches: a batch with its counters and progress, its rows, its timeline, and
the create and change requests (a multipart file, inline rows or a file_url, with the
settings)."""

from __future__ import annotations

import json
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.utils import html

from calls.models import Batch, BatchEvent, BatchRow, BatchRowStatus
from calls.services import RETRYABLE_OUTCOMES

__all__ = [
    "BatchCountsSerializer",
    "BatchCreateSerializer",
    "BatchDetailSerializer",
    "BatchEventSerializer",
    "BatchProgressSerializer",
    "BatchRowSerializer",
    "BatchSerializer",
    "BatchUpdateSerializer",
]


class _JSONInForm:
    """A field that also takes its value as a JSON string: a multipart request carries
    ``column_mapping`` or ``window_days`` as text."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, list) and len(data) == 1 and isinstance(data[0], str):
            data = data[0] if data[0].lstrip().startswith("[") else data
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError:
                raise serializers.ValidationError("Give JSON.") from None
        return super().to_internal_value(data)  # type: ignore[misc]


class _JSONDictField(_JSONInForm, serializers.DictField):
    def get_value(self, dictionary: Any) -> Any:
        # A form sends the object as one JSON text (DictField alone reads ``name.key`` fields).
        if html.is_html_input(dictionary) and self.field_name in dictionary:
            return dictionary.get(self.field_name)
        return super().get_value(dictionary)


class _JSONListField(_JSONInForm, serializers.ListField):
    pass


@extend_schema_field({"type": "array", "items": {"type": "object", "additionalProperties": {}}})
class _RowsField(serializers.JSONField):
    pass


class BatchCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField(source="total_count")
    queued = serializers.IntegerField(source="queued_count")
    in_progress = serializers.IntegerField(source="in_progress_count")
    completed = serializers.IntegerField(source="completed_count")
    failed = serializers.IntegerField(source="failed_count")
    invalid = serializers.IntegerField(source="invalid_count")
    skipped = serializers.IntegerField(source="skipped_count")
    canceled = serializers.IntegerField(source="canceled_count")


class BatchProgressSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    finished = serializers.IntegerField(
        help_text="completed + failed + invalid + skipped + canceled"
    )
    remaining = serializers.IntegerField(help_text="queued + in progress")
    percent = serializers.FloatField(help_text="finished / total, in percent")
    rate_per_minute = serializers.FloatField(
        help_text="Rows whose call ended per minute, over the last five minutes."
    )
    eta_seconds = serializers.IntegerField(allow_null=True)
    estimated_finish_at = serializers.DateTimeField(allow_null=True)


class BatchSerializer(serializers.ModelSerializer):
    agent_id = serializers.IntegerField(read_only=True)
    window_days = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    retry_outcomes = serializers.ListField(child=serializers.CharField(), read_only=True)
    column_mapping = serializers.DictField(child=serializers.CharField(), read_only=True)
    columns = serializers.ListField(child=serializers.CharField(), read_only=True)
    from_number = serializers.CharField(source="from_number.number", read_only=True)
    counts = BatchCountsSerializer(source="*", read_only=True)
    created_by = serializers.EmailField(
        source="created_by.email", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = Batch
        fields = [
            "id",
            "name",
            "agent_id",
            "status",
            "status_reason",
            "from_number",
            "max_concurrency",
            "calls_per_second",
            "window_days",
            "window_start",
            "window_end",
            "retry_outcomes",
            "max_attempts",
            "retry_delay_seconds",
            "breaker_window",
            "breaker_threshold",
            "column_mapping",
            "source",
            "source_name",
            "columns",
            "counts",
            "next_dial_at",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "updated_at",
        ]
        read_only_fields = fields


# A batch with its progress (given in the context as ``progress``).
class BatchDetailSerializer(BatchSerializer):
    progress = serializers.SerializerMethodField()

    class Meta(BatchSerializer.Meta):
        fields = [*BatchSerializer.Meta.fields, "progress"]
        read_only_fields = fields

    @extend_schema_field(BatchProgressSerializer)
    def get_progress(self, obj: Batch) -> dict[str, Any]:
        return dict(BatchProgressSerializer(self.context["progress"]).data)


# The settings a batch is created with and may change while draft or paused. Their rules
# (limits, the organization's caps) are the service's.
class _BatchSettingsFields(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    from_number = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        help_text="One of the organization's numbers; default: the organization's default "
        "caller id, else the agent's number.",
    )
    max_concurrency = serializers.IntegerField(required=False)
    calls_per_second = serializers.FloatField(required=False, help_text="0 turns pacing off.")
    window_days = _JSONListField(
        child=serializers.IntegerField(), required=False, help_text="0 = Monday … 6 = Sunday."
    )
    window_start = serializers.TimeField(required=False, allow_null=True)
    window_end = serializers.TimeField(required=False, allow_null=True)
    retry_outcomes = _JSONListField(
        child=serializers.ChoiceField(choices=list(RETRYABLE_OUTCOMES)), required=False
    )
    max_attempts = serializers.IntegerField(required=False)
    retry_delay_seconds = serializers.IntegerField(required=False)
    breaker_window = serializers.IntegerField(required=False)
    breaker_threshold = serializers.FloatField(required=False)


class BatchCreateSerializer(_BatchSettingsFields):
    agent_id = serializers.IntegerField()
    file = serializers.FileField(required=False, help_text="A CSV or JSON file (multipart).")
    rows = _RowsField(
        required=False, help_text="Inline rows: an array of objects of column names and values."
    )
    file_url = serializers.CharField(
        max_length=2000, required=False, help_text="An https:// or s3://bucket/key URL."
    )
    column_mapping = _JSONDictField(
        child=serializers.CharField(),
        required=False,
        help_text='Our names to your columns: {"phone": "Phone", "timezone": "TZ", '
        '"customer_name": "Name"}; without it the phone column is guessed.',
    )
    start = serializers.BooleanField(required=False, default=False)

    def validate_rows(self, value: Any) -> Any:
        if not isinstance(value, list):
            raise serializers.ValidationError("Give an array of row objects.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [name for name in ("file", "rows", "file_url") if attrs.get(name) is not None]
        if len(given) != 1:
            raise serializers.ValidationError(
                {"file": ["Give exactly one of file (multipart), rows or file_url."]}
            )
        return attrs


# Only these fields change (the agent, the input and its mapping are fixed at creation).
class BatchUpdateSerializer(_BatchSettingsFields):
    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {name: ["This field cannot be changed."] for name in unknown}
            )
        return attrs


class BatchRowSerializer(serializers.ModelSerializer):
    last_call_id = serializers.IntegerField(read_only=True, allow_null=True)
    status = serializers.ChoiceField(choices=BatchRowStatus.choices, read_only=True)

    class Meta:
        model = BatchRow
        fields = [
            "id",
            "line_number",
            "status",
            "phone_number",
            "timezone",
            "variables",
            "raw",
            "attempts",
            "next_attempt_at",
            "outcome",
            "last_call_id",
            "error",
            "updated_at",
        ]
        read_only_fields = fields


class BatchEventSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=BatchEvent.Kind.choices, read_only=True)
    name = serializers.CharField(
        read_only=True,
        help_text="started, paused, resumed, canceled, failed_rows_retried (actions); "
        "breaker_tripped, completed (status changes); paused_on_error (errors).",
    )
    payload = serializers.DictField(read_only=True, help_text="What the event says, by name.")
    actor = serializers.EmailField(
        source="actor.email",
        read_only=True,
        default=None,
        allow_null=True,
        help_text="Who did it; null: the dispatcher.",
    )

    class Meta:
        model = BatchEvent
        fields = ["id", "kind", "name", "payload", "actor", "created_at"]
        read_only_fields = fields

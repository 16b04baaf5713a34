"""API shapes of calls: lists, one call with its timeline, transcript and tool use, and the
start and transfer requests."""

from __future__ import annotations

import json
from typing import Any

from rest_framework import serializers

from calls.models import Call, CallEvent, ToolInvocation, TranscriptTurn

__all__ = [
    "CallCreateSerializer",
    "CallDetailSerializer",
    "CallEventSerializer",
    "CallSerializer",
    "CallTransferSerializer",
    "ToolInvocationSerializer",
    "TranscriptTurnSerializer",
]

# A call's prompt variables are copied into its row and its agent's prompt: keep them small.
VARIABLES_MAX_LENGTH = 16_384


class CallSerializer(serializers.ModelSerializer):
    agent_id = serializers.IntegerField(read_only=True, allow_null=True)
    agent_version = serializers.IntegerField(
        source="agent_version.number", read_only=True, allow_null=True, default=None
    )
    phone_number_id = serializers.IntegerField(read_only=True, allow_null=True)
    batch_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Call
        fields = [
            "id",
            "direction",
            "status",
            "end_reason",
            "from_number",
            "to_number",
            "phone_number_id",
            "provider",
            "provider_call_id",
            "agent_id",
            "agent_version",
            "answered_by",
            "created_at",
            "placed_at",
            "ringing_at",
            "answered_at",
            "ended_at",
            "duration_seconds",
            "recording_url",
            "recording_duration_seconds",
            "cost",
            "cost_currency",
            "variables",
            "usage",
            "error_code",
            "error_message",
            "batch_id",
            "schedule_id",
        ]
        read_only_fields = fields


class CallEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = CallEvent
        fields = ["id", "kind", "name", "payload", "created_at"]
        read_only_fields = fields


class TranscriptTurnSerializer(serializers.ModelSerializer):
    class Meta:
        model = TranscriptTurn
        fields = ["id", "speaker", "text", "start_ms", "end_ms"]
        read_only_fields = fields


class ToolInvocationSerializer(serializers.ModelSerializer):
    class Meta:
        model = ToolInvocation
        fields = ["id", "name", "arguments", "result", "error", "duration_ms", "created_at"]
        read_only_fields = fields
        extra_kwargs = {
            "result": {
                "help_text": "What the tool answered (any JSON value); null when it failed "
                "(see `error`)."
            }
        }


class CallDetailSerializer(CallSerializer):
    timeline = CallEventSerializer(source="events", many=True, read_only=True)
    transcript = TranscriptTurnSerializer(many=True, read_only=True)
    tool_invocations = ToolInvocationSerializer(many=True, read_only=True)
    analysis = serializers.DictField(
        read_only=True,
        allow_null=True,
        help_text="Post-call analysis: summary, sentiment (positive, neutral, negative), "
        "goal_reached and the agent's `fields`; null until analysed or when it failed.",
    )

    class Meta(CallSerializer.Meta):
        fields = [
            *CallSerializer.Meta.fields,
            "timeline",
            "transcript",
            "tool_invocations",
            "analysis",
            "analysis_status",
            "analysis_error",
            "analyzed_at",
        ]
        read_only_fields = fields


class CallCreateSerializer(serializers.Serializer):
    agent_id = serializers.IntegerField()
    to_phone = serializers.CharField(max_length=32, help_text="E.164, e.g. +14155550199.")
    from_phone = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        help_text="One of our numbers; default: the organization's caller id, then the "
        "agent's number.",
    )
    variables = serializers.DictField(
        required=False,
        help_text="Values for the agent's prompt (at most "
        f"{VARIABLES_MAX_LENGTH:,} characters as JSON).",
    )

    def validate_variables(self, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, default=str)) > VARIABLES_MAX_LENGTH:
            raise serializers.ValidationError(
                f"At most {VARIABLES_MAX_LENGTH:,} characters of JSON."
            )
        return value


class CallTransferSerializer(serializers.Serializer):
    to_number = serializers.CharField(max_length=32, help_text="E.164 number of a human.")

"""API shapes for numbers, routing, calls and messages. Serializers only type and shape the
data; every rule lives in calls.services."""

from __future__ import annotations

from rest_framework import serializers

from calls.models import (
    Call,
    CallEvent,
    Carrier,
    FallbackAction,
    Message,
    PhoneNumber,
    RoutingRule,
    ToolInvocation,
    TranscriptTurn,
)

# --- phone numbers and rules ---------------------------------------------------------------------


class RoutingRuleSerializer(serializers.ModelSerializer):
    agent_id = serializers.IntegerField()
    days_of_week = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        required=False,
        help_text="0 = Monday … 6 = Sunday; empty = every day.",
    )
    start_time = serializers.TimeField(required=False, allow_null=True)
    end_time = serializers.TimeField(required=False, allow_null=True)

    class Meta:
        model = RoutingRule
        fields = [
            "id",
            "position",
            "name",
            "caller_prefix",
            "caller_country",
            "days_of_week",
            "start_time",
            "end_time",
            "agent_id",
            "is_active",
        ]
        read_only_fields = ["id", "position"]
        extra_kwargs = {
            "name": {"required": False},
            "caller_prefix": {"required": False},
            "caller_country": {"required": False},
            "is_active": {"required": False},
        }


class CapabilitiesSerializer(serializers.Serializer):
    voice = serializers.BooleanField(required=False)
    sms = serializers.BooleanField(required=False)


class PhoneNumberSerializer(serializers.ModelSerializer):
    agent_id = serializers.IntegerField(read_only=True, allow_null=True)
    capabilities = serializers.SerializerMethodField()
    rules = RoutingRuleSerializer(many=True, read_only=True)

    class Meta:
        model = PhoneNumber
        fields = [
            "id",
            "number",
            "provider",
            "provider_id",
            "friendly_name",
            "capabilities",
            "agent_id",
            "fallback_action",
            "fallback_message",
            "fallback_forward_number",
            "rules",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_capabilities(self, obj: PhoneNumber) -> dict[str, bool]:
        return {"voice": obj.voice_enabled, "sms": obj.sms_enabled}


class PhoneNumberUpdateSerializer(serializers.Serializer):
    provider_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    friendly_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    capabilities = CapabilitiesSerializer(required=False)
    agent_id = serializers.IntegerField(required=False, allow_null=True)
    fallback_action = serializers.ChoiceField(choices=FallbackAction.choices, required=False)
    fallback_message = serializers.CharField(required=False, allow_blank=True)
    fallback_forward_number = serializers.CharField(max_length=32, required=False, allow_blank=True)
    rules = RoutingRuleSerializer(
        many=True, required=False, help_text="Replaces every rule, in this order."
    )

    def service_fields(self) -> dict:
        """validated_data in the service's vocabulary."""
        data = dict(self.validated_data)
        capabilities = data.pop("capabilities", None) or {}
        if "voice" in capabilities:
            data["voice_enabled"] = capabilities["voice"]
        if "sms" in capabilities:
            data["sms_enabled"] = capabilities["sms"]
        if "rules" in data:
            data["rules"] = [dict(rule) for rule in data["rules"]]
        return data


class PhoneNumberCreateSerializer(PhoneNumberUpdateSerializer):
    number = serializers.CharField(max_length=32, help_text="E.164, e.g. +14155550100.")
    provider = serializers.ChoiceField(choices=Carrier.choices, default=Carrier.TWILIO)


class PhoneNumberImportSerializer(serializers.Serializer):
    provider = serializers.ChoiceField(choices=Carrier.choices, default=Carrier.TWILIO)


class PhoneNumberImportResultSerializer(serializers.Serializer):
    created = serializers.ListField(child=serializers.CharField())
    updated = serializers.ListField(child=serializers.CharField())
    skipped = serializers.ListField(child=serializers.CharField())


class RouteRequestSerializer(serializers.Serializer):
    from_number = serializers.CharField(max_length=32)
    to_number = serializers.CharField(max_length=32)
    at = serializers.DateTimeField(
        required=False, help_text="Route as if the call came at this moment (default: now)."
    )


class RouteFallbackSerializer(serializers.Serializer):
    action = serializers.CharField(help_text="message or forward")
    message = serializers.CharField()
    forward_number = serializers.CharField(allow_blank=True)


class RouteResultSerializer(serializers.Serializer):
    agent_id = serializers.IntegerField(allow_null=True)
    rule = serializers.ChoiceField(choices=["rule", "default", "fallback"])
    rule_id = serializers.IntegerField(allow_null=True)
    rule_name = serializers.CharField(allow_blank=True)
    reason = serializers.CharField()
    fallback = RouteFallbackSerializer(allow_null=True)


def route_result(decision) -> dict:
    return {
        "agent_id": decision.agent.pk if decision.agent else None,
        "rule": decision.rule,
        "rule_id": decision.rule_id,
        "rule_name": decision.rule_name,
        "reason": decision.reason,
        "fallback": {
            "action": decision.fallback_action,
            "message": decision.fallback_message,
            "forward_number": decision.forward_number,
        }
        if decision.is_fallback
        else None,
    }


# --- calls ---------------------------------------------------------------------------------------


class CallSerializer(serializers.ModelSerializer):
    agent_id = serializers.IntegerField(read_only=True, allow_null=True)
    agent_version = serializers.IntegerField(
        source="agent_version.number", read_only=True, allow_null=True, default=None
    )
    phone_number_id = serializers.IntegerField(read_only=True, allow_null=True)

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


class CallDetailSerializer(CallSerializer):
    timeline = CallEventSerializer(source="events", many=True, read_only=True)
    transcript = TranscriptTurnSerializer(many=True, read_only=True)
    tool_invocations = ToolInvocationSerializer(many=True, read_only=True)

    class Meta(CallSerializer.Meta):
        fields = [*CallSerializer.Meta.fields, "timeline", "transcript", "tool_invocations"]
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
    variables = serializers.DictField(required=False, help_text="Values for the agent's prompt.")


class CallTransferSerializer(serializers.Serializer):
    to_number = serializers.CharField(max_length=32, help_text="E.164 number of a human.")


# --- messages ------------------------------------------------------------------------------------


class MessageSerializer(serializers.ModelSerializer):
    phone_number_id = serializers.IntegerField(read_only=True, allow_null=True)
    call_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "direction",
            "status",
            "from_number",
            "to_number",
            "body",
            "phone_number_id",
            "call_id",
            "provider",
            "provider_message_id",
            "error_code",
            "error_message",
            "created_at",
        ]
        read_only_fields = fields


class MessageCreateSerializer(serializers.Serializer):
    body = serializers.CharField()
    to_number = serializers.CharField(
        max_length=32, required=False, help_text="Default during a call: the other party."
    )
    from_number = serializers.CharField(
        max_length=32, required=False, help_text="One of our numbers; default: the call's."
    )
    call_id = serializers.IntegerField(required=False, help_text="Link it to this call.")

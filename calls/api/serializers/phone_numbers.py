"""API shapes of phone numbers, their routing rules, route tests and imports."""

from __future__ import annotations

from rest_framework import serializers

from calls.models import Carrier, FallbackAction, PhoneNumber, RoutingRule
from calls.selectors import RouteDecision

__all__ = [
    "CapabilitiesSerializer",
    "PhoneNumberCreateSerializer",
    "PhoneNumberImportResultSerializer",
    "PhoneNumberImportSerializer",
    "PhoneNumberSerializer",
    "PhoneNumberUpdateSerializer",
    "RouteFallbackSerializer",
    "RouteRequestSerializer",
    "RouteResultSerializer",
    "RoutingRuleSerializer",
    "route_result",
]


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


def route_result(decision: RouteDecision) -> dict:
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

"""API shapes of phone numbers, their routing rules, route tests and imports."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from calls.models import Carrier, FallbackAction, PhoneNumber, RoutingRule
from calls.selectors import RouteDecision
from calls.telephony.urls import carrier_webhook_urls
from integrations.api.serializers import ConfigurationWarningSerializer, ConfigurationWarningsMixin

__all__ = [
    "CapabilitiesSerializer",
    "CarrierUrlsSerializer",
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


class CarrierUrlsSerializer(serializers.Serializer):
    voice = serializers.URLField(help_text="Twilio: voice URL. Plivo: application answer URL.")
    status = serializers.URLField(
        help_text="Twilio: call status callback. Plivo: application hangup URL."
    )
    sms = serializers.URLField(help_text="Twilio: messaging URL. Plivo: application message URL.")
    recording = serializers.URLField(
        help_text="Recording status callback (calls we place or answer set it themselves)."
    )


class PhoneNumberSerializer(ConfigurationWarningsMixin, serializers.ModelSerializer):
    agent_id = serializers.IntegerField(read_only=True, allow_null=True)
    capabilities = serializers.SerializerMethodField()
    rules = RoutingRuleSerializer(many=True, read_only=True)
    carrier_credential_available = serializers.SerializerMethodField(
        help_text="Whether the organization's carrier account (or the platform's) is usable "
        "for this number's provider."
    )
    configuration_warnings = serializers.SerializerMethodField(
        help_text="What stops this number from working, e.g. `credential_missing`."
    )
    carrier_urls = serializers.SerializerMethodField(
        help_text="The exact URLs to configure for this number on the carrier (POST); "
        "importing numbers sets them where the carrier's API allows."
    )

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
            "carrier_credential_available",
            "configuration_warnings",
            "carrier_urls",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_capabilities(self, obj: PhoneNumber) -> dict[str, bool]:
        return {"voice": obj.voice_enabled, "sms": obj.sms_enabled}

    def get_carrier_credential_available(self, obj: PhoneNumber) -> bool:
        return obj.provider in self.credential_kinds_usable()

    @extend_schema_field(ConfigurationWarningSerializer(many=True))
    def get_configuration_warnings(self, obj: PhoneNumber) -> list[dict[str, str]]:
        return self.configuration_warnings_for(obj.provider)

    @extend_schema_field(CarrierUrlsSerializer)
    def get_carrier_urls(self, obj: PhoneNumber) -> dict[str, str]:
        return carrier_webhook_urls(obj.provider)


class PhoneNumberUpdateSerializer(serializers.Serializer):
    provider_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    friendly_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    capabilities = CapabilitiesSerializer(required=False)
    agent_id = serializers.IntegerField(required=False, allow_null=True)
    fallback_action = serializers.ChoiceField(choices=FallbackAction.choices, required=False)
    fallback_message = serializers.CharField(max_length=1000, required=False, allow_blank=True)
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
    configured = serializers.ListField(
        child=serializers.CharField(),
        help_text="Numbers whose voice, status and SMS URLs were set on the carrier.",
    )
    configuration_errors = serializers.DictField(
        child=serializers.CharField(),
        help_text="Numbers the carrier would not configure, with its message: set their "
        "carrier_urls by hand.",
    )


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

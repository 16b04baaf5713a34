"""API shapes of SMS messages."""

from __future__ import annotations

from rest_framework import serializers

from calls.models import Message
from calls.services import SMS_MAX_LENGTH

__all__ = ["MessageCreateSerializer", "MessageSerializer"]


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
    body = serializers.CharField(max_length=SMS_MAX_LENGTH)
    to_number = serializers.CharField(
        max_length=32, required=False, help_text="Default during a call: the other party."
    )
    from_number = serializers.CharField(
        max_length=32, required=False, help_text="One of our numbers; default: the call's."
    )
    call_id = serializers.IntegerField(required=False, help_text="Link it to this call.")

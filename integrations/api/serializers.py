"""API shapes of provider credentials. Secrets are write-only: an answer shows the kind, the
label, the identifiers, the secret's last four characters and the times, never the secret."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from integrations.models import CredentialKind, ProviderCredential, VerificationStatus
from integrations.selectors import credential_kinds_usable, credential_warnings

__all__ = [
    "ConfigurationWarningSerializer",
    "ConfigurationWarningsMixin",
    "CredentialCreateSerializer",
    "CredentialSerializer",
    "CredentialUpdateSerializer",
]

_IDENTIFIERS_HELP = (
    "What is not secret, in clear: Twilio `account_sid`, Plivo `auth_id`, Hume `config_id` "
    "(optional); OpenAI and Gemini take none."
)
_SECRET_HELP = (
    "Twilio or Plivo auth token, OpenAI, Gemini or Hume API key. Write-only: stored "
    "encrypted, never shown again (only its last four characters)."
)


class ConfigurationWarningSerializer(serializers.Serializer):
    code = serializers.CharField(read_only=True, help_text="`credential_missing`")
    message = serializers.CharField(read_only=True, help_text="What to set.")


class ConfigurationWarningsMixin:
    """For serializers of resources that need a provider's credential: the kinds with a usable
    credential are read once per response (a list shares the serializer context), not once
    per item."""

    context: dict[str, Any]

    def credential_kinds_usable(self) -> frozenset[str]:
        cached = self.context.get("credential_kinds_usable")
        if cached is None:
            cached = self.context["credential_kinds_usable"] = credential_kinds_usable()
        return cached

    def configuration_warnings_for(self, *kinds: str) -> list[dict[str, str]]:
        return [
            {"code": warning.code, "message": warning.message}
            for warning in credential_warnings(kinds=kinds, usable=self.credential_kinds_usable())
        ]


class VerificationSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=VerificationStatus.choices, read_only=True)
    message = serializers.CharField(read_only=True)
    verified_at = serializers.DateTimeField(read_only=True, allow_null=True)


class CredentialSerializer(serializers.ModelSerializer):
    identifiers = serializers.DictField(
        child=serializers.CharField(), read_only=True, help_text=_IDENTIFIERS_HELP
    )
    secret_last_four = serializers.CharField(
        read_only=True, help_text="The secret's last four characters (empty for short ones)."
    )
    created_by = serializers.EmailField(
        source="created_by.email", read_only=True, default=None, allow_null=True
    )
    verification = serializers.SerializerMethodField()

    class Meta:
        model = ProviderCredential
        fields = [
            "id",
            "kind",
            "label",
            "identifiers",
            "secret_last_four",
            "verification",
            "created_by",
            "created_at",
            "updated_at",
            "rotated_at",
            "last_used_at",
        ]
        read_only_fields = fields

    @extend_schema_field(VerificationSerializer)
    def get_verification(self, obj: ProviderCredential) -> dict[str, Any]:
        return dict(
            VerificationSerializer(
                {
                    "status": obj.verification_status,
                    "message": obj.verification_message,
                    "verified_at": obj.verified_at,
                }
            ).data
        )


class CredentialCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=CredentialKind.choices)
    # DRF pops declared fields from the class, so this does not shadow Field.label.
    label = serializers.CharField(  # type: ignore[assignment]
        max_length=100, required=False, allow_blank=True
    )
    identifiers = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False, help_text=_IDENTIFIERS_HELP
    )
    secret = serializers.CharField(
        write_only=True, max_length=1000, style={"input_type": "password"}, help_text=_SECRET_HELP
    )


class CredentialUpdateSerializer(serializers.Serializer):
    """PATCH: a new ``secret`` is a rotation; ``identifiers`` replaces all of them. The kind
    is fixed (delete and add again)."""

    # DRF pops declared fields from the class, so this does not shadow Field.label.
    label = serializers.CharField(  # type: ignore[assignment]
        max_length=100, required=False, allow_blank=True
    )
    identifiers = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False, help_text=_IDENTIFIERS_HELP
    )
    secret = serializers.CharField(
        write_only=True,
        required=False,
        max_length=1000,
        style={"input_type": "password"},
        help_text=_SECRET_HELP,
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        fixed = sorted(set(self.initial_data) - set(self.fields))
        if fixed:
            raise serializers.ValidationError(
                {name: ["This field cannot be changed."] for name in fixed}
            )
        return attrs

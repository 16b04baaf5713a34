"""Shapes only: types and lengths. What a value may be (provider, model, voice, number, tools,
knowledge bases, ranges) is decided by agents.validation, the same for the API and the admin."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from agents.models import (
    DESCRIPTION_MAX_LENGTH,
    MESSAGE_MAX_LENGTH,
    NAME_MAX_LENGTH,
    PROMPT_MAX_LENGTH,
    Agent,
    AgentVersion,
)
from agents.prompts import prompt_variables
from agents.validation import MAX_END_CALL_PHRASES, MAX_KNOWLEDGE_BASES, MAX_TOOLS
from integrations.api.serializers import ConfigurationWarningSerializer, ConfigurationWarningsMixin


class AgentSerializer(ConfigurationWarningsMixin, serializers.ModelSerializer):
    knowledge_base_ids = serializers.SerializerMethodField()
    prompt_variables = serializers.SerializerMethodField(
        help_text="Variables the prompts use ({{customer_name}}), filled per call."
    )
    configuration_warnings = serializers.SerializerMethodField(
        help_text="What stops this agent from taking calls here, e.g. `credential_missing`: "
        "its provider has no API key (add a credential at /api/v1/credentials/)."
    )
    end_call_phrases = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="When the caller says one of these, the agent says goodbye and hangs up.",
    )
    tools = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="Enabled tools: end_call, transfer_call, knowledge_search, send_sms, "
        "integration:<server>.<tool>, custom:<name>.",
    )
    provider_config = serializers.DictField(
        read_only=True, help_text="Provider specifics; Hume: config_id, config_version."
    )
    analysis_schema = serializers.DictField(
        read_only=True,
        help_text="The fields post-call analysis extracts from each call (a JSON schema object "
        "of typed properties); empty: only the summary, sentiment and goal.",
    )
    created_by = serializers.EmailField(
        source="created_by.email", read_only=True, default=None, allow_null=True
    )
    updated_by = serializers.EmailField(
        source="updated_by.email", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = Agent
        fields = [
            "id",
            "name",
            "description",
            "ai_provider",
            "model",
            "voice",
            "language",
            "system_prompt",
            "first_message",
            "prompt_variables",
            "temperature",
            "max_call_duration_seconds",
            "silence_timeout_seconds",
            "end_call_phrases",
            "voicemail_message",
            "transfer_number",
            "recording_enabled",
            "tools",
            "knowledge_base_ids",
            "provider_config",
            "analysis_schema",
            "status",
            "configuration_warnings",
            "version",
            "created_by",
            "updated_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ConfigurationWarningSerializer(many=True))
    def get_configuration_warnings(self, obj: Agent) -> list[dict[str, str]]:
        return self.configuration_warnings_for(obj.ai_provider)

    def get_knowledge_base_ids(self, obj: Agent) -> list[int]:
        return sorted(kb.pk for kb in obj.knowledge_bases.all())

    def get_prompt_variables(self, obj: Agent) -> list[str]:
        return prompt_variables(
            "\n".join((obj.system_prompt, obj.first_message, obj.voicemail_message))
        )


@extend_schema_serializer(
    description="An agent's settings. Creating one needs only `name`; a PATCH sends only the "
    "fields it changes. Model, voice and Hume's config id default to the provider's."
)
class AgentWriteSerializer(serializers.Serializer):
    """Create (``name`` required) and PATCH (``partial=True``) input."""

    name = serializers.CharField(max_length=NAME_MAX_LENGTH)
    description = serializers.CharField(
        max_length=DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True
    )
    ai_provider = serializers.CharField(
        max_length=20, required=False, help_text="openai (the default), gemini or hume."
    )
    model = serializers.CharField(max_length=100, required=False, allow_blank=True)
    voice = serializers.CharField(max_length=100, required=False, allow_blank=True)
    language = serializers.CharField(max_length=20, required=False)
    system_prompt = serializers.CharField(
        max_length=PROMPT_MAX_LENGTH, required=False, allow_blank=True
    )
    first_message = serializers.CharField(
        max_length=MESSAGE_MAX_LENGTH,
        required=False,
        allow_blank=True,
        help_text="Said when the call connects; empty = wait for the caller.",
    )
    temperature = serializers.FloatField(required=False, allow_null=True)
    max_call_duration_seconds = serializers.IntegerField(required=False)
    silence_timeout_seconds = serializers.IntegerField(required=False)
    end_call_phrases = serializers.ListField(
        child=serializers.CharField(max_length=200),
        max_length=MAX_END_CALL_PHRASES,
        required=False,
    )
    voicemail_message = serializers.CharField(
        max_length=MESSAGE_MAX_LENGTH, required=False, allow_blank=True
    )
    transfer_number = serializers.CharField(max_length=32, required=False, allow_blank=True)
    recording_enabled = serializers.BooleanField(required=False)
    tools = serializers.ListField(
        child=serializers.CharField(max_length=200),
        max_length=MAX_TOOLS,
        required=False,
        help_text="end_call, transfer_call, knowledge_search, send_sms, "
        "integration:<server>.<tool> (an enabled tool of an integration) or custom:<name>.",
    )
    knowledge_base_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), max_length=MAX_KNOWLEDGE_BASES, required=False
    )
    provider_config = serializers.DictField(
        required=False, help_text="Provider specifics; Hume: config_id, config_version."
    )
    analysis_schema = serializers.DictField(
        required=False,
        help_text='Fields post-call analysis extracts, e.g. {"type": "object", "properties": '
        '{"appointment_booked": {"type": "boolean"}, "callback_time": {"type": "string"}}} '
        '(or the shorthand {"appointment_booked": "boolean"}). Types: string, boolean, '
        "integer, number, array; each may have a description and an enum.",
    )
    status = serializers.CharField(
        max_length=10,
        required=False,
        help_text="active, or paused (a paused agent takes no calls).",
    )


class AgentDuplicateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=NAME_MAX_LENGTH, required=False)


class AgentRollbackSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1)


class AgentVersionSerializer(serializers.ModelSerializer):
    changed_fields = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="The settings this version changed, compared with the one before.",
    )
    config = serializers.DictField(
        read_only=True, help_text="The agent's whole configuration at this version."
    )
    created_by = serializers.EmailField(
        source="created_by.email", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = AgentVersion
        fields = ["number", "changed_fields", "note", "created_by", "created_at", "config"]
        read_only_fields = fields


class AgentVersionDiffQuerySerializer(serializers.Serializer):
    """``?from=1&to=3``; ``to`` defaults to the current version, ``from`` to the one before."""

    def get_fields(self):
        # ``from`` is a Python keyword, so the fields are declared here rather than as
        # class attributes.
        return {
            "from": serializers.IntegerField(min_value=1, required=False),
            "to": serializers.IntegerField(min_value=1, required=False),
        }


class FieldChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    old = serializers.JSONField(help_text="The value in the older version (any JSON value).")
    new = serializers.JSONField(help_text="The value in the newer version (any JSON value).")
    diff = serializers.CharField(allow_null=True, help_text="Unified diff for long text fields.")


class AgentVersionDiffSerializer(serializers.Serializer):
    agent_id = serializers.IntegerField()
    from_version = serializers.IntegerField()
    to_version = serializers.IntegerField()
    changes = FieldChangeSerializer(many=True)

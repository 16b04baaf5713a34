"""API shapes of integrations (MCP servers), custom tools and tool executions. Header values,
bearer tokens and signing secrets are write-only: answers show header names and last four
characters; a signing secret is shown once, when it is made."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from integrations.models import (
    CustomTool,
    ExecutionSource,
    Integration,
    IntegrationKind,
    McpTransport,
    ToolExecution,
)

__all__ = [
    "CustomToolCreatedSerializer",
    "CustomToolSerializer",
    "CustomToolWriteSerializer",
    "IntegrationSerializer",
    "IntegrationWriteSerializer",
    "ListedToolSerializer",
    "ToolExecuteSerializer",
    "ToolExecutionSerializer",
    "ToolListSerializer",
]

_HEADERS_HELP = (
    "Headers sent on every request to the server (credentials such as X-Api-Key). "
    "Write-only: stored encrypted; answers show only `header_names`. Replaces all headers."
)
_TOKEN_HELP = (
    "Sent as `Authorization: Bearer <token>`. Write-only: stored encrypted; answers show its "
    "last four characters. An empty string removes it."
)


class ListedToolSerializer(serializers.Serializer):
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    input_schema = serializers.DictField(read_only=True, help_text="The tool's JSON schema.")


class IntegrationSerializer(serializers.ModelSerializer):
    uses_platform_server = serializers.SerializerMethodField()
    tools = ListedToolSerializer(many=True, read_only=True)
    header_names = serializers.ListField(child=serializers.CharField(), read_only=True)
    created_by = serializers.EmailField(
        source="created_by.email", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = Integration
        fields = [
            "id",
            "kind",
            "name",
            "slug",
            "url",
            "uses_platform_server",
            "transport",
            "header_names",
            "auth_token_last_four",
            "enabled",
            "enabled_tools",
            "timeout_seconds",
            "tools",
            "tools_listed_at",
            "last_error",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_uses_platform_server(self, obj: Integration) -> bool:
        return not obj.url


class IntegrationWriteSerializer(serializers.Serializer):
    """Shapes only; the rules are integrations.tool_services.integration_clean."""

    kind = serializers.ChoiceField(choices=IntegrationKind.choices)
    name = serializers.CharField(max_length=100)
    slug = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="The `<server>` of `integration:<server>.<tool>` tool names (default: "
        "from the name).",
    )
    url = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        help_text="The MCP server's URL; empty: the platform's server of this kind.",
    )
    transport = serializers.ChoiceField(choices=McpTransport.choices, required=False)
    headers = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=4000),
        required=False,
        write_only=True,
        help_text=_HEADERS_HELP,
    )
    auth_token = serializers.CharField(
        max_length=4000,
        required=False,
        allow_blank=True,
        write_only=True,
        style={"input_type": "password"},
        help_text=_TOKEN_HELP,
    )
    enabled = serializers.BooleanField(required=False)
    enabled_tools = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        max_length=100,
        help_text="The tools agents may be given (names from the server's listing).",
    )
    timeout_seconds = serializers.FloatField(required=False, min_value=1, max_value=60)


class ToolListSerializer(serializers.Serializer):
    tools = ListedToolSerializer(many=True, read_only=True)
    enabled_tools = serializers.ListField(child=serializers.CharField(), read_only=True)
    listed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    refreshed = serializers.BooleanField(
        read_only=True, help_text="Whether the server was asked now (else the cached listing)."
    )


class ToolExecuteSerializer(serializers.Serializer):
    arguments = serializers.DictField(
        required=False, default=dict, help_text="Checked against the tool's input schema."
    )


class ToolExecutionSerializer(serializers.ModelSerializer):
    actor = serializers.EmailField(
        source="actor.email", read_only=True, default=None, allow_null=True
    )
    source = serializers.ChoiceField(choices=ExecutionSource.choices, read_only=True)  # type: ignore[assignment]
    arguments = serializers.DictField(read_only=True, help_text="Secret values redacted.")
    result = serializers.JSONField(read_only=True, allow_null=True)

    class Meta:
        model = ToolExecution
        fields = [
            "id",
            "source",
            "integration",
            "custom_tool",
            "server",
            "tool",
            "arguments",
            "result",
            "ok",
            "error_code",
            "error_message",
            "duration_ms",
            "call_id",
            "actor",
            "created_at",
        ]
        read_only_fields = fields


class CustomToolSerializer(serializers.ModelSerializer):
    created_by = serializers.EmailField(
        source="created_by.email", read_only=True, default=None, allow_null=True
    )
    parameters = serializers.DictField(read_only=True, help_text="A JSON schema.")

    class Meta:
        model = CustomTool
        fields = [
            "id",
            "name",
            "description",
            "parameters",
            "url",
            "signing_secret_last_four",
            "timeout_seconds",
            "enabled",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CustomToolCreatedSerializer(CustomToolSerializer):
    """The answer that made a signing secret: the secret in clear, this once."""

    signing_secret = serializers.SerializerMethodField()

    class Meta(CustomToolSerializer.Meta):
        fields = [*CustomToolSerializer.Meta.fields, "signing_secret"]
        read_only_fields = fields

    def get_signing_secret(self, obj: CustomTool) -> str | None:
        value: Any = self.context.get("signing_secret")
        return str(value) if value else None


class CustomToolWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64, help_text="Agents name it `custom:<name>`.")
    description = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    parameters = serializers.DictField(
        required=False, help_text="A JSON schema with an object at its root."
    )
    url = serializers.CharField(max_length=500, help_text="The https:// endpoint to POST to.")
    timeout_seconds = serializers.FloatField(required=False, min_value=1, max_value=60)
    enabled = serializers.BooleanField(required=False)
    rotate_signing_secret = serializers.BooleanField(
        required=False, help_text="PATCH only: make a new signing secret (shown once)."
    )

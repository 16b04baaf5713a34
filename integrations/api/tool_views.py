"""/api/v1/integrations/, /api/v1/custom-tools/ and /api/v1/tool-executions/: the
organization's MCP servers and custom HTTP tools, running them, and the row of every run.

Admins and owners add, change and remove integrations and custom tools; members run tools
(and ask a server for its current tool listing); viewers read. Header values, tokens and
signing secrets are never in an answer.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from integrations import tool_execution, tool_selectors, tool_services
from integrations.api.tool_serializers import (
    CustomToolCreatedSerializer,
    CustomToolSerializer,
    CustomToolWriteSerializer,
    IntegrationSerializer,
    IntegrationWriteSerializer,
    ToolExecuteSerializer,
    ToolExecutionSerializer,
    ToolListSerializer,
)
from integrations.filtersets import ToolExecutionFilterSet
from integrations.models import CustomTool, ExecutionSource, Integration, ToolExecution
from organizations.actors import request_api_key, request_user
from organizations.api.base import OrganizationModelViewSet, OrganizationScopedViewSet
from organizations.models import Role
from voiceagents.api.schema import error_response
from voiceagents.exceptions import PermissionDenied

_TOOL_ERRORS = {
    400: error_response(
        "`tool_arguments_invalid` (each problem by its path in `details.errors`), or "
        "`tool_url_refused`."
    ),
    404: error_response("`integration_not_found`, or `tool_unknown`: the server has no such tool."),
    409: error_response("`tool_not_enabled`: enable the tool on the integration first."),
    502: error_response(
        "`tool_server_unreachable`, `tool_failed` (the tool reported an error: its message) or "
        "`tool_bad_response`. `details.execution_id` names the execution row."
    ),
    504: error_response("`tool_timed_out`: the tool did not answer within the timeout."),
}


def _write_data(serializer_class: type, request: Request, *, partial: bool) -> dict[str, Any]:
    """The fields the caller sent, shape-checked (the service checks the rules)."""
    data = serializer_class(data=request.data, partial=partial)
    data.is_valid(raise_exception=True)
    return {name: value for name, value in data.validated_data.items()}


class IntegrationViewSet(OrganizationModelViewSet):
    serializer_class = IntegrationSerializer
    queryset = Integration.objects.none()  # for schema generation; get_queryset is real
    read_role = Role.VIEWER
    write_role = Role.ADMIN
    action_roles = {"tools": Role.VIEWER, "execute": Role.MEMBER}
    ordering_fields = ["slug", "kind", "created_at"]
    ordering = ["slug"]

    def get_queryset(self):
        return tool_selectors.integration_list()

    def get_object(self) -> Integration:
        return tool_selectors.integration_get(integration_id=self.kwargs["pk"])

    @extend_schema(
        summary="List integrations",
        description="The organization's MCP servers (Telegram, Gmail, WhatsApp, Shopify or its "
        "own), each with its cached tool listing. Header values and tokens are never shown.",
    )
    def list(self, request: Request) -> Response:
        return super().list(request)

    @extend_schema(
        summary="Get an integration",
        description="One MCP server: where it is, its transport, which header names it sends, "
        "its cached tool listing and the tools agents may use.",
    )
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(IntegrationSerializer(self.get_object()).data)

    @extend_schema(
        summary="Add an integration",
        description="Admins only. An MCP server the organization's agents may use: its tools "
        "are named `integration:<slug>.<tool>` on an agent. Without a `url` the platform's "
        "server of the kind is used. Headers and the token are stored encrypted. List its "
        "tools (GET .../tools/?refresh=1), then enable the ones agents may use.",
        request=IntegrationWriteSerializer,
        responses={
            201: IntegrationSerializer,
            409: error_response("`integration_slug_taken`."),
        },
        examples=[
            OpenApiExample(
                "The platform's Telegram server with the organization's bot token",
                value={"kind": "telegram", "name": "Telegram", "auth_token": "<bot token>"},
                request_only=True,
            ),
            OpenApiExample(
                "An MCP server of the organization's own",
                value={
                    "kind": "custom",
                    "name": "CRM",
                    "slug": "crm",
                    "url": "https://mcp.example.com/mcp",
                    "headers": {"X-Api-Key": "<key>"},
                },
                request_only=True,
            ),
        ],
    )
    def create(self, request: Request) -> Response:
        integration = tool_services.integration_create(
            data=_write_data(IntegrationWriteSerializer, request, partial=False),
            actor=request_user(request),
            api_key=request_api_key(request),
        )
        return Response(IntegrationSerializer(integration).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change an integration",
        description="Admins only. `headers` replaces every header; an empty `auth_token` "
        "removes the token; `enabled_tools` must name tools of the cached listing. The kind "
        "cannot change.",
        request=IntegrationWriteSerializer,
        responses={200: IntegrationSerializer, 409: error_response("`integration_slug_taken`.")},
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        integration = self.get_object()
        integration = tool_services.integration_update(
            integration=integration,
            data=_write_data(IntegrationWriteSerializer, request, partial=True),
            actor=request_user(request),
            api_key=request_api_key(request),
        )
        return Response(IntegrationSerializer(integration).data)

    @extend_schema(
        summary="Remove an integration",
        description="Admins only. Its executions stay. Agents naming its tools keep them until "
        "they are changed; a call no longer offers them.",
        responses={204: None},
    )
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        tool_services.integration_delete(
            integration=self.get_object(),
            actor=request_user(request),
            api_key=request_api_key(request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="List an integration's tools",
        description="The server's tools (name, description, input schema) from the cached "
        "listing, or, with `?refresh=1` (members and above), asked from the server now (a "
        "test of the connection) and cached. Lists the server now too when it was never listed.",
        parameters=[
            OpenApiParameter("refresh", bool, description="Ask the server now (members and above).")
        ],
        responses={200: ToolListSerializer, **{k: v for k, v in _TOOL_ERRORS.items() if k >= 502}},
    )
    @action(detail=True, methods=["get"])
    def tools(self, request: Request, pk: str | None = None) -> Response:
        integration = self.get_object()
        refresh = str(request.query_params.get("refresh", "")).lower() in ("1", "true", "yes")
        if refresh or integration.tools_listed_at is None:
            role = getattr(request, "role", None) or Role.VIEWER
            if not Role.at_least(role, Role.MEMBER):
                raise PermissionDenied(
                    f"Your role ({role}) does not allow this action; asking the server for "
                    "its tools needs member."
                )
            integration = tool_services.integration_tools_refresh(
                integration=integration,
                actor=request_user(request),
                api_key=request_api_key(request),
            )
            refreshed = True
        else:
            refreshed = False
        return Response(
            ToolListSerializer(
                {
                    "tools": integration.tools,
                    "enabled_tools": integration.enabled_tools,
                    "listed_at": integration.tools_listed_at,
                    "refreshed": refreshed,
                }
            ).data
        )

    @extend_schema(
        summary="Run an integration's tool",
        description="Members and above. Runs one enabled tool of the server now with "
        "`arguments` (checked against its input schema first) and answers the execution row "
        "with the tool's `result`. Every run, failed ones too, is a row in "
        "/api/v1/tool-executions/.",
        request=ToolExecuteSerializer,
        responses={200: ToolExecutionSerializer, **_TOOL_ERRORS},
        parameters=[OpenApiParameter("tool", str, OpenApiParameter.PATH)],
        examples=[
            OpenApiExample(
                "Telegram: send a message",
                value={"arguments": {"chat_id": "123456", "text": "Hello!"}},
                request_only=True,
            )
        ],
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"tools/(?P<tool>[A-Za-z0-9_][A-Za-z0-9_-]{0,63})/execute",
    )
    def execute(self, request: Request, pk: str | None = None, tool: str = "") -> Response:
        integration = self.get_object()
        data = ToolExecuteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        execution = tool_execution.tool_execute(
            integration.pk,
            tool,
            dict(data.validated_data["arguments"]),
            source=ExecutionSource.API,
            actor=request_user(request),
        )
        return Response(ToolExecutionSerializer(execution).data)


class CustomToolViewSet(OrganizationModelViewSet):
    serializer_class = CustomToolSerializer
    queryset = CustomTool.objects.none()
    read_role = Role.VIEWER
    write_role = Role.ADMIN
    action_roles = {"execute": Role.MEMBER}
    ordering_fields = ["name", "created_at"]
    ordering = ["name"]

    def get_queryset(self):
        return tool_selectors.custom_tool_list()

    def get_object(self) -> CustomTool:
        return tool_selectors.custom_tool_get(custom_tool_id=self.kwargs["pk"])

    @extend_schema(
        summary="List custom tools",
        description="The organization's own HTTP functions agents may call (`custom:<name>`).",
    )
    def list(self, request: Request) -> Response:
        return super().list(request)

    @extend_schema(
        summary="Get a custom tool",
        description="Name, description, JSON-schema parameters, endpoint and timeout; only "
        "the last four characters of the signing secret.",
    )
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(CustomToolSerializer(self.get_object()).data)

    @extend_schema(
        summary="Add a custom tool",
        description="Admins only. During a call the product POSTs the model's arguments to "
        "`url` as JSON, signed in `X-Voiceagents-Signature` with the signing secret that this "
        "answer shows once, and gives the JSON answer to the model.",
        request=CustomToolWriteSerializer,
        responses={
            201: CustomToolCreatedSerializer,
            409: error_response("`custom_tool_name_taken`."),
        },
        examples=[
            OpenApiExample(
                "Book an appointment",
                value={
                    "name": "book_appointment",
                    "description": "Book a slot in the calendar.",
                    "parameters": {
                        "type": "object",
                        "properties": {"day": {"type": "string", "format": "date"}},
                        "required": ["day"],
                    },
                    "url": "https://example.com/tools/book",
                },
                request_only=True,
            )
        ],
    )
    def create(self, request: Request) -> Response:
        tool, secret = tool_services.custom_tool_create(
            data=_write_data(CustomToolWriteSerializer, request, partial=False),
            actor=request_user(request),
            api_key=request_api_key(request),
        )
        body = CustomToolCreatedSerializer(tool, context={"signing_secret": secret}).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a custom tool",
        description="Admins only. `rotate_signing_secret: true` makes a new secret, shown in "
        "this answer once (the old one stops working at once).",
        request=CustomToolWriteSerializer,
        responses={
            200: CustomToolCreatedSerializer,
            409: error_response("`custom_tool_name_taken`."),
        },
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        tool, secret = tool_services.custom_tool_update(
            custom_tool=self.get_object(),
            data=_write_data(CustomToolWriteSerializer, request, partial=True),
            actor=request_user(request),
            api_key=request_api_key(request),
        )
        return Response(CustomToolCreatedSerializer(tool, context={"signing_secret": secret}).data)

    @extend_schema(
        summary="Remove a custom tool",
        description="Admins only. Its executions stay.",
        responses={204: None},
    )
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        tool_services.custom_tool_delete(
            custom_tool=self.get_object(),
            actor=request_user(request),
            api_key=request_api_key(request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Run a custom tool",
        description="Members and above. Sends `arguments` (checked against the parameters "
        "first) to the endpoint now, signed as during a call, and answers the execution row.",
        request=ToolExecuteSerializer,
        responses={200: ToolExecutionSerializer, **_TOOL_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def execute(self, request: Request, pk: str | None = None) -> Response:
        tool = self.get_object()
        data = ToolExecuteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        execution = tool_execution.custom_tool_execute(
            custom_tool=tool,
            arguments=dict(data.validated_data["arguments"]),
            source=ExecutionSource.API,
            actor=request_user(request),
        )
        return Response(ToolExecutionSerializer(execution).data)


class ToolExecutionViewSet(
    OrganizationScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin
):
    serializer_class = ToolExecutionSerializer
    queryset = ToolExecution.objects.none()
    filterset_class = ToolExecutionFilterSet
    read_role = Role.VIEWER
    ordering_fields = ["created_at", "duration_ms"]
    ordering = ["-created_at"]

    def get_queryset(self):
        return tool_selectors.tool_execution_list()

    def get_object(self) -> ToolExecution:
        return tool_selectors.tool_execution_get(execution_id=self.kwargs["pk"])

    @extend_schema(
        summary="List tool executions",
        description="Every run of an integration's or a custom tool, newest first: from a "
        "call (`call_id`), the API or the admin, with the arguments (secrets redacted), the "
        "result or the error, and the duration. Filter by server, tool, source, ok, call, "
        "integration, custom tool or time.",
    )
    def list(self, request: Request) -> Response:
        return super().list(request)

    @extend_schema(
        summary="Get a tool execution",
        description="One run of a tool: what was asked and what came back.",
    )
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(ToolExecutionSerializer(self.get_object()).data)

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from agents import selectors, services
from agents.api.serializers import (
    AgentDuplicateSerializer,
    AgentRollbackSerializer,
    AgentSerializer,
    AgentVersionDiffQuerySerializer,
    AgentVersionDiffSerializer,
    AgentVersionSerializer,
    AgentWriteSerializer,
)
from agents.filtersets import AgentFilterSet
from agents.models import Agent
from organizations.actors import request_user
from organizations.api.base import OrganizationModelViewSet, OrganizationScopedViewSet
from organizations.models import Role
from organizations.selectors import organization_get

_AGENT_EXAMPLE = OpenApiExample(
    "A support agent",
    value={
        "name": "Support Agent",
        "ai_provider": "openai",
        "system_prompt": "You answer questions about {{company}}'s opening hours. Be brief.",
        "first_message": "Hello {{customer_name}}, how can I help?",
        "end_call_phrases": ["goodbye", "that's all"],
        "tools": ["end_call"],
    },
    request_only=True,
)


@extend_schema_view(
    list=extend_schema(
        summary="List agents",
        description="The organization's agents (deleted ones excluded), by name. Filter by "
        "`ai_provider`, `status` or `name` (contains, any case); order by `name`, "
        "`ai_provider`, `status`, `version`, `created_at` or `updated_at` (`-` reverses).",
    ),
    retrieve=extend_schema(
        summary="Get an agent",
        description="The agent's current configuration, with its version number and the "
        "prompt variables its prompts use.",
    ),
)
class AgentViewSet(OrganizationModelViewSet):
    """Agents of the organization: viewers read, admins manage."""

    serializer_class = AgentSerializer
    filterset_class = AgentFilterSet
    ordering_fields = ["name", "ai_provider", "status", "version", "created_at", "updated_at"]
    ordering = ["name", "id"]
    read_role = Role.VIEWER
    write_role = Role.ADMIN
    queryset = Agent.objects.none()  # for schema generation; get_queryset is the real one

    def get_queryset(self):
        return selectors.agent_list()

    def get_object(self) -> Agent:
        return selectors.agent_get(agent_id=self.kwargs["pk"])

    @extend_schema(
        summary="Create an agent",
        description="Admins only. Only `name` is required; the rest defaults sensibly (the "
        "provider's default model and voice). The agent starts at version 1. Prompts may use "
        "`{{variables}}`, filled per call from the call's `variables`.",
        request=AgentWriteSerializer,
        responses={201: AgentSerializer},
        examples=[_AGENT_EXAMPLE],
    )
    def create(self, request):
        data = AgentWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        agent = services.agent_create(actor=request_user(request), **data.validated_data)
        return Response(AgentSerializer(agent).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change an agent",
        description="Admins only; send just the fields to change. A change to the "
        "configuration stores a new version (calls record the version they ran with); "
        "pausing or resuming (`status`) does not.",
        request=AgentWriteSerializer,
        responses=AgentSerializer,
        examples=[OpenApiExample("Pause an agent", value={"status": "paused"}, request_only=True)],
    )
    def partial_update(self, request, pk=None):
        agent = self.get_object()
        data = AgentWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        agent = services.agent_update(
            agent=agent, data=data.validated_data, actor=request_user(request)
        )
        return Response(AgentSerializer(agent).data)

    @extend_schema(
        summary="Delete an agent",
        description="Admins only. The agent leaves lists and answers 404 from now on; its "
        "versions and its calls' history stay.",
        responses={204: None},
    )
    def destroy(self, request, pk=None):
        services.agent_delete(agent=self.get_object(), actor=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Duplicate an agent",
        description="Admins only. A new agent with the same configuration and status, at "
        "version 1, named `name` or `<original name> (copy)`.",
        request=AgentDuplicateSerializer,
        responses={201: AgentSerializer},
    )
    @action(detail=True, methods=["post"])
    def duplicate(self, request, pk=None):
        agent = self.get_object()
        data = AgentDuplicateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        copy = services.agent_duplicate(
            agent=agent, name=data.validated_data.get("name"), actor=request_user(request)
        )
        return Response(AgentSerializer(copy).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="List an agent's versions",
        description="Every configuration the agent has had, newest first.",
        responses=AgentVersionSerializer(many=True),
        filters=False,
    )
    @action(detail=True, methods=["get"])
    def versions(self, request, pk=None):
        page = self.paginate_queryset(selectors.agent_version_list(agent=self.get_object()))
        return self.get_paginated_response(AgentVersionSerializer(page, many=True).data)

    @extend_schema(
        summary="Get an agent version",
        description="The configuration the agent had at version `number`.",
        parameters=[OpenApiParameter("number", int, OpenApiParameter.PATH)],
        responses=AgentVersionSerializer,
    )
    @action(detail=True, methods=["get"], url_path=r"versions/(?P<number>\d+)")
    def version_detail(self, request, pk=None, number=None):
        version = selectors.agent_version_get(agent=self.get_object(), number=number)
        return Response(AgentVersionSerializer(version).data)

    @extend_schema(
        summary="Compare two agent versions",
        description="What changed between two versions, field by field, with a unified diff "
        "for long text such as the prompts.",
        parameters=[
            OpenApiParameter("from", int, description="Older version (default: to - 1)."),
            OpenApiParameter("to", int, description="Newer version (default: current)."),
        ],
        responses=AgentVersionDiffSerializer,
    )
    @action(detail=True, methods=["get"], url_path="versions/diff")
    def version_diff(self, request, pk=None):
        agent = self.get_object()
        query = AgentVersionDiffQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        to_number = query.validated_data.get("to", agent.version)
        from_number = query.validated_data.get("from", max(to_number - 1, 1))
        diff = selectors.agent_version_diff(
            agent=agent, from_number=from_number, to_number=to_number
        )
        return Response(AgentVersionDiffSerializer(diff).data)

    @extend_schema(
        summary="Roll an agent back",
        description="Admins only. Makes an earlier version's configuration current again, "
        "stored as a new version (history is never rewritten).",
        request=AgentRollbackSerializer,
        responses=AgentSerializer,
    )
    @action(detail=True, methods=["post"])
    def rollback(self, request, pk=None):
        agent = self.get_object()
        data = AgentRollbackSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        agent = services.agent_rollback(
            agent=agent, version=data.validated_data["version"], actor=request_user(request)
        )
        return Response(AgentSerializer(agent).data)


class OrganizationAgentViewSet(OrganizationScopedViewSet):
    """/organizations/{id}/agents/: the organization's agents (the product's
    get_organization_agents). Served by the agents app so the organizations app needs to know
    nothing of agents; viewers may read it."""

    serializer_class = AgentSerializer
    read_role = Role.VIEWER
    queryset = Agent.objects.none()  # for schema generation; agent_list() is the real one

    @extend_schema(
        operation_id="organizations_agents_list",
        summary="List an organization's agents",
        description="The same agents as `GET /api/v1/agents/`, for the organization `id` "
        "(which must be the one the credential acts for).",
        parameters=[
            OpenApiParameter(
                "id",
                int,
                OpenApiParameter.PATH,
                description="A unique integer value identifying this organization.",
            )
        ],
        responses=AgentSerializer(many=True),
        tags=["organizations"],
    )
    def list(self, request, pk=None):
        organization_get(organization_id=pk, visible_to=self.organization)
        page = self.paginate_queryset(selectors.agent_list())
        return self.get_paginated_response(AgentSerializer(page, many=True).data)

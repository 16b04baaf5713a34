from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
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

    @extend_schema(request=AgentWriteSerializer, responses={201: AgentSerializer})
    def create(self, request):
        data = AgentWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        agent = services.agent_create(actor=request_user(request), **data.validated_data)
        return Response(AgentSerializer(agent).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=AgentWriteSerializer, responses=AgentSerializer)
    def partial_update(self, request, pk=None):
        agent = self.get_object()
        data = AgentWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        agent = services.agent_update(
            agent=agent, data=data.validated_data, actor=request_user(request)
        )
        return Response(AgentSerializer(agent).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        services.agent_delete(agent=self.get_object(), actor=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=AgentDuplicateSerializer, responses={201: AgentSerializer})
    @action(detail=True, methods=["post"])
    def duplicate(self, request, pk=None):
        agent = self.get_object()
        data = AgentDuplicateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        copy = services.agent_duplicate(
            agent=agent, name=data.validated_data.get("name"), actor=request_user(request)
        )
        return Response(AgentSerializer(copy).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=AgentVersionSerializer(many=True))
    @action(detail=True, methods=["get"])
    def versions(self, request, pk=None):
        page = self.paginate_queryset(selectors.agent_version_list(agent=self.get_object()))
        return self.get_paginated_response(AgentVersionSerializer(page, many=True).data)

    @extend_schema(responses=AgentVersionSerializer)
    @action(detail=True, methods=["get"], url_path=r"versions/(?P<number>\d+)")
    def version_detail(self, request, pk=None, number=None):
        version = selectors.agent_version_get(agent=self.get_object(), number=number)
        return Response(AgentVersionSerializer(version).data)

    @extend_schema(
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

    @extend_schema(request=AgentRollbackSerializer, responses=AgentSerializer)
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
        description="The organization's agents (the product's get_organization_agents).",
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

"""Calls and their workflows: start, end, transfer."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from calls import selectors, services
from calls.api.serializers import (
    CallCreateSerializer,
    CallDetailSerializer,
    CallSerializer,
    CallTransferSerializer,
)
from calls.api.views._common import _valid
from calls.filtersets import CallFilterSet
from organizations.api.base import OrganizationScopedViewSet
from organizations.models import Role

__all__ = ["CallViewSet"]


class CallViewSet(mixins.ListModelMixin, OrganizationScopedViewSet):
    """Viewers read calls and their timelines; members start, end and transfer them."""

    serializer_class = CallSerializer
    filterset_class = CallFilterSet
    ordering_fields = ["created_at", "duration_seconds"]
    http_method_names = ["get", "post", "head", "options"]
    action_roles = {"create": Role.MEMBER, "end": Role.MEMBER, "transfer": Role.MEMBER}

    def get_queryset(self):
        return selectors.call_list()

    def retrieve(self, request, pk=None):
        call = selectors.call_get_with_timeline(call_id=pk)
        return Response(CallDetailSerializer(call).data)

    @extend_schema(request=CallCreateSerializer, responses={201: CallSerializer})
    def create(self, request):
        data = _valid(CallCreateSerializer, request.data).validated_data
        call = services.call_initiate(
            agent_id=data["agent_id"],
            to_phone=data["to_phone"],
            from_phone=data.get("from_phone") or None,
            variables=data.get("variables"),
        )
        return Response(CallSerializer(call).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=CallSerializer)
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        call = services.call_end(call_id=selectors.call_get(call_id=pk).pk)
        return Response(CallSerializer(call).data)

    @extend_schema(request=CallTransferSerializer, responses=CallSerializer)
    @action(detail=True, methods=["post"])
    def transfer(self, request, pk=None):
        call = selectors.call_get(call_id=pk)
        data = _valid(CallTransferSerializer, request.data).validated_data
        call = services.call_transfer(call_id=call.pk, to_number=data["to_number"])
        return Response(CallSerializer(call).data)

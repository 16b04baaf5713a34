"""SMS messages: read them, send one."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.response import Response

from calls import selectors, services
from calls.api.serializers import MessageCreateSerializer, MessageSerializer
from calls.api.views._common import _valid
from calls.filtersets import MessageFilterSet
from organizations.api.base import OrganizationScopedViewSet
from organizations.models import Role

__all__ = ["MessageViewSet"]


class MessageViewSet(mixins.ListModelMixin, OrganizationScopedViewSet):
    """Viewers read SMS; members send them."""

    serializer_class = MessageSerializer
    filterset_class = MessageFilterSet
    http_method_names = ["get", "post", "head", "options"]
    action_roles = {"create": Role.MEMBER}

    def get_queryset(self):
        return selectors.message_list()

    def retrieve(self, request, pk=None):
        return Response(MessageSerializer(selectors.message_get(message_id=pk)).data)

    @extend_schema(request=MessageCreateSerializer, responses={201: MessageSerializer})
    def create(self, request):
        data = _valid(MessageCreateSerializer, request.data).validated_data
        message = services.message_send(
            body=data["body"],
            to_number=data.get("to_number"),
            from_number=data.get("from_number"),
            call_id=data.get("call_id"),
        )
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)

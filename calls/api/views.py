"""Telephony API: numbers (with their routing rules), route testing and import, calls and
their workflows (start, end, transfer), messages. Each view validates, calls one service or
selector, and renders."""

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
    MessageCreateSerializer,
    MessageSerializer,
    PhoneNumberCreateSerializer,
    PhoneNumberImportResultSerializer,
    PhoneNumberImportSerializer,
    PhoneNumberSerializer,
    PhoneNumberUpdateSerializer,
    RouteRequestSerializer,
    RouteResultSerializer,
    route_result,
)
from calls.filtersets import CallFilterSet, MessageFilterSet
from calls.numbers import e164
from organizations.api.base import OrganizationModelViewSet, OrganizationViewSet
from organizations.models import Role


def _valid(serializer_class, data):
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer


class PhoneNumberViewSet(OrganizationModelViewSet):
    """Viewers read; admins add, change and remove numbers and their rules."""

    serializer_class = PhoneNumberSerializer
    write_role = Role.ADMIN
    action_roles = {"route": Role.VIEWER}
    filterset_fields = ["provider", "agent"]
    ordering_fields = ["number", "created_at"]

    def get_queryset(self):
        return selectors.phone_number_list()

    def retrieve(self, request, pk=None):
        return Response(PhoneNumberSerializer(selectors.phone_number_get(phone_number_id=pk)).data)

    @extend_schema(request=PhoneNumberCreateSerializer, responses={201: PhoneNumberSerializer})
    def create(self, request):
        data = _valid(PhoneNumberCreateSerializer, request.data).service_fields()
        phone_number = services.phone_number_create(**data)
        phone_number = selectors.phone_number_get(phone_number_id=phone_number.pk)
        return Response(PhoneNumberSerializer(phone_number).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PhoneNumberUpdateSerializer, responses=PhoneNumberSerializer)
    def partial_update(self, request, pk=None):
        phone_number = selectors.phone_number_get(phone_number_id=pk)
        data = _valid(PhoneNumberUpdateSerializer, request.data).service_fields()
        services.phone_number_update(phone_number=phone_number, data=data)
        phone_number = selectors.phone_number_get(phone_number_id=pk)
        return Response(PhoneNumberSerializer(phone_number).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        services.phone_number_delete(phone_number=selectors.phone_number_get(phone_number_id=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=RouteRequestSerializer, responses=RouteResultSerializer)
    @action(detail=False, methods=["post"])
    def route(self, request):
        """Which agent would take a call from ``from_number`` to ``to_number`` (now, or
        ``at``), and by which rule."""
        data = _valid(RouteRequestSerializer, request.data).validated_data
        decision = selectors.call_route(
            from_number=e164(data["from_number"], field="from_number"),
            to_number=data["to_number"],
            at=data.get("at"),
        )
        return Response(route_result(decision))

    @extend_schema(request=PhoneNumberImportSerializer, responses=PhoneNumberImportResultSerializer)
    @action(detail=False, methods=["post"], url_path="import")
    def import_numbers(self, request):
        """Add the numbers of the platform's carrier account (Twilio by default)."""
        data = _valid(PhoneNumberImportSerializer, request.data).validated_data
        result = services.phone_number_import(provider=data["provider"])
        return Response(PhoneNumberImportResultSerializer(result).data)


class CallViewSet(mixins.ListModelMixin, OrganizationViewSet):
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


class MessageViewSet(mixins.ListModelMixin, OrganizationViewSet):
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

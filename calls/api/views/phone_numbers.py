"""Phone numbers (with their routing rules), route testing and import from the carrier."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from calls import selectors, services
from calls.api.serializers import (
    PhoneNumberCreateSerializer,
    PhoneNumberImportResultSerializer,
    PhoneNumberImportSerializer,
    PhoneNumberSerializer,
    PhoneNumberUpdateSerializer,
    RouteRequestSerializer,
    RouteResultSerializer,
    route_result,
)
from calls.api.views._common import _valid
from calls.numbers import e164
from organizations.api.base import OrganizationModelViewSet
from organizations.models import Role

__all__ = ["PhoneNumberViewSet"]


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

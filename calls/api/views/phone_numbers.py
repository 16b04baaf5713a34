"""Phone numbers (with their routing rules), route testing and import from the carrier."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
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
from voiceagents.api.schema import error_response

__all__ = ["PhoneNumberViewSet"]

_CARRIER_FAILED = error_response(
    "`carrier_error`: the carrier refused the request or could not be reached; "
    "`error.details` keeps its code and message."
)


@extend_schema_view(
    list=extend_schema(
        summary="List phone numbers",
        description="The organization's phone numbers with their routing rules, by number. "
        "Filter by `provider` or `agent`; order by `number` or `created_at` (`-` reverses).",
    ),
)
class PhoneNumberViewSet(OrganizationModelViewSet):
    """Viewers read; admins add, change and remove numbers and their rules."""

    serializer_class = PhoneNumberSerializer
    write_role = Role.ADMIN
    action_roles = {"route": Role.VIEWER}
    filterset_fields = ["provider", "agent"]
    ordering_fields = ["number", "created_at"]

    def get_queryset(self):
        return selectors.phone_number_list()

    @extend_schema(
        summary="Get a phone number",
        description="The number's settings: its carrier, capabilities, default agent, "
        "fallback and routing rules.",
    )
    def retrieve(self, request, pk=None):
        return Response(PhoneNumberSerializer(selectors.phone_number_get(phone_number_id=pk)).data)

    @extend_schema(
        summary="Add a phone number",
        description="Admins only. Registers one of your carrier's numbers (E.164) with the "
        "organization, with its default agent, fallback and routing rules. When the "
        "organization has its own account with the carrier, the number must be on it "
        "(`number_not_on_carrier_account`, 400) and its carrier id is taken from there. To "
        "bring every number of the account at once, import them.",
        request=PhoneNumberCreateSerializer,
        responses={
            201: PhoneNumberSerializer,
            409: error_response(
                "`phone_number_taken`: the number is registered already, with this or "
                "another organization."
            ),
            502: _CARRIER_FAILED,
        },
        examples=[
            OpenApiExample(
                "A support line",
                value={"number": "+14155550100", "provider": "twilio", "agent_id": 1},
                request_only=True,
            )
        ],
    )
    def create(self, request):
        data = _valid(PhoneNumberCreateSerializer, request.data).service_fields()
        phone_number = services.phone_number_create(**data)
        phone_number = selectors.phone_number_get(phone_number_id=phone_number.pk)
        return Response(PhoneNumberSerializer(phone_number).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a phone number",
        description="Admins only; send just the fields to change. `rules`, when sent, "
        "replaces every routing rule, in the order given. The number and its carrier cannot "
        "change: remove the number and add it again.",
        request=PhoneNumberUpdateSerializer,
        responses=PhoneNumberSerializer,
    )
    def partial_update(self, request, pk=None):
        phone_number = selectors.phone_number_get(phone_number_id=pk)
        data = _valid(PhoneNumberUpdateSerializer, request.data).service_fields()
        services.phone_number_update(phone_number=phone_number, data=data)
        phone_number = selectors.phone_number_get(phone_number_id=pk)
        return Response(PhoneNumberSerializer(phone_number).data)

    @extend_schema(
        summary="Remove a phone number",
        description="Admins only. The number and its rules are removed and it may be "
        "registered again; its calls and messages keep the number as text. Nothing changes "
        "on the carrier.",
        responses={204: None},
    )
    def destroy(self, request, pk=None):
        services.phone_number_delete(phone_number=selectors.phone_number_get(phone_number_id=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Test call routing",
        description="Which agent would answer a call from `from_number` to `to_number` (one "
        "of your numbers) now, or at `at`, and why: a routing rule, the number's default "
        "agent, or its fallback when there is no agent to answer. Nothing is called.",
        request=RouteRequestSerializer,
        responses={
            200: RouteResultSerializer,
            404: error_response(
                "`phone_number_not_found`: `to_number` is not one of your numbers."
            ),
        },
    )
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

    @extend_schema(
        summary="Import phone numbers",
        description="Admins only. Brings the numbers of the carrier account (the "
        "organization's own, else the platform's) into the organization: new ones are added, "
        "yours are refreshed, and ones another organization holds are skipped. The voice, "
        "status and SMS URLs of the numbers added or refreshed are set on the carrier to "
        "this API's.",
        request=PhoneNumberImportSerializer,
        responses={
            200: PhoneNumberImportResultSerializer,
            502: _CARRIER_FAILED,
            503: error_response(
                "`carrier_not_configured`: no account with this carrier, neither the "
                "organization's nor the platform's."
            ),
        },
    )
    @action(detail=False, methods=["post"], url_path="import")
    def import_numbers(self, request):
        """Add the numbers of the platform's carrier account (Twilio by default)."""
        data = _valid(PhoneNumberImportSerializer, request.data).validated_data
        result = services.phone_number_import(provider=data["provider"])
        return Response(PhoneNumberImportResultSerializer(result).data)

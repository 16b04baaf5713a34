"""Calls and their workflows: start, end, transfer."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
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
from voiceagents.api.schema import error_response

__all__ = ["CallViewSet"]

_CARRIER_FAILED = error_response(
    "`carrier_error`: the carrier refused the request or could not be reached; "
    "`error.details` keeps its code and message. Nothing changed on the call."
)
_CARRIER_NOT_CONFIGURED = error_response(
    "`carrier_not_configured`: the platform has no account with the call's carrier."
)


@extend_schema_view(
    list=extend_schema(
        summary="List calls",
        description="The organization's calls, inbound and outbound, newest first. Filter by "
        "`status` (repeat it for several), `direction`, `end_reason`, `agent`, `number` (from "
        "or to this E.164 number), `batch_id`, `schedule_id` and `created_after` / "
        "`created_before`; order by `created_at` or `duration_seconds` (`-` reverses).",
    ),
)
class CallViewSet(mixins.ListModelMixin, OrganizationScopedViewSet):
    """Viewers read calls and their timelines; members start, end and transfer them."""

    serializer_class = CallSerializer
    filterset_class = CallFilterSet
    ordering_fields = ["created_at", "duration_seconds"]
    http_method_names = ["get", "post", "head", "options"]
    action_roles = {"create": Role.MEMBER, "end": Role.MEMBER, "transfer": Role.MEMBER}

    def get_queryset(self):
        return selectors.call_list()

    @extend_schema(
        summary="Get a call",
        description="The call with its timeline (what happened, in order), its transcript "
        "and the tools the agent used during it.",
        responses=CallDetailSerializer,
    )
    def retrieve(self, request, pk=None):
        call = selectors.call_get_with_timeline(call_id=pk)
        return Response(CallDetailSerializer(call).data)

    @extend_schema(
        summary="Start a call",
        description="Members. Places an outbound call from `agent_id` to `to_phone`. The call "
        "is answered at once as `queued` and dialed in the background: follow it by getting "
        "it, or through webhooks. It is called from `from_phone`, else the organization's "
        "default caller id, else a number assigned to the agent. `variables` fill the "
        "`{{variables}}` of the agent's prompts. Answers 429 (`concurrency_limit_reached`) "
        "when the organization already runs as many calls as it may.",
        request=CallCreateSerializer,
        responses={
            201: CallSerializer,
            409: error_response(
                "`agent_unavailable`: the agent is paused; `phone_number_not_voice_enabled`: "
                "`from_phone` is one of your numbers but voice is off on it; or "
                "`number_on_dnc_list`: `to_phone` is on the do-not-call list."
            ),
            503: error_response(
                "`carrier_not_configured`: no account with the caller number's carrier; or "
                "`ai_provider_not_configured`: no API key for the agent's AI provider "
                "(`error.message` says which to set)."
            ),
        },
        examples=[
            OpenApiExample(
                "Call a customer",
                value={
                    "agent_id": 1,
                    "to_phone": "+14155550199",
                    "variables": {"customer_name": "Ada"},
                },
                request_only=True,
            )
        ],
    )
    def create(self, request):
        data = _valid(CallCreateSerializer, request.data).validated_data
        call = services.call_initiate(
            agent_id=data["agent_id"],
            to_phone=data["to_phone"],
            from_phone=data.get("from_phone") or None,
            variables=data.get("variables"),
        )
        return Response(CallSerializer(call).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="End a call",
        description="Members. Hangs up through the carrier. A call not dialed yet, or still "
        "ringing, ends as `canceled`; one in progress ends with `end_reason` "
        "`agent_hangup`.",
        request=None,
        responses={
            200: CallSerializer,
            409: error_response("`call_already_ended`: the call has ended (`details.status`)."),
            502: _CARRIER_FAILED,
            503: _CARRIER_NOT_CONFIGURED,
        },
    )
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        call = services.call_end(call_id=selectors.call_get(call_id=pk).pk)
        return Response(CallSerializer(call).data)

    @extend_schema(
        summary="Transfer a call",
        description="Members. Hands a call in progress to a person at `to_number` (E.164): "
        "the agent leaves the call, which goes on with that person and ends as "
        "`transferred` when they hang up.",
        request=CallTransferSerializer,
        responses={
            200: CallSerializer,
            409: error_response(
                "`call_already_ended`: the call has ended; or `call_not_in_progress`: it is "
                "not answered yet (`details.status`)."
            ),
            502: _CARRIER_FAILED,
            503: _CARRIER_NOT_CONFIGURED,
        },
        examples=[
            OpenApiExample(
                "Transfer to a person", value={"to_number": "+14155550123"}, request_only=True
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def transfer(self, request, pk=None):
        call = selectors.call_get(call_id=pk)
        data = _valid(CallTransferSerializer, request.data).validated_data
        call = services.call_transfer(call_id=call.pk, to_number=data["to_number"])
        return Response(CallSerializer(call).data)

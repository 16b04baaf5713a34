"""SMS messages: read them, send one."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.response import Response

from calls import selectors, services
from calls.api.serializers import MessageCreateSerializer, MessageSerializer
from calls.api.views._common import _valid
from calls.filtersets import MessageFilterSet
from organizations.api.base import OrganizationScopedViewSet
from organizations.models import Role
from voiceagents.api.schema import error_response

__all__ = ["MessageViewSet"]


@extend_schema_view(
    list=extend_schema(
        summary="List SMS messages",
        description="The organization's SMS, sent and received, newest first. Filter by "
        "`direction`, `call`, `phone_number` and `created_after` / `created_before`.",
    ),
)
class MessageViewSet(mixins.ListModelMixin, OrganizationScopedViewSet):
    """Viewers read SMS; members send them."""

    serializer_class = MessageSerializer
    filterset_class = MessageFilterSet
    http_method_names = ["get", "post", "head", "options"]
    action_roles = {"create": Role.MEMBER}

    def get_queryset(self):
        return selectors.message_list()

    @extend_schema(
        summary="Get an SMS message",
        description="One message, with its delivery status and, when it failed, the "
        "carrier's error code and message.",
    )
    def retrieve(self, request, pk=None):
        return Response(MessageSerializer(selectors.message_get(message_id=pk)).data)

    @extend_schema(
        summary="Send an SMS",
        description="Members. Sends `body` now and answers the message as `sent`. With "
        "`call_id` it is linked to that call and goes by default from the call's number to "
        "the other party; otherwise `to_number` is required, and it goes from `from_number`, "
        "else the organization's default caller id, else its first number that can send SMS. "
        "A message the carrier refuses is kept as `failed`.",
        request=MessageCreateSerializer,
        responses={
            201: MessageSerializer,
            502: error_response(
                "`carrier_error`: the carrier refused the message or could not be reached; "
                "it is kept as `failed` (`details.message_id`)."
            ),
            503: error_response(
                "`carrier_not_configured`: no account with the sending number's carrier."
            ),
        },
        examples=[
            OpenApiExample(
                "Text a customer",
                value={"to_number": "+14155550199", "body": "Your appointment is confirmed."},
                request_only=True,
            )
        ],
    )
    def create(self, request):
        data = _valid(MessageCreateSerializer, request.data).validated_data
        message = services.message_send(
            body=data["body"],
            to_number=data.get("to_number"),
            from_number=data.get("from_number"),
            call_id=data.get("call_id"),
        )
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)

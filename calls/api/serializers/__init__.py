"""API shapes for numbers, routing, calls and messages, one module per concept. Serializers
only type and shape the data; every rule lives in calls.services."""

from calls.api.serializers.calls import (
    CallCreateSerializer,
    CallDetailSerializer,
    CallEventSerializer,
    CallSerializer,
    CallTransferSerializer,
    ToolInvocationSerializer,
    TranscriptTurnSerializer,
)
from calls.api.serializers.messages import MessageCreateSerializer, MessageSerializer
from calls.api.serializers.phone_numbers import (
    CapabilitiesSerializer,
    PhoneNumberCreateSerializer,
    PhoneNumberImportResultSerializer,
    PhoneNumberImportSerializer,
    PhoneNumberSerializer,
    PhoneNumberUpdateSerializer,
    RouteFallbackSerializer,
    RouteRequestSerializer,
    RouteResultSerializer,
    RoutingRuleSerializer,
    route_result,
)

__all__ = [
    "CallCreateSerializer",
    "CallDetailSerializer",
    "CallEventSerializer",
    "CallSerializer",
    "CallTransferSerializer",
    "CapabilitiesSerializer",
    "MessageCreateSerializer",
    "MessageSerializer",
    "PhoneNumberCreateSerializer",
    "PhoneNumberImportResultSerializer",
    "PhoneNumberImportSerializer",
    "PhoneNumberSerializer",
    "PhoneNumberUpdateSerializer",
    "RouteFallbackSerializer",
    "RouteRequestSerializer",
    "RouteResultSerializer",
    "RoutingRuleSerializer",
    "ToolInvocationSerializer",
    "TranscriptTurnSerializer",
    "route_result",
]

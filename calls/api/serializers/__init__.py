"""API shapes for numbers, routing, calls, messages, batches and the do-not-call list, one
module per concept. Serializers only type and shape the data; every rule lives in
calls.services."""

from calls.api.serializers.batches import (
    BatchCountsSerializer,
    BatchCreateSerializer,
    BatchDetailSerializer,
    BatchEventSerializer,
    BatchProgressSerializer,
    BatchRowSerializer,
    BatchSerializer,
    BatchUpdateSerializer,
)
from calls.api.serializers.calls import (
    CallCreateSerializer,
    CallDetailSerializer,
    CallEventSerializer,
    CallSerializer,
    CallTransferSerializer,
    ToolInvocationSerializer,
    TranscriptTurnSerializer,
)
from calls.api.serializers.dnc import (
    DncEntryCreateSerializer,
    DncEntrySerializer,
    DncEntryUpdateSerializer,
    DncImportProblemSerializer,
    DncImportResultSerializer,
    DncImportSerializer,
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
    "BatchCountsSerializer",
    "BatchCreateSerializer",
    "BatchDetailSerializer",
    "BatchEventSerializer",
    "BatchProgressSerializer",
    "BatchRowSerializer",
    "BatchSerializer",
    "BatchUpdateSerializer",
    "CallCreateSerializer",
    "CallDetailSerializer",
    "CallEventSerializer",
    "CallSerializer",
    "CallTransferSerializer",
    "CapabilitiesSerializer",
    "DncEntryCreateSerializer",
    "DncEntrySerializer",
    "DncEntryUpdateSerializer",
    "DncImportProblemSerializer",
    "DncImportResultSerializer",
    "DncImportSerializer",
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

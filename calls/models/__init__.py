"""Telephony (tenant schema), one module per concept: the organization's phone numbers and
their routing rules, calls with their timeline, transcript and tool use, SMS messages, batches
and their rows, and the do-not-call list. (Schedules will be a module of their own here.)
"""

from calls.models.batches import (
    Batch,
    BatchEvent,
    BatchRow,
    BatchRowOutcome,
    BatchRowStatus,
    BatchStatus,
    DoNotCallEntry,
)
from calls.models.calls import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    Call,
    CallDirection,
    CallEvent,
    CallStatus,
    EndReason,
    ToolInvocation,
    TranscriptTurn,
)
from calls.models.messages import Message, MessageDirection, MessageStatus
from calls.models.phone_numbers import Carrier, FallbackAction, PhoneNumber, RoutingRule

__all__ = [
    "ACTIVE_STATUSES",
    "FINAL_STATUSES",
    "Batch",
    "BatchEvent",
    "BatchRow",
    "BatchRowOutcome",
    "BatchRowStatus",
    "BatchStatus",
    "Call",
    "CallDirection",
    "CallEvent",
    "CallStatus",
    "Carrier",
    "DoNotCallEntry",
    "EndReason",
    "FallbackAction",
    "Message",
    "MessageDirection",
    "MessageStatus",
    "PhoneNumber",
    "RoutingRule",
    "ToolInvocation",
    "TranscriptTurn",
]

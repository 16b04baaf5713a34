"""Telephony (tenant schema), one module per concept: the organization's phone numbers and
their routing rules, calls with their timeline, transcript and tool use, and SMS messages.
(Batches and schedules will be modules of their own here: ``batches.py``, ``schedules.py``.)
"""

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
    "Call",
    "CallDirection",
    "CallEvent",
    "CallStatus",
    "Carrier",
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

"""Telephony (tenant schema), one module per concept: the organization's phone numbers and
their routing rules, calls with their timeline, transcript and tool use, SMS messages, batches
and their rows, the do-not-call list, and schedules with their runs.
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
    AnalysisStatus,
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
from calls.models.schedules import (
    MissedRunPolicy,
    ScheduledCall,
    ScheduledRun,
    ScheduledRunStatus,
    ScheduleStatus,
)

__all__ = [
    "ACTIVE_STATUSES",
    "FINAL_STATUSES",
    "AnalysisStatus",
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
    "MissedRunPolicy",
    "PhoneNumber",
    "RoutingRule",
    "ScheduleStatus",
    "ScheduledCall",
    "ScheduledRun",
    "ScheduledRunStatus",
    "ToolInvocation",
    "TranscriptTurn",
]

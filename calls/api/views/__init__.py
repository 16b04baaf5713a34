"""Telephony API, one module per concept: numbers (with their routing rules), route testing and
import, calls and their workflows (start, end, transfer), messages, batches (their rows,
progress and report), the do-not-call list and schedules (their runs and next times). Each view validates, calls one service or
selector, and renders."""

from calls.api.views.batches import BatchViewSet
from calls.api.views.calls import CallViewSet
from calls.api.views.dnc import DncEntryViewSet
from calls.api.views.messages import MessageViewSet
from calls.api.views.phone_numbers import PhoneNumberViewSet
from calls.api.views.schedules import ScheduleViewSet

__all__ = [
    "BatchViewSet",
    "CallViewSet",
    "DncEntryViewSet",
    "MessageViewSet",
    "PhoneNumberViewSet",
    "ScheduleViewSet",
]

"""Telephony API, one module per concept: numbers (with their routing rules), route testing and
import, calls and their workflows (start, end, transfer), messages, batches (their rows,
progress and report) and the do-not-call list. Each view validates, calls one service or
selector, and renders."""

from calls.api.views.batches import BatchViewSet
from calls.api.views.calls import CallViewSet
from calls.api.views.dnc import DncEntryViewSet
from calls.api.views.messages import MessageViewSet
from calls.api.views.phone_numbers import PhoneNumberViewSet

__all__ = [
    "BatchViewSet",
    "CallViewSet",
    "DncEntryViewSet",
    "MessageViewSet",
    "PhoneNumberViewSet",
]

"""Reads of SMS messages."""

from __future__ import annotations

from django.db.models import QuerySet

from calls.exceptions import MessageNotFound
from calls.models import Message
from calls.selectors._common import pk_or_none

__all__ = ["message_get", "message_list"]


def message_list() -> QuerySet[Message]:
    return Message.objects.select_related("phone_number")


def message_get(*, message_id: int | str) -> Message:
    message = message_list().filter(pk=pk_or_none(message_id)).first()
    if message is None:
        raise MessageNotFound()
    return message

"""Reads of SMS messages."""

from __future__ import annotations

from django.db.models import QuerySet

from calls.exceptions import MessageNotFound
from calls.models import Message
from calls.selectors._common import by_pk

__all__ = ["message_get", "message_list"]


def message_list() -> QuerySet[Message]:
    return Message.objects.select_related("phone_number")


def message_get(*, message_id: int | str) -> Message:
    message = by_pk(message_list(), message_id).first()
    if message is None:
        raise MessageNotFound()
    return message

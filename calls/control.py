"""Messages to a live call's media bridge from elsewhere (webhooks, services, operators).
Not part of the bridge package: services send these, and must not import the bridge.

The bridge's consumer listens on the Channels group ``call-control-<schema>-<id>``; whichever
process receives the carrier's webhook sends the message there, so it reaches the process
holding the call's media stream. A message for a call without a live bridge is simply dropped.
The schema is in the name because call ids are per organization: organization A's call 5 and
organization B's call 5 are live at once on the same channel layer.
"""

from __future__ import annotations

from typing import Any

import structlog
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from voiceagents.tenancy import current_schema_name

logger = structlog.get_logger(__name__)


def control_group(*, schema_name: str, call_id: int) -> str:
    return f"call-control-{schema_name}-{call_id}"


def transcript_group(*, schema_name: str, call_id: int) -> str:
    """Where a live call's bridge publishes its turns, for operators watching the call."""
    return f"call-{schema_name}-{call_id}"


def bridge_control_send(*, schema_name: str, call_id: int, action: str, **extra: Any) -> None:
    """Send ``action`` (``machine_detected``, ``hangup``) to the bridge of call ``call_id`` of
    the organization whose schema is ``schema_name``. Sync: for services; call it after
    commit, with the schema read when the message was decided (``bridge_control_on_commit``):
    by the time on-commit callbacks run, the connection may be back in another schema."""
    layer = get_channel_layer()
    if layer is None:
        return
    group = control_group(schema_name=schema_name, call_id=call_id)
    try:
        async_to_sync(layer.group_send)(group, {"type": "call.control", "action": action, **extra})
    except Exception as exc:  # the webhook must not fail because Redis hiccuped
        logger.warning("bridge_control_failed", call_id=call_id, action=action, error=repr(exc))


def bridge_control_on_commit(*, call_id: int, action: str, **extra: Any) -> None:
    """``bridge_control_send`` for call ``call_id`` of the active organization once the
    current transaction commits (nothing if it rolls back)."""
    schema_name = current_schema_name()
    transaction.on_commit(
        lambda: bridge_control_send(
            schema_name=schema_name, call_id=call_id, action=action, **extra
        )
    )

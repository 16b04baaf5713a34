"""Messages to a live call's media bridge from elsewhere (webhooks, services, operators).
Not part of the bridge package: services send these, and must not import the bridge.

The bridge's consumer listens on the Channels group ``call-control-<id>``; whichever process
receives the carrier's webhook sends the message there, so it reaches the process holding the
call's media stream. A message for a call without a live bridge is simply dropped.
"""

from __future__ import annotations

from typing import Any

import structlog
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = structlog.get_logger(__name__)


def control_group(call_id: int) -> str:
    return f"call-control-{call_id}"


def bridge_control_send(*, call_id: int, action: str, **extra: Any) -> None:
    """Send ``action`` (``machine_detected``, ``hangup``) to the call's bridge. Sync: for
    services; call it after commit."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            control_group(call_id), {"type": "call.control", "action": action, **extra}
        )
    except Exception as exc:  # the webhook must not fail because Redis hiccuped
        logger.warning("bridge_control_failed", call_id=call_id, action=action, error=repr(exc))

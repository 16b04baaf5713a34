"""The call's timers, as a part of CallBridge (a mixin, kept in its own module for size): a
watchdog task that ends the call once a requested hang-up's goodbye has played (or after a
grace period), says goodbye at the agent's maximum duration, and prompts a silent caller,
then says goodbye after the second prompt."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from agents.realtime.base import RealtimeSession
from calls.bridge.interface import BridgeSettings

__all__ = ["BridgeTimers"]

WATCHDOG_INTERVAL_S = 0.25
HANGUP_GRACE_S = 15.0  # longest we wait for a goodbye to finish before hanging up anyway
SILENCE_PROMPT = "(The caller has been silent for a while. Briefly ask if they are still there.)"
SILENCE_GOODBYE = "(The caller is still silent. Say a short, polite goodbye.)"
MAX_DURATION_GOODBYE = "(The call has reached its time limit. Say a brief, polite goodbye now.)"


class BridgeTimers:
    # The bridge's state these timers read and write (set in CallBridge.__init__).
    settings: BridgeSettings
    session: RealtimeSession
    started_at: float
    _connected: bool
    _response_active: bool
    _last_activity: float
    _silence_prompts: int
    _max_duration_hit: bool
    _pending_hangup: str | None
    _hangup_deadline: float
    _end_reason_hint: str | None
    _finish_task: asyncio.Task[None] | None

    # Implemented by CallBridge.
    @property
    def playing(self) -> bool:
        raise NotImplementedError

    def event(self, name: str, **payload: Any) -> None:
        raise NotImplementedError

    async def finish(self, end_reason: str) -> None:
        raise NotImplementedError

    def request_hangup(self, *, reason: str) -> None:
        """Hang up once the agent's current answer has been heard (or after a grace period)."""
        if self._pending_hangup is None:
            self._pending_hangup = reason
            self._hangup_deadline = time.monotonic() + HANGUP_GRACE_S
            self.event("hangup_requested", reason=reason)

    async def _watchdog(self) -> None:
        settings = self.settings
        while True:
            await asyncio.sleep(WATCHDOG_INTERVAL_S)
            now = time.monotonic()
            if self._pending_hangup is not None:
                drained = not self.playing and not self._response_active
                if drained or now >= self._hangup_deadline:
                    reason = self._end_reason_hint or self._pending_hangup
                    self._finish_task = asyncio.create_task(self.finish(reason))
                    return
                continue
            if self.playing or self._response_active:
                self._last_activity = now
            elapsed = now - self.started_at
            if not self._max_duration_hit and elapsed >= settings.max_duration_s:
                self._max_duration_hit = True
                self.event("max_duration_reached", seconds=int(elapsed))
                if self._connected:
                    with contextlib.suppress(Exception):
                        await self.session.send_text(MAX_DURATION_GOODBYE)
                    self._response_active = True
                self.request_hangup(reason="max_duration")
                continue
            if (
                settings.silence_timeout_s
                and now - self._last_activity >= settings.silence_timeout_s
            ):
                self._last_activity = now
                self._silence_prompts += 1
                self.event("silence_timeout", prompt=self._silence_prompts)
                if self._connected:
                    with contextlib.suppress(Exception):
                        await self.session.send_text(
                            SILENCE_PROMPT if self._silence_prompts == 1 else SILENCE_GOODBYE
                        )
                    self._response_active = True
                if self._silence_prompts >= 2:
                    self.request_hangup(reason="agent_hangup")

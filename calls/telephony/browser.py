"""The media stream of a web call ("Talk to this agent" in the console): the operator's
browser speaks Twilio's Media Streams protocol (docs/protocols.md, "Twilio: media streams")
over ``/ws/web/media/<token>``, so the call goes through the same consumer and bridge as a
phone call. Not a carrier: nothing dials, nothing calls back, and there is no carrier call id.

The one difference from Twilio: ``start`` needs no ``callSid``, and any it carries is ignored,
so a web call never gets a carrier call id (the services then never ask a carrier about it:
hanging up, transferring, sweeping a stale call).
"""

from __future__ import annotations

from calls.telephony.media import Frame, StreamStart, frame_id, frame_object, media_format
from calls.telephony.twilio import TwilioMediaProtocol

__all__ = ["BrowserMediaProtocol"]


class BrowserMediaProtocol(TwilioMediaProtocol):
    # The provider of a web call (calls.models.calls.WEB_PROVIDER; this package imports no
    # models) and the carrier segment of its route (calls/routing.py).
    name = "web"

    def parse_start(self, message: Frame) -> StreamStart:
        start = frame_object(message.get("start"), "start")
        stream_id = frame_id(start.get("streamSid") or message.get("streamSid"), "streamSid")
        encoding, sample_rate = media_format(start.get("mediaFormat"), "start.mediaFormat")
        self.stream_id = stream_id
        self._media_head = (
            '{"event":"media","streamSid":"' + self.stream_id + '","media":{"payload":"'
        )
        return StreamStart(
            stream_id=stream_id, carrier_call_id="", encoding=encoding, sample_rate=sample_rate
        )

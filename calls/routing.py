"""Media WebSockets, one route per carrier: ``/ws/<carrier>/media/<token>`` (the URL
calls.telephony.urls.media_stream_url hands the carrier), and ``/ws/web/media/<token>`` for
web calls (calls.services.web_calls). Those pick their organization from the signed token
(calls.bridge.middleware).

``/ws/calls/<id>/live/`` is an operator's live view of a call (calls.consumers_live), on the
organization's own domain: its organization comes from the Host header
(voiceagents.websocket_tenancy), its user from the console's session cookie."""

from typing import Any, cast

from channels.auth import AuthMiddlewareStack
from django.urls import path

from calls.consumers import MediaStreamConsumer
from calls.consumers_live import LiveCallConsumer
from calls.telephony.browser import BrowserMediaProtocol
from calls.telephony.registry import CARRIERS
from voiceagents.websocket_tenancy import HostTenantMiddleware

websocket_urlpatterns = [
    path(f"ws/{carrier}/media/<str:token>", MediaStreamConsumer.as_asgi(carrier=carrier))
    for carrier in CARRIERS
]
# A web call ("Talk to this agent"): the operator's browser, speaking Twilio's protocol.
websocket_urlpatterns.append(
    path(
        f"ws/{BrowserMediaProtocol.name}/media/<str:token>",
        MediaStreamConsumer.as_asgi(protocol_class=BrowserMediaProtocol),
    )
)
# Channels' router takes ASGI applications where Django's path is typed for views.
websocket_urlpatterns.append(
    path(
        "ws/calls/<int:call_id>/live/",
        cast(Any, HostTenantMiddleware(AuthMiddlewareStack(LiveCallConsumer.as_asgi()))),
    )
)

"""Media WebSockets, one route per carrier: ``/ws/<carrier>/media/<token>`` (the URL
calls.telephony.urls.media_stream_url hands the carrier), and ``/ws/web/media/<token>`` for
web calls (calls.services.web_calls)."""

from django.urls import path

from calls.consumers import MediaStreamConsumer
from calls.telephony.browser import BrowserMediaProtocol
from calls.telephony.registry import CARRIERS

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

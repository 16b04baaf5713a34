"""Media WebSockets, one route per carrier: ``/ws/<carrier>/media/<token>`` (the URL
calls.telephony.urls.media_stream_url hands the carrier)."""

from django.urls import path

from calls.consumers import MediaStreamConsumer
from calls.telephony.registry import CARRIERS

websocket_urlpatterns = [
    path(f"ws/{carrier}/media/<str:token>", MediaStreamConsumer.as_asgi(carrier=carrier))
    for carrier in CARRIERS
]

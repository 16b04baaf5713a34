"""WebSocket routes. The media streams select their tenant from the signed token in the URL
(calls.bridge.middleware), the one place WebSocket tenancy is decided."""

from channels.routing import URLRouter

from calls.bridge.middleware import StreamTokenMiddleware
from calls.routing import websocket_urlpatterns as call_routes

websocket_urlpatterns = call_routes


def websocket_application():
    return StreamTokenMiddleware(URLRouter(websocket_urlpatterns))

"""ASGI entry point: HTTP goes to Django (tenant chosen by django-tenants' middleware);
WebSockets go through Channels' URL router (each media route authenticates its own signed
token, which names the organization and call)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voiceagents.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from voiceagents.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": websocket_application(),
    }
)

"""ASGI entry point: HTTP goes to Django (tenant chosen by django-tenants' middleware);
WebSockets go through Channels' URL router (each media route authenticates its own signed
token, which names the organization and call)."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voiceagents.settings")
django_asgi_app = get_asgi_application()

from voiceagents.secrets import encryption_keys_check  # noqa: E402

# Organizations' secrets are stored encrypted: no server without SECRETS_ENCRYPTION_KEYS.
encryption_keys_check()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from voiceagents.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": websocket_application(),
    }
)

# Import the realtime providers now, not on a call's first frame: a lazy import blocks the
# event loop (and every live call on it) for ~0.2 s.
import agents.realtime.gemini  # noqa: E402, F401
import agents.realtime.hume  # noqa: E402, F401
import agents.realtime.openai  # noqa: E402, F401

# Everything loaded so far lives for the whole process: move it out of the garbage
# collector's reach. Without this, a full collection while many calls connect stalled every
# live call for 150-195 ms (27 ms with it; bench/bench_bridge.py).
gc.collect()
gc.freeze()

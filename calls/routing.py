from django.urls import path

from calls.consumers import PlivoMediaConsumer, TwilioMediaConsumer

websocket_urlpatterns = [
    path("ws/twilio/media/<str:token>", TwilioMediaConsumer.as_asgi()),
    path("ws/plivo/media/<str:token>", PlivoMediaConsumer.as_asgi()),
]

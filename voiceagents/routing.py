"""WebSocket routes. Apps append their consumers here (the media streams live in calls)."""

websocket_urlpatterns: list = []

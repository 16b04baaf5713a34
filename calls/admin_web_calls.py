"""The console's "Talk to this agent": the agent's admin page (its script,
static/agents/talk.js) posts here to start a web call, and gets JSON back: the call, the
media stream to open and where to follow the call. The call itself is made by
calls.services.web_calls, under the same rules as every other call.

Mounted by the calls' admin (CallAdmin.get_urls), not the agents' one: agents import nothing
of calls."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, path, reverse
from django.views.decorators.http import require_POST

from agents.selectors import agent_get
from calls.live_monitor import live_ws_path
from calls.services.web_calls import web_call_start
from organizations.models import User
from voiceagents.api.exceptions import error_body
from voiceagents.exceptions import ApplicationError, PermissionDenied

__all__ = ["web_call_urls"]


def web_call_urls(admin_view) -> list[URLPattern]:
    """The routes, wrapped in the admin site's ``admin_view`` (a signed-in member)."""
    return [
        path(
            "web/<int:agent_id>/start/",
            admin_view(require_POST(web_call_start_view)),
            name="calls_call_web_start",
        ),
    ]


def web_call_start_view(request: HttpRequest, agent_id: int) -> JsonResponse:
    """201 with the call's id, the stream's path (the browser opens it on its own origin), the
    call's live view (its turns as they are said: calls.consumers_live), its API URL (its
    status, duration and transcript as written, read with the session) and its admin page;
    the API's error shape otherwise."""
    try:
        if not isinstance(request.user, User):
            raise PermissionDenied()
        web_call = web_call_start(agent=agent_get(agent_id=agent_id), user=request.user)
    except ApplicationError as exc:
        body = error_body(
            code=exc.code,
            message=exc.message,
            details=exc.details,
            request_id=getattr(request, "request_id", None),
        )
        return JsonResponse(body, status=exc.status)
    call = web_call.call
    return JsonResponse(
        {
            "call_id": call.pk,
            "stream_path": urlsplit(web_call.stream_url).path,
            "live_path": live_ws_path(call_id=call.pk),
            "call_api_url": reverse("call-detail", args=[call.pk]),
            "call_admin_url": reverse("admin:calls_call_change", args=[call.pk]),
        },
        status=201,
    )

"""Web calls: an operator talks to an agent from the console ("Talk to this agent"). The
browser streams its microphone over the media WebSocket a carrier would use
(calls.telephony.browser speaks Twilio's protocol there), so the call goes through the same
consumer, bridge and lifecycle as a phone call and leaves a normal Call record (direction
``web``): in progress once the stream starts, completed with its duration and transcript
when the operator hangs up or closes the page.

Nothing is dialed: the call is created here and its stream URL signed as an outbound call's
is, and the browser opens that stream itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from django.db import transaction

from agents.exceptions import AgentNotFound
from agents.models import Agent
from calls.metrics import CALLS_STARTED
from calls.models import Call, CallDirection, CallEvent, CallStatus
from calls.models.calls import WEB_PROVIDER
from calls.selectors import current_organization
from calls.services._common import _agent_version, _concurrency_check
from calls.services.outbound import ai_provider_check
from calls.services.timeline import _event
from calls.stream_tokens import stream_token_issue
from calls.telephony.urls import media_stream_url
from organizations.models import Membership, Role, User
from voiceagents.exceptions import PermissionDenied
from voiceagents.tenancy import current_schema_name

__all__ = ["WEB_CALL_ROLE", "WebCall", "web_call_start"]

logger = structlog.get_logger(__name__)

# Starting a call is a member's right, as for calls placed from the API or the admin.
WEB_CALL_ROLE = Role.MEMBER


@dataclass(frozen=True)
class WebCall:
    """A web call just created, and the signed media-stream URL its browser opens (single
    use, valid for a few minutes: calls.stream_tokens)."""

    call: Call
    stream_url: str


def web_call_start(*, agent: Agent, user: User) -> WebCall:
    """Start a web call between ``user``'s browser and ``agent``, in the active organization.

    Refused to a viewer (PermissionDenied), for a deleted agent (AgentNotFound), when the
    agent's AI provider has no usable key (AIProviderNotConfigured, 503: the bridge could
    not open the model) and when the organization is at its concurrent-call limit
    (ConcurrencyLimitReached, checked under the same lock as every other call). A paused
    agent can be tried: pausing stops its phone calls, not its operators' tests.
    """
    organization = current_organization()
    if not _has_role(user, organization_id=organization.pk, minimum=WEB_CALL_ROLE):
        raise PermissionDenied("Viewers cannot start calls: ask an admin for the member role.")
    if not Agent.objects.alive().filter(pk=agent.pk).exists():
        raise AgentNotFound()
    ai_provider_check(agent=agent)
    with transaction.atomic():
        _concurrency_check()
        call = Call.objects.create(
            direction=CallDirection.WEB,
            provider=WEB_PROVIDER,
            from_number="",
            to_number="",
            agent=agent,
            agent_version=_agent_version(agent),
            status=CallStatus.QUEUED,
        )
        _event(
            call,
            CallEvent.Kind.ACTION,
            "created",
            {"agent_id": agent.pk, "web": True, "user_id": user.pk},
        )
        transaction.on_commit(lambda: CALLS_STARTED.labels("web", WEB_PROVIDER).inc())
    token = stream_token_issue(schema_name=current_schema_name(), call_id=call.pk)
    logger.info("web_call_started", call_id=call.pk, agent_id=agent.pk, user_id=user.pk)
    return WebCall(call=call, stream_url=media_stream_url(provider=WEB_PROVIDER, token=token))


def _has_role(user: User, *, organization_id: int, minimum: str) -> bool:
    if not user.is_active:
        return False
    if user.is_superuser:
        return True  # a platform operator acts as an owner everywhere (as in the admin)
    role = (
        Membership.objects.filter(user=user, organization_id=organization_id)
        .values_list("role", flat=True)
        .first()
    )
    return role is not None and Role.at_least(role, minimum)

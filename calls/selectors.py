"""Reads for telephony: numbers, calls, messages, and routing (which agent answers a call).

Everything reads the active tenant schema, so another organization's rows are simply absent:
``*_get`` raises the same NotFound for "missing" and "not yours".
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from agents.models import Agent, AgentStatus
from calls.exceptions import CallNotFound, MessageNotFound, PhoneNumberNotFound
from calls.models import (
    Call,
    CallEvent,
    Message,
    PhoneNumber,
    RoutingRule,
)
from calls.numbers import country_of, e164
from organizations.models import Organization

DEFAULT_FALLBACK_MESSAGE = (
    "Sorry, no one can take your call right now. Please try again later. Goodbye."
)


def current_organization() -> Organization:
    """The organization whose schema is active."""
    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Organization):
        return tenant
    return Organization.objects.get(schema_name=connection.schema_name)


def _pk(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- phone numbers -----------------------------------------------------------------------------


def phone_number_list() -> QuerySet[PhoneNumber]:
    rules = RoutingRule.objects.order_by("position", "id")
    return PhoneNumber.objects.select_related("agent").prefetch_related(
        Prefetch("rules", queryset=rules)
    )


def phone_number_get(*, phone_number_id: int | str) -> PhoneNumber:
    phone_number = phone_number_list().filter(pk=_pk(phone_number_id)).first()
    if phone_number is None:
        raise PhoneNumberNotFound()
    return phone_number


def phone_number_get_by_number(*, number: str) -> PhoneNumber:
    phone_number = phone_number_list().filter(number=e164(number)).first()
    if phone_number is None:
        raise PhoneNumberNotFound(f"{number} is not one of this organization's numbers.")
    return phone_number


# --- routing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteDecision:
    """Who answers a call to one of our numbers. ``rule`` is ``"rule"`` (``rule_id`` matched),
    ``"default"`` (the number's default agent) or ``"fallback"`` (no agent: see
    ``fallback_action``); ``reason`` explains it in words."""

    phone_number: PhoneNumber
    agent: Agent | None
    rule: str
    reason: str
    rule_id: int | None = None
    rule_name: str = ""

    @property
    def is_fallback(self) -> bool:
        return self.agent is None

    @property
    def fallback_action(self) -> str:
        return self.phone_number.fallback_action if self.is_fallback else ""

    @property
    def fallback_message(self) -> str:
        return self.phone_number.fallback_message or DEFAULT_FALLBACK_MESSAGE

    @property
    def forward_number(self) -> str:
        return self.phone_number.fallback_forward_number

    def as_fallback(self, reason: str) -> RouteDecision:
        return RouteDecision(
            phone_number=self.phone_number,
            agent=None,
            rule="fallback",
            reason=reason,
            rule_id=self.rule_id,
            rule_name=self.rule_name,
        )


def agent_is_available(agent: Agent | None) -> bool:
    return agent is not None and agent.deleted_at is None and agent.status == AgentStatus.ACTIVE


def routing_rule_matches(rule: RoutingRule, *, from_number: str, local: dt.datetime) -> bool:
    """Whether ``rule`` applies to a call from ``from_number`` at local time ``local``."""
    if rule.caller_prefix and not from_number.startswith(rule.caller_prefix):
        return False
    if rule.caller_country and country_of(from_number) != rule.caller_country:
        return False
    days = set(rule.days_of_week or [])
    weekday, now = local.weekday(), local.time()
    if rule.start_time is None or rule.end_time is None:
        return not days or weekday in days
    start, end = rule.start_time, rule.end_time
    if start <= end:
        return (not days or weekday in days) and start <= now < end
    # Overnight window: the part after midnight belongs to the previous day's window.
    if now >= start:
        return not days or weekday in days
    if now < end:
        return not days or (weekday - 1) % 7 in days
    return False


def call_route(
    *,
    to_number: str,
    from_number: str,
    at: dt.datetime | None = None,
    phone_number: PhoneNumber | None = None,
) -> RouteDecision:
    """Which agent takes a call from ``from_number`` to our ``to_number`` at ``at`` (now):
    the first active rule that matches, else the number's default agent; when that agent is
    paused or deleted, or there is none, the number's fallback."""
    if phone_number is None:
        phone_number = phone_number_get_by_number(number=to_number)
    organization = current_organization()
    local = timezone.localtime(at or timezone.now(), zoneinfo.ZoneInfo(organization.timezone))
    rules = [r for r in phone_number.rules.all() if r.is_active]
    for rule in rules:
        if not routing_rule_matches(rule, from_number=from_number, local=local):
            continue
        label = rule.name or f"rule {rule.position}"
        decision = RouteDecision(
            phone_number=phone_number,
            agent=rule.agent,
            rule="rule",
            rule_id=rule.pk,
            rule_name=rule.name,
            reason=f"matched {label}",
        )
        if not agent_is_available(rule.agent):
            return decision.as_fallback(f"the agent of {label} is paused or deleted")
        return decision
    default = RouteDecision(
        phone_number=phone_number,
        agent=phone_number.agent,
        rule="default",
        reason="no rule matched; the number's default agent",
    )
    if phone_number.agent is None:
        return default.as_fallback("no rule matched and the number has no default agent")
    if not agent_is_available(phone_number.agent):
        return default.as_fallback("no rule matched and the default agent is paused or deleted")
    return default


def phone_number_agent_get(*, number: str) -> Agent | None:
    """The number's default agent when it can take calls (no rules applied)."""
    agent = phone_number_get_by_number(number=number).agent
    return agent if agent_is_available(agent) else None


# The product spec's names for these reads.
route_call = call_route
get_agent_for_number = phone_number_agent_get


# --- calls ---------------------------------------------------------------------------------------


def call_list() -> QuerySet[Call]:
    """Calls with what lists show; ``calls.filtersets.CallFilterSet`` narrows them."""
    return Call.objects.select_related("agent", "agent_version", "phone_number")


def call_get(*, call_id: int | str) -> Call:
    call = call_list().filter(pk=_pk(call_id)).first()
    if call is None:
        raise CallNotFound()
    return call


def call_get_with_timeline(*, call_id: int | str) -> Call:
    call = (
        call_list()
        .prefetch_related(
            Prefetch("events", queryset=CallEvent.objects.order_by("created_at", "id")),
            "transcript",
            "tool_invocations",
        )
        .filter(pk=_pk(call_id))
        .first()
    )
    if call is None:
        raise CallNotFound()
    return call


def call_status_get(*, call_id: int | str) -> dict[str, Any]:
    """The call's state in a few fields (for polling clients and the bridge)."""
    call = call_get(call_id=call_id)
    return {
        "id": call.pk,
        "status": call.status,
        "end_reason": call.end_reason,
        "answered_at": call.answered_at,
        "ended_at": call.ended_at,
        "duration_seconds": call.duration_seconds,
    }


get_call_status = call_status_get


# --- messages ------------------------------------------------------------------------------------


def message_list() -> QuerySet[Message]:
    return Message.objects.select_related("phone_number")


def message_get(*, message_id: int | str) -> Message:
    message = message_list().filter(pk=_pk(message_id)).first()
    if message is None:
        raise MessageNotFound()
    return message

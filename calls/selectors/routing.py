"""Routing: which agent answers a call to one of our numbers (rules, the number's default
agent, its fallback)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.utils import timezone

from agents.models import Agent, AgentStatus
from calls.models import PhoneNumber, RoutingRule
from calls.numbers import country_of
from calls.selectors.organizations import current_organization
from calls.selectors.phone_numbers import phone_number_get_by_number

__all__ = [
    "DEFAULT_FALLBACK_MESSAGE",
    "RouteDecision",
    "agent_is_available",
    "call_route",
    "phone_number_agent_get",
    "routing_rule_matches",
]

DEFAULT_FALLBACK_MESSAGE = (
    "Sorry, no one can take your call right now. Please try again later. Goodbye."
)


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

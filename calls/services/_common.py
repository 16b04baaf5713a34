"""Helpers shared by the service modules: the error shapes they raise, the organization's
concurrent-call check and the agent version a new call records."""

from __future__ import annotations

from typing import Any

from agents.models import Agent, AgentVersion
from calls.exceptions import CarrierRequestFailed, ConcurrencyLimitReached
from calls.locks import call_concurrency_lock
from calls.models import ACTIVE_STATUSES, Call
from calls.selectors import current_organization
from calls.telephony.base import CarrierError
from voiceagents.exceptions import ValidationFailed


def _fail(field_name: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, details={"fields": {field_name: [message]}})


def _carrier_failure(exc: CarrierError, **details: Any) -> CarrierRequestFailed:
    return CarrierRequestFailed(
        f"The carrier refused the request: {exc.message}",
        details={
            "carrier_code": exc.code,
            "carrier_message": exc.message,
            "kind": str(exc.kind),
            **details,
        },
    )


def _concurrency_check() -> None:
    """Refuse a new call when the organization is at its limit. Call inside the transaction
    that creates the call, after taking the lock (calls.locks says why)."""
    organization = current_organization()
    call_concurrency_lock(organization_id=organization.pk)
    active = Call.objects.filter(status__in=ACTIVE_STATUSES).count()
    if active >= organization.max_concurrent_calls:
        raise ConcurrencyLimitReached(
            details={
                "active_calls": active,
                "max_concurrent_calls": organization.max_concurrent_calls,
            }
        )


def _agent_version(agent: Agent) -> AgentVersion | None:
    return AgentVersion.objects.filter(agent=agent, number=agent.version).first()

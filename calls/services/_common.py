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


class ConcurrencyBudget:
    """The organization's free call slots, counted once for a transaction that starts many
    calls (a claim of the schedules' dispatcher) instead of once per call: ``open`` takes the
    lock of ``_concurrency_check`` and counts the active calls; the lock is held to the
    transaction's end, so no other writer starts a call meanwhile and each call started here
    need only take one slot (``take``). Open it outside any savepoint a caller may roll back
    (a lock taken in a rolled-back savepoint is released with it). A slot taken by a call
    whose savepoint later rolls back stays taken: the claim starts fewer calls than it could,
    never more."""

    def __init__(self) -> None:
        self._free: int | None = None
        self._details: dict[str, int] = {}

    def open(self) -> None:
        organization = current_organization()
        call_concurrency_lock(organization_id=organization.pk)
        active = Call.objects.filter(status__in=ACTIVE_STATUSES).count()
        self._free = organization.max_concurrent_calls - active
        self._details = {
            "active_calls": active,
            "max_concurrent_calls": organization.max_concurrent_calls,
        }

    def take(self) -> None:
        """One slot for a call about to be created; ``ConcurrencyLimitReached`` when none is
        left (before anything is written)."""
        if self._free is None:
            raise RuntimeError("ConcurrencyBudget.take() before open()")
        if self._free <= 0:
            raise ConcurrencyLimitReached(details=dict(self._details))
        self._free -= 1
        self._details["active_calls"] += 1


def _agent_version(agent: Agent) -> AgentVersion | None:
    return AgentVersion.objects.filter(agent=agent, number=agent.version).first()

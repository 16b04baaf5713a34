"""Calls we make, and what we do to a live call: start (queued now, dialed by a Celery task
once the transaction commits), place (the carrier request, at most once), end, transfer,
say-and-hang-up. Carrier requests are never made inside a transaction that could roll back."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from django.db import connection, transaction
from django.utils import timezone

from agents.exceptions import AgentNotFound
from agents.models import Agent, AgentVersion
from agents.realtime.registry import provider_credentials
from calls import lifecycle
from calls.control import bridge_control_on_commit
from calls.exceptions import (
    AgentUnavailable,
    AIProviderNotConfigured,
    CallAlreadyEnded,
    CallNotInProgress,
    CarrierNotConfigured,
    NumberOnDncList,
)
from calls.metrics import CALLS_STARTED
from calls.models import Call, CallDirection, CallEvent, CallStatus, EndReason, PhoneNumber
from calls.models.calls import WEB_PROVIDER
from calls.numbers import e164
from calls.selectors import agent_is_available, call_get, caller_number_get, dnc_numbers_listed
from calls.services._common import (
    ConcurrencyBudget,
    _agent_version,
    _carrier_failure,
    _concurrency_check,
    _fail,
)
from calls.services.timeline import _event, _finalize, _locked
from calls.telephony.base import CarrierClient, CarrierError, PlacedCall
from calls.telephony.credentials import carrier_client
from calls.telephony.registry import carrier_spec
from calls.telephony.urls import call_ref_issue, public_webhook_url
from integrations.exceptions import CredentialMissing
from voiceagents.queue import enqueue_on_commit
from voiceagents.tenancy import current_schema_name

__all__ = [
    "CallSetup",
    "ai_provider_check",
    "call_dial_check",
    "call_end",
    "call_initiate",
    "call_place",
    "calls_place",
    "call_say_and_hangup",
    "call_setup_prepare",
    "call_transfer",
]

logger = structlog.get_logger(__name__)

# The Celery task that dials a queued call (calls.tasks), sent by name.
CALL_PLACE_TASK = "calls.call_place"


@dataclass(frozen=True)
class CallSetup:
    """What every call of one agent from one number is checked for and looked up with, before
    its own number and variables: the agent (alive and available), the number it dials from,
    the agent's current version, and that the carrier and AI provider have credentials."""

    agent: Agent
    phone_number: PhoneNumber
    agent_version: AgentVersion | None


def _available_agent(agent_id: Any) -> Agent:
    agent_pk = _int_or_none(agent_id)
    agent = Agent.objects.alive().filter(pk=agent_pk).first() if agent_pk is not None else None
    if agent is None:
        raise AgentNotFound()
    if not agent_is_available(agent):
        raise AgentUnavailable(details={"agent_id": agent.pk})
    return agent


def _setup_for(agent: Agent, from_phone: str | None) -> CallSetup:
    phone_number = caller_number_get(agent=agent, from_phone=from_phone)
    call_dial_check(agent=agent, phone_number=phone_number)
    return CallSetup(agent=agent, phone_number=phone_number, agent_version=_agent_version(agent))


def call_setup_prepare(*, agent_id: int, from_phone: str | None = None) -> CallSetup:
    """The checks and lookups ``call_initiate`` makes for the agent and the caller id, made
    once: a caller that starts many calls at once with the same ones (a batch's dispatcher,
    for one claim) passes the result to each ``call_initiate`` as ``setup``. Raises what
    ``call_initiate`` would raise for them."""
    return _setup_for(_available_agent(agent_id), from_phone)


def call_initiate(
    *,
    agent_id: int,
    to_phone: str,
    from_phone: str | None = None,
    variables: Mapping[str, Any] | None = None,
    batch_id: int | None = None,
    batch_row_id: int | None = None,
    schedule_id: int | None = None,
    setup: CallSetup | None = None,
    place: bool = True,
    budget: ConcurrencyBudget | None = None,
) -> Call:
    """Start an outbound call: the Call row is created now (queued) and dialed by a Celery task
    once this transaction commits, so an API request never waits on the carrier and a
    rolled-back transaction never leaves a phone ringing. The organization's concurrency limit
    is checked under a lock. A batch's dispatcher passes the batch and the row the call is
    for (``batch_id``, ``batch_row_id``), and the agent and caller id it checked once for
    the rows it claims together (``setup``, from ``call_setup_prepare``, which then stands
    for ``agent_id`` and ``from_phone``). ``place=False`` sends no ``calls.call_place``: the
    caller dials the call after commit itself, with others (the schedules' dispatcher sends
    one task for several of a claim's calls). ``budget``: the caller starts many calls in its
    transaction and has counted the free slots once under the concurrency lock
    (``ConcurrencyBudget``); a call then takes one slot, and needs no savepoint of its own
    because the limit is met before anything is written and the caller isolates each call in
    its own savepoint."""
    to_number = e164(to_phone, field="to_phone")
    agent = setup.agent if setup is not None else _available_agent(agent_id)
    if variables is not None and not isinstance(variables, Mapping):
        raise _fail("variables", "Give an object of names and values.")
    if setup is None:
        # A single call (an API request, the admin): the list is read here. Batches and
        # schedules pass ``setup`` and have checked the list for the rows they claimed.
        if dnc_numbers_listed(numbers=[to_number]):
            raise NumberOnDncList(details={"field": "to_phone", "number": to_number})
        setup = _setup_for(agent, from_phone)
    phone_number = setup.phone_number
    if budget is not None:
        budget.take()
    with transaction.atomic(savepoint=budget is None):
        if budget is None:
            _concurrency_check()
        call = Call.objects.create(
            direction=CallDirection.OUTBOUND,
            from_number=phone_number.number,
            to_number=to_number,
            phone_number=phone_number,
            provider=phone_number.provider,
            agent=agent,
            agent_version=setup.agent_version,
            status=CallStatus.QUEUED,
            variables=dict(variables or {}),
            batch_id=batch_id,
            batch_row_id=batch_row_id,
            schedule_id=schedule_id,
        )
        _event(
            call,
            CallEvent.Kind.ACTION,
            "created",
            {"to": to_number, "from": phone_number.number, "agent_id": agent.pk},
        )
        if place:
            enqueue_on_commit(CALL_PLACE_TASK, call_id=call.pk)
        provider = call.provider
        transaction.on_commit(lambda: CALLS_STARTED.labels("outbound", provider).inc())
    logger.info("call_initiated", call_id=call.pk, agent_id=agent.pk)
    return call


def call_dial_check(*, agent: Agent, phone_number: PhoneNumber) -> None:
    """What a call from ``phone_number`` answered by ``agent`` needs and can be known before it
    is queued: an account with the number's carrier (the dial) and an API key for the agent's
    AI provider (the media bridge). Each is resolved by the very function that uses it later,
    so where credentials come from (the platform's, an organization's) is decided there
    alone. Raises at once what the call would otherwise fail with in the background: 503,
    saying what to set. (The number itself was checked when it was chosen: ours, voice.)"""
    carrier_client(phone_number.provider)
    ai_provider_check(agent=agent)


def ai_provider_check(*, agent: Agent) -> None:
    """The agent's AI provider has a usable key (the organization's own or the platform's),
    as the media bridge will need: else 503, the message saying which to add or set."""
    try:
        provider_credentials(agent.ai_provider)
    except CredentialMissing as exc:
        raise AIProviderNotConfigured(
            exc.message,
            details={**exc.details, "ai_provider": agent.ai_provider, "agent_id": agent.pk},
        ) from None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def call_place(*, call_id: int, client: CarrierClient | None = None) -> Call | None:
    """Ask the carrier to dial a queued outbound call, at most once: ``placed_at`` is claimed
    with a conditional update first, so a task run twice (or a call ended before its turn)
    never rings anyone twice. A carrier refusal ends the call as failed with the carrier's
    code and message. ``client``: the active organization's client for the call's carrier,
    built once by a caller that dials many calls (built here otherwise)."""
    claimed = Call.objects.filter(
        pk=call_id, status=CallStatus.QUEUED, placed_at__isnull=True
    ).update(placed_at=timezone.now())
    if not claimed:
        logger.info("call_place_skipped", call_id=call_id)
        return None
    call = Call.objects.select_related("agent").get(pk=call_id)
    try:
        if client is None:
            client = carrier_client(call.provider)
        placed = _dial(client, call)
    except (CarrierError, CarrierNotConfigured) as exc:
        return _place_failed(call_id, exc)
    with transaction.atomic():
        call = _locked(call_id)
        ended_meanwhile = _placed_record(call, placed)
        CallEvent.objects.bulk_create([_placed_event(call, placed)])
    if ended_meanwhile:
        # Ended through the API while we were dialing: do not let the phone ring on.
        _hangup_quietly(client, call, placed.provider_call_id)
    return call


def calls_place(*, call_ids: list[int]) -> list[Call]:
    """``call_place`` for several queued calls of the active organization, with the same
    at-most-once claim, in a few statements rather than a few per call: one conditional
    update claims them all (a call ended meanwhile, or dialed by an earlier run of the same
    task, is not claimed), each is dialed, and those the carrier accepted are recorded in one
    transaction, with one client per carrier for all of them. A carrier refusal (or no
    account with the carrier) fails that call alone, as in ``call_place``. Returns the calls
    dialed.

    Recorded together, a call's carrier id is written a few round trips after its dial
    rather than at once; the carrier's first status callback finds the call by its signed
    reference meanwhile (and fills the id itself if it comes first), as with one call."""
    if not call_ids:
        return []
    table = connection.ops.quote_name(Call._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET placed_at = %s"
            f" WHERE id = ANY(%s) AND status = %s AND placed_at IS NULL RETURNING id",
            [timezone.now(), list(call_ids), CallStatus.QUEUED],
        )
        claimed = {row[0] for row in cursor.fetchall()}
    for call_id in set(call_ids) - claimed:
        logger.info("call_place_skipped", call_id=call_id)
    if not claimed:
        return []
    calls = Call.objects.select_related("agent").in_bulk(claimed)
    clients: dict[str, CarrierClient] = {}
    accepted: list[tuple[int, CarrierClient, PlacedCall]] = []
    for call_id in call_ids:
        call = calls.get(call_id)
        if call is None:
            continue
        try:
            client = clients.get(call.provider)
            if client is None:
                client = clients[call.provider] = carrier_client(call.provider)
            accepted.append((call_id, client, _dial(client, call)))
        except (CarrierError, CarrierNotConfigured) as exc:
            _place_failed(call_id, exc)
        except Exception as exc:  # one call's trouble must not leave the others undialed
            logger.exception("call_place_failed", call_id=call_id, error=repr(exc))
    if not accepted:
        return []
    with transaction.atomic():
        # Locked (the lock of ``_locked``), reading only what the record needs: whether a
        # callback wrote the carrier's id first, and whether the call ended meanwhile.
        current = {
            pk: (provider_call_id, status)
            for pk, provider_call_id, status in Call.objects.select_for_update()
            .filter(pk__in=[call_id for call_id, _client, _placed in accepted])
            .values_list("pk", "provider_call_id", "status")
        }
        now = timezone.now()
        written: dict[int, str] = {}
        ended: list[tuple[CarrierClient, Call, str]] = []
        events: list[CallEvent] = []
        for call_id, client, placed in accepted:
            call = calls[call_id]
            call.provider_call_id, call.status = current[call_id]
            if not call.provider_call_id:
                call.provider_call_id = written[call_id] = placed.provider_call_id
                call.updated_at = now
            if call.is_final:
                ended.append((client, call, placed.provider_call_id))
            events.append(_placed_event(call, placed))
        if written:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} AS c SET provider_call_id = v.sid, updated_at = %s"
                    f" FROM unnest(%s::bigint[], %s::text[]) AS v(id, sid) WHERE c.id = v.id",
                    [now, list(written), list(written.values())],
                )
        CallEvent.objects.bulk_create(events)
    for client, call, provider_call_id in ended:
        # Ended through the API while we were dialing: do not let the phone ring on.
        _hangup_quietly(client, call, provider_call_id)
    return [calls[call_id] for call_id, _client, _placed in accepted]


def _dial(client: CarrierClient, call: Call) -> PlacedCall:
    agent = call.agent
    ref = call_ref_issue(schema_name=current_schema_name(), call_id=call.pk)
    spec = carrier_spec(call.provider)
    return client.place_call(
        to=call.to_number,
        from_=call.from_number,
        answer_url=public_webhook_url(spec.answer_route, c=ref),
        status_callback_url=public_webhook_url(spec.status_route, c=ref),
        machine_detection=bool(agent and agent.voicemail_message),
        time_limit_seconds=agent.max_call_duration_seconds if agent else None,
    )


def _place_failed(call_id: int, exc: CarrierError | CarrierNotConfigured) -> Call:
    """The carrier refused the dial (or there is no account): the call ends as failed."""
    code, message = exc.code, exc.message
    with transaction.atomic():
        call = _locked(call_id)
        _event(
            call,
            CallEvent.Kind.ERROR,
            "carrier_error",
            {
                "code": code,
                "message": message,
                "kind": str(getattr(exc, "kind", "not_configured")),
                "http_status": getattr(exc, "http_status", None),
            },
        )
        _finalize(
            call,
            status=CallStatus.FAILED,
            end_reason=EndReason.FAILED,
            at=timezone.now(),
            source="carrier",
            error_code=code,
            error_message=message,
        )
    logger.warning("call_place_failed", call_id=call_id, code=code, message=message)
    return call


def _placed_record(call: Call, placed: PlacedCall) -> bool:
    """The carrier's id on the locked call (unless a callback wrote it first); whether the
    call ended while it was being dialed."""
    if not call.provider_call_id:
        call.provider_call_id = placed.provider_call_id
        call.save(update_fields=["provider_call_id", "updated_at"])
    return call.is_final


def _placed_event(call: Call, placed: PlacedCall) -> CallEvent:
    return CallEvent(
        call=call,
        kind=CallEvent.Kind.ACTION,
        name="placed",
        payload={"provider_call_id": placed.provider_call_id, "carrier_status": placed.status},
        created_at=timezone.now(),
    )


def _hangup_quietly(client: CarrierClient, call: Call, provider_call_id: str) -> None:
    try:
        client.hangup(provider_call_id)
    except CarrierError as exc:
        _event(
            call, CallEvent.Kind.ERROR, "hangup_failed", {"code": exc.code, "message": exc.message}
        )


def _live_call_request(
    call: Call, failed_event: str, request: Callable[[CarrierClient], Any], **details: Any
) -> None:
    """Send one request about a live call to its carrier; a refusal is put on the call's
    timeline (with ``details``) and raised as CarrierRequestFailed."""
    try:
        request(carrier_client(call.provider))
    except CarrierError as exc:
        _event(
            call,
            CallEvent.Kind.ERROR,
            failed_event,
            {**details, "code": exc.code, "message": exc.message},
        )
        raise _carrier_failure(exc, call_id=call.pk) from exc


def call_end(*, call_id: int, end_reason: str = EndReason.AGENT_HANGUP) -> Call:
    """Hang up through the carrier and end the call. A call not dialed yet is just canceled;
    one still ringing ends as canceled."""
    call = call_get(call_id=call_id)
    if call.is_final:
        raise CallAlreadyEnded(details={"status": call.status})
    if call.provider_call_id:
        _live_call_request(call, "hangup_failed", lambda c: c.hangup(call.provider_call_id))
    with transaction.atomic():
        call = _locked(call.pk)
        _event(call, CallEvent.Kind.ACTION, "hangup", {"end_reason": end_reason})
        reason = end_reason if call.status == CallStatus.IN_PROGRESS else EndReason.CANCELED
        _finalize(
            call,
            status=lifecycle.status_for_end_reason(reason),
            end_reason=reason,
            at=timezone.now(),
            source="api",
        )
        if call.provider == WEB_PROVIDER:
            # No carrier hangs up a browser's call: its bridge is told to, and closes the
            # stream (the browser's page sees the end).
            bridge_control_on_commit(call_id=call.pk, action="hangup", end_reason=reason)
    return call


def call_transfer(*, call_id: int, to_number: str) -> Call:
    """Hand a live call to a human at ``to_number``. The AI leg ends; the call itself goes on
    with the human until the carrier reports its end, and then ends as "transferred"."""
    target = e164(to_number, field="to_number")
    call = call_get(call_id=call_id)
    if call.is_final:
        raise CallAlreadyEnded(details={"status": call.status})
    if call.status != CallStatus.IN_PROGRESS or not call.provider_call_id:
        raise CallNotInProgress(details={"status": call.status})
    forward_route = carrier_spec(call.provider).forward_route
    forward_url = None
    if forward_route:  # the carrier fetches the dial document (Plivo)
        forward_url = public_webhook_url(
            forward_route,
            c=call_ref_issue(schema_name=current_schema_name(), call_id=call.pk, n=target),
        )
    _live_call_request(
        call,
        "transfer_failed",
        lambda c: c.transfer(call.provider_call_id, to_number=target, forward_url=forward_url),
        to=target,
    )
    with transaction.atomic():
        call = _locked(call.pk)
        _event(call, CallEvent.Kind.ACTION, "transferred", {"to": target})
        if not call.is_final:
            call.end_reason = EndReason.TRANSFERRED
            call.save(update_fields=["end_reason", "updated_at"])
    return call


def call_say_and_hangup(*, call_id: int, message: str) -> Call:
    """Make a live call say ``message`` and hang up (the bridge's apology when the model
    fails). The call then ends through the carrier's callbacks or the bridge's finalize."""
    call = call_get(call_id=call_id)
    if call.is_final or not call.provider_call_id:
        return call
    say_route = carrier_spec(call.provider).say_route
    document_url = None
    if say_route:  # the carrier fetches the goodbye document (Plivo)
        document_url = public_webhook_url(
            say_route,
            c=call_ref_issue(schema_name=current_schema_name(), call_id=call.pk, m=message),
        )
    _live_call_request(
        call,
        "say_and_hangup_failed",
        lambda c: c.say_and_hangup_live(
            call.provider_call_id, message=message, document_url=document_url
        ),
    )
    _event(call, CallEvent.Kind.ACTION, "say_and_hangup", {"message": message})
    return call

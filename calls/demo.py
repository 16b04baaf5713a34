"""Sample data for the demo organization, so every console page has something to show.

``demo_data_seed`` fills the active tenant with one of each thing an operator works with, each
labelled as demo ("Demo — …" names, a ``demo`` marker where a model keeps metadata or notes):
an agent with an analysis schema, a knowledge base with a document, a phone number, a
do-not-call entry, a finished batch (completed, failed, invalid and do-not-call rows), finished
calls with their transcripts, timelines and post-call analysis, and two schedules.

It lives in ``calls`` because it needs every app (calls may import agents, knowledge and
organizations; organizations may import none of them): ``bootstrap_demo`` runs it by name
through the ``seed_demo`` command.

Everything a service can create goes through that service (agent_create, knowledge_base_create,
document_add, phone_number_create, dnc_entry_create, batch_create, schedule_call,
schedule_recurring, schedule_pause, batch_row_transition), so the sample is what the product
itself would have made. Only history no service writes without a live carrier and model is
written directly: the finished calls with their turns and timeline, and the batch's end (its
rows still move through batch_row_transition, which keeps the counters exact).

Idempotent: each object is looked up by its demo name (or number) first and created only when
missing, so running it on every ``make run`` adds nothing twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import structlog
from django.db import transaction
from django.utils import timezone

from agents.models import Agent, AgentVersion
from agents.services import agent_create
from calls.models import (
    AnalysisStatus,
    Batch,
    BatchRow,
    BatchRowOutcome,
    BatchRowStatus,
    BatchStatus,
    Call,
    CallDirection,
    CallEvent,
    CallStatus,
    DoNotCallEntry,
    EndReason,
    PhoneNumber,
    ScheduledCall,
    TranscriptTurn,
)
from calls.services import (
    RowsSource,
    batch_create,
    batch_row_transition,
    dnc_entry_create,
    phone_number_create,
    schedule_call,
    schedule_pause,
    schedule_recurring,
)
from calls.telephony.base import Carrier
from knowledge.models import Document, KnowledgeBase
from knowledge.services import document_add, knowledge_base_create
from organizations.models import User

__all__ = ["DEMO_MARKER", "DemoSeedResult", "demo_data_seed"]

logger = structlog.get_logger(__name__)

DEMO_MARKER = "demo"
AGENT_NAME = "Demo — Clinic front desk"
KNOWLEDGE_BASE_NAME = "Demo — Clinic FAQ"
DOCUMENT_TITLE = "Demo — Opening hours and services"
# Numbers from the 555-01xx range, which North American carriers never assign.
DEMO_NUMBER = "+14155550100"
DNC_NUMBER = "+14155550199"
BATCH_NAME = "Demo — Appointment reminders"
ONE_TIME_SCHEDULE_NAME = "Demo — Call back Ana Silva"
RECURRING_SCHEDULE_NAME = "Demo — Weekly reminder run"
# Calls of the demo carry this prefix in their carrier id (a real one never has it): how the
# seed finds its own calls again, and how an operator tells them apart.
CALL_ID_PREFIX = "DEMO-"

SYSTEM_PROMPT = (
    "You are the front desk of Riverside Dental Clinic (demo). Greet callers, answer questions "
    "about opening hours and services from the knowledge base, confirm or move appointments, "
    "and offer a callback when you cannot help. Be brief and friendly.\n\n"
    "The caller's name, when known: {{name}}."
)
ANALYSIS_SCHEMA = {
    "type": "object",
    "properties": {
        "appointment_confirmed": {
            "type": "boolean",
            "description": "Whether the caller confirmed their appointment.",
        },
        "callback_requested": {
            "type": "boolean",
            "description": "Whether the caller asked to be called back.",
        },
        "reason_for_call": {"type": "string", "description": "In a few words."},
    },
    "required": ["appointment_confirmed"],
}
DOCUMENT_TEXT = """Riverside Dental Clinic (demo data)

Opening hours: Monday to Friday 8:00 to 18:00, Saturday 9:00 to 13:00, closed on Sunday.

Services: check-ups and cleaning, fillings, whitening, children's dentistry, emergency
appointments the same day when called before 11:00.

Address: 12 River Street. Free parking behind the building.

Cancellations: please cancel at least 24 hours before the appointment; late cancellations may
be charged 25 dollars.

Payment: cash, cards and most dental insurance plans are accepted.
"""
# The demo batch's list: name and phone number, with one invalid number and one on the
# do-not-call list, so the batch shows every kind of row.
BATCH_ROWS: list[dict[str, str]] = [
    {"phone_number": "+14155550101", "name": "Ana Silva"},
    {"phone_number": "+14155550102", "name": "Ben Okafor"},
    {"phone_number": "+14155550103", "name": "Chloé Martin"},
    {"phone_number": "+14155550104", "name": "Dev Patel"},
    {"phone_number": "12345", "name": "Eva Novak"},
    {"phone_number": DNC_NUMBER, "name": "Frank Miller"},
]


@dataclass(frozen=True, slots=True)
class _DemoCall:
    """One finished call of the demo: who, how it ended, what was said, what the analysis
    found."""

    to_number: str
    name: str
    status: str
    end_reason: str
    duration_seconds: int
    turns: tuple[tuple[str, str], ...] = ()
    analysis: dict[str, Any] | None = None
    direction: str = CallDirection.OUTBOUND


DEMO_CALLS: tuple[_DemoCall, ...] = (
    _DemoCall(
        to_number="+14155550101",
        name="Ana Silva",
        status=CallStatus.COMPLETED,
        end_reason=EndReason.AGENT_HANGUP,
        duration_seconds=74,
        turns=(
            ("agent", "Hi Ana, this is the front desk of Riverside Dental Clinic."),
            ("agent", "I'm calling about your check-up tomorrow at 10. Does that still work?"),
            ("caller", "Yes, it does. Is there parking near you?"),
            ("agent", "There is free parking behind the building, at 12 River Street."),
            ("caller", "Great, see you tomorrow then."),
            ("agent", "You're confirmed for 10 tomorrow. Have a good day, Ana!"),
        ),
        analysis={
            "summary": "Ana confirmed her check-up tomorrow at 10 and asked about parking.",
            "sentiment": "positive",
            "goal_reached": True,
            "fields": {
                "appointment_confirmed": True,
                "callback_requested": False,
                "reason_for_call": "Appointment reminder",
            },
        },
    ),
    _DemoCall(
        to_number="+14155550102",
        name="Ben Okafor",
        status=CallStatus.COMPLETED,
        end_reason=EndReason.CALLER_HANGUP,
        duration_seconds=58,
        turns=(
            ("agent", "Hi Ben, this is Riverside Dental Clinic about your cleaning on Friday."),
            ("caller", "Oh, I can't make Friday. Can someone call me back to move it?"),
            ("agent", "Of course. Someone from the clinic will call you back today."),
            ("caller", "Thanks, bye."),
        ),
        analysis={
            "summary": "Ben cannot come on Friday and asked for a callback to reschedule.",
            "sentiment": "neutral",
            "goal_reached": False,
            "fields": {
                "appointment_confirmed": False,
                "callback_requested": True,
                "reason_for_call": "Reschedule",
            },
        },
    ),
    _DemoCall(
        to_number="+14155550103",
        name="Chloé Martin",
        status=CallStatus.NO_ANSWER,
        end_reason=EndReason.NO_ANSWER,
        duration_seconds=0,
    ),
    _DemoCall(
        to_number="+14155550104",
        name="Dev Patel",
        status=CallStatus.COMPLETED,
        end_reason=EndReason.AGENT_HANGUP,
        duration_seconds=41,
        turns=(
            ("agent", "Hi Dev, this is Riverside Dental Clinic about your filling on Monday."),
            ("caller", "Yes, I'll be there. What time do you open?"),
            ("agent", "We open at 8. Your appointment is at 8:30."),
            ("caller", "Perfect."),
        ),
        analysis={
            "summary": "Dev confirmed Monday at 8:30 and asked about opening time.",
            "sentiment": "positive",
            "goal_reached": True,
            "fields": {
                "appointment_confirmed": True,
                "callback_requested": False,
                "reason_for_call": "Appointment reminder",
            },
        },
    ),
)


@dataclass(slots=True)
class DemoSeedResult:
    """What one run created (an empty list: everything was there already)."""

    created: list[str] = field(default_factory=list)


@transaction.atomic
def demo_data_seed(*, actor: User | None = None) -> DemoSeedResult:
    """Seed the active tenant with the demo's sample data; what exists already is kept."""
    result = DemoSeedResult()
    knowledge_base = _knowledge_base(actor, result)
    agent = _agent(knowledge_base, actor, result)
    _phone_number(agent, result)
    _dnc_entry(actor, result)
    batch = _batch(agent, actor, result)
    _schedules(agent, batch, actor, result)
    logger.info("demo_data_seeded", created=result.created)
    return result


def _knowledge_base(actor: User | None, result: DemoSeedResult) -> KnowledgeBase:
    knowledge_base = KnowledgeBase.objects.filter(name=KNOWLEDGE_BASE_NAME).first()
    if knowledge_base is None:
        # The offline embedder (local MiniLM): the document is embedded by the worker after
        # commit, with no key and no network.
        knowledge_base = knowledge_base_create(
            name=KNOWLEDGE_BASE_NAME,
            description="Demo sample data: the clinic's opening hours and services.",
            created_by=actor,
        )
        result.created.append("knowledge base")
    if not Document.objects.filter(knowledge_base=knowledge_base, title=DOCUMENT_TITLE).exists():
        document_add(
            knowledge_base=knowledge_base,
            title=DOCUMENT_TITLE,
            content=DOCUMENT_TEXT,
            source_type="text",
            metadata={DEMO_MARKER: True},
            author=actor,
        )
        result.created.append("document")
    return knowledge_base


def _agent(knowledge_base: KnowledgeBase, actor: User | None, result: DemoSeedResult) -> Agent:
    agent = Agent.objects.filter(name=AGENT_NAME, deleted_at__isnull=True).first()
    if agent is not None:
        return agent
    result.created.append("agent")
    return agent_create(
        name=AGENT_NAME,
        actor=actor,
        note="Demo sample data",
        description="Demo agent: reminds patients of appointments and answers questions.",
        system_prompt=SYSTEM_PROMPT,
        first_message="Hi, this is the front desk of Riverside Dental Clinic.",
        knowledge_base_ids=[knowledge_base.pk],
        analysis_schema=ANALYSIS_SCHEMA,
    )


def _phone_number(agent: Agent, result: DemoSeedResult) -> PhoneNumber:
    phone_number = PhoneNumber.objects.filter(number=DEMO_NUMBER).first()
    if phone_number is not None:
        return phone_number
    result.created.append("phone number")
    return phone_number_create(
        number=DEMO_NUMBER,
        provider=Carrier.TWILIO,
        # Not on any carrier account: there is nothing to look the number up in.
        carrier_check=False,
        friendly_name="Demo — Front desk line",
        agent_id=agent.pk,
    )


def _dnc_entry(actor: User | None, result: DemoSeedResult) -> None:
    if DoNotCallEntry.objects.filter(number=DNC_NUMBER).exists():
        return
    dnc_entry_create(
        number=DNC_NUMBER, reason="Demo — asked not to be called", source="admin", created_by=actor
    )
    result.created.append("do-not-call entry")


def _batch(agent: Agent, actor: User | None, result: DemoSeedResult) -> Batch:
    batch = Batch.objects.filter(name=BATCH_NAME).first()
    if batch is not None:
        return batch
    # Read and checked as an upload would be: the bad number becomes an invalid row with its
    # reason, the listed one a skipped row. Left a draft (start=False): nothing is dialed.
    batch = batch_create(
        agent_id=agent.pk,
        source=RowsSource(rows=BATCH_ROWS, columns=["phone_number", "name"], name="demo.csv"),
        name=BATCH_NAME,
        from_number=DEMO_NUMBER,
        created_by=actor,
    )
    result.created.append("batch")
    _batch_finish(batch, agent)
    result.created.append("calls")
    return batch


def _batch_finish(batch: Batch, agent: Agent) -> None:
    """Give the batch the history it would have after a run: a call per queued row, each row
    moved to its final status through batch_row_transition (which keeps the counters), and the
    batch completed."""
    version = AgentVersion.objects.filter(agent=agent).order_by("-number").first()
    start = timezone.now() - dt.timedelta(days=1, hours=2)
    rows = {row.phone_number: row for row in BatchRow.objects.filter(batch=batch)}
    for index, spec in enumerate(DEMO_CALLS):
        row = rows[spec.to_number]
        call = _call(spec, agent, version, batch, row, at=start + dt.timedelta(minutes=3 * index))
        answered = spec.status == CallStatus.COMPLETED
        batch_row_transition(
            row=row,
            to_status=BatchRowStatus.COMPLETED if answered else BatchRowStatus.FAILED,
            attempts=1,
            last_call=call,
            outcome=BatchRowOutcome.ANSWERED if answered else BatchRowOutcome.NO_ANSWER,
            error="" if answered else "No answer after 1 attempt.",
        )
    batch.status = BatchStatus.COMPLETED
    batch.status_reason = "Every row was dialed or set aside."
    batch.started_at = start
    batch.finished_at = start + dt.timedelta(minutes=3 * len(DEMO_CALLS) + 2)
    batch.save(update_fields=["status", "status_reason", "started_at", "finished_at", "updated_at"])


def _call(
    spec: _DemoCall,
    agent: Agent,
    version: AgentVersion | None,
    batch: Batch,
    row: BatchRow,
    *,
    at: dt.datetime,
) -> Call:
    answered = spec.status == CallStatus.COMPLETED
    ringing = at + dt.timedelta(seconds=2)
    answered_at = ringing + dt.timedelta(seconds=6) if answered else None
    ended = (answered_at or ringing + dt.timedelta(seconds=30)) + dt.timedelta(
        seconds=spec.duration_seconds
    )
    call = Call.objects.create(
        direction=spec.direction,
        from_number=DEMO_NUMBER,
        to_number=spec.to_number,
        phone_number=PhoneNumber.objects.get(number=DEMO_NUMBER),
        provider=Carrier.TWILIO,
        provider_call_id=f"{CALL_ID_PREFIX}{batch.pk}-{row.line_number}",
        agent=agent,
        agent_version=version,
        status=spec.status,
        end_reason=spec.end_reason,
        answered_by="human" if answered else "",
        created_at=at,
        placed_at=at,
        ringing_at=ringing,
        answered_at=answered_at,
        ended_at=ended,
        duration_seconds=spec.duration_seconds,
        cost=Decimal("0.0140") * max(1, -(-spec.duration_seconds // 60)) if answered else None,
        cost_currency="USD" if answered else "",
        variables={"name": spec.name},
        batch=batch,
        batch_row=row,
        analysis=spec.analysis,
        analysis_status=AnalysisStatus.COMPLETED if spec.analysis else AnalysisStatus.SKIPPED,
        analysis_error="" if spec.analysis else "No transcript.",
        analyzed_at=ended + dt.timedelta(seconds=5) if spec.analysis else None,
    )
    timeline: list[tuple[str, str, dt.datetime, dict[str, Any]]] = [
        (CallEvent.Kind.INFO, "created", at, {DEMO_MARKER: True, "batch_id": batch.pk}),
        (CallEvent.Kind.ACTION, "placed", at, {"to": spec.to_number}),
        (CallEvent.Kind.STATUS, "ringing", ringing, {}),
    ]
    if answered_at is not None:
        timeline.append(
            (CallEvent.Kind.STATUS, "in_progress", answered_at, {"answered_by": "human"})
        )
    timeline.append((CallEvent.Kind.STATUS, spec.status, ended, {"end_reason": spec.end_reason}))
    CallEvent.objects.bulk_create(
        CallEvent(call=call, kind=kind, name=name, payload=payload, created_at=when)
        for kind, name, when, payload in timeline
    )
    offset = 500
    turns = []
    for speaker, text in spec.turns:
        length = 400 + 60 * len(text.split())
        turns.append(
            TranscriptTurn(
                call=call, speaker=speaker, text=text, start_ms=offset, end_ms=offset + length
            )
        )
        offset += length + 700
    TranscriptTurn.objects.bulk_create(turns)
    return call


def _schedules(agent: Agent, batch: Batch, actor: User | None, result: DemoSeedResult) -> None:
    # Both paused at once: a demo runs without carrier credentials, so a run could only fail
    # (and dial a 555 number if it had them). Paused, they still show their times and next runs.
    if not ScheduledCall.objects.filter(name=ONE_TIME_SCHEDULE_NAME).exists():
        when = timezone.now() + dt.timedelta(days=2)
        schedule = schedule_call(
            data={
                "name": ONE_TIME_SCHEDULE_NAME,
                "agent_id": agent.pk,
                "phone_number": "+14155550102",
                "scheduled_time": when.replace(microsecond=0).isoformat(),
                "variables": {"name": "Ben Okafor"},
            },
            created_by=actor,
        )
        schedule_pause(schedule=schedule)
        result.created.append("one-time schedule")
    if not ScheduledCall.objects.filter(name=RECURRING_SCHEDULE_NAME).exists():
        schedule = schedule_recurring(
            data={
                "name": RECURRING_SCHEDULE_NAME,
                "agent_id": agent.pk,
                "batch_id": batch.pk,
                "cron_expression": "0 10 * * 1",
            },
            created_by=actor,
        )
        schedule_pause(schedule=schedule)
        result.created.append("recurring schedule")

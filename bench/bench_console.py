"""The operator console's pages with a busy organization: 10,000 calls over 30 days (with their
transcript turns, timeline events and tool calls) and 100,000 batch rows; each main page
rendered several times as an admin of the organization, its server time (median, p95) and its
database queries printed.

Run with `make bench` or `.venv/bin/python bench/bench_console.py [renders] [--rebuild]`. Uses
the development database; works in its own `bench-console` organization (created if missing),
whose bulk data is generated once (COPY, about half a minute) and kept for the next run;
``--rebuild`` generates it again. Nothing in it can dial: its batches are completed or paused,
its schedules paused, and it has no carrier account.

Target (issue 16): every page under 300 ms of server time, and no N+1 (a page's queries do
not grow with the rows it lists). Server time is the request through Django's whole stack
(middleware, tenant lookup, session, the view, the template) with the test Client in this
process, so no network or browser time is counted. Printed per page: the wall time, and the
server's own work (this process's CPU time plus the time spent waiting for SQL), which on a
shared machine leaves out the waits for a core that other processes hold.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voiceagents.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.db import connection, models, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_tenants.utils import tenant_context  # noqa: E402

from agents.models import Agent  # noqa: E402
from agents.services import agent_create  # noqa: E402
from calls import services  # noqa: E402
from calls.models import (  # noqa: E402
    Batch,
    BatchRow,
    BatchStatus,
    Call,
    CallEvent,
    PhoneNumber,
    ScheduledCall,
    ToolInvocation,
    TranscriptTurn,
)
from knowledge.models import KnowledgeBase  # noqa: E402
from knowledge.services import knowledge_base_create  # noqa: E402
from organizations.models import Membership, Organization, PhoneNumberClaim, Role, User  # noqa: E402
from organizations.services import domain_for, organization_create  # noqa: E402

ARGS = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
RENDERS = int(ARGS[0]) if ARGS else 10
WARM_UP = 2
REBUILD = "--rebuild" in sys.argv
SLUG = "bench-console"
ADMIN_EMAIL = "bench-console-admin@example.com"
CALLS = 10_000
DAYS = 30
# Rows per batch: a big finished one, a paused one (on the dashboard), eighteen small ones.
BATCH_SIZES = [80_000, 10_000, *([556] * 17), 10_000 - 556 * 17]
AGENTS = 20
NUMBERS = [f"+1212555{n:04d}" for n in range(710, 720)]
KNOWLEDGE_BASES = 5
SCHEDULES = 30
ACTIVE_CALLS = 5
SEED = 20261201
TARGET_MS = 300.0

OUTCOMES = [  # (status, end_reason, answered_by, share)
    ("completed", "agent_hangup", "human", 0.40),
    ("completed", "caller_hangup", "human", 0.15),
    ("completed", "voicemail", "machine", 0.10),
    ("no_answer", "no_answer", "", 0.15),
    ("busy", "busy", "", 0.07),
    ("failed", "failed", "", 0.08),
    ("canceled", "canceled", "", 0.05),
]
WORDS = [
    *("appointment", "tomorrow", "morning", "confirm", "reschedule", "address", "insurance"),
    *("clinic", "doctor", "afternoon", "thank", "you", "please", "minutes", "parking"),
    *("billing", "question", "reminder"),
]


# --- the organization ---------------------------------------------------------------------------


def organization() -> Organization:
    org = Organization.objects.filter(slug=SLUG).first()
    return org or organization_create(name="Bench console", slug=SLUG, industry="benchmarks")


def admin_user(org: Organization) -> User:
    user = User.objects.filter(email=ADMIN_EMAIL).first()
    if user is None:
        user = User.objects.create_user(ADMIN_EMAIL, password=None, full_name="Bench admin")
    Membership.objects.get_or_create(user=user, organization=org, defaults={"role": Role.ADMIN})
    return user


def small_things() -> tuple[list[Agent], list[PhoneNumber]]:
    """Agents, numbers and knowledge bases, made once through the services."""
    agents = list(Agent.objects.alive().filter(name__startswith="Bench agent ").order_by("pk"))
    for n in range(len(agents), AGENTS):
        agents.append(
            agent_create(
                name=f"Bench agent {n + 1:02d}",
                system_prompt="You call {{customer_name}} about their appointment. " * 20,
                first_message="Hello {{customer_name}}, this is the clinic.",
            )
        )
    taken = set(
        PhoneNumberClaim.objects.exclude(organization__slug=SLUG).values_list("number", flat=True)
    )
    for n, number in enumerate(NUMBERS):
        if number not in taken and not PhoneNumber.objects.filter(number=number).exists():
            services.phone_number_create(
                number=number,
                carrier_check=False,
                friendly_name=f"Bench line {n + 1}",
                agent_id=agents[n % len(agents)].pk,
            )
    for n in range(KnowledgeBase.objects.count(), KNOWLEDGE_BASES):
        knowledge_base_create(name=f"Bench knowledge {n + 1}", description="Benchmark data.")
    return agents, list(PhoneNumber.objects.order_by("pk"))


def schedules(agents: list[Agent], numbers: list[PhoneNumber]) -> None:
    """Paused recurring schedules (after the bulk data: truncating batches empties them)."""
    for n in range(ScheduledCall.objects.count(), SCHEDULES):
        schedule = services.schedule_recurring(
            data={
                "name": f"Bench schedule {n + 1:02d}",
                "agent_id": agents[n % len(agents)].pk,
                "phone_number": f"+1415555{n:04d}",
                "cron_expression": f"{n % 60} {9 + n % 8} * * 1-5",
                "from_number": numbers[n % len(numbers)].number,
            }
        )
        services.schedule_pause(schedule=schedule)  # never runs


# --- bulk data ----------------------------------------------------------------------------------


def copy_rows(model: type[models.Model], rows: Iterable[dict[str, Any]]) -> int:
    """COPY ``rows`` (attribute name -> value; missing ones take the field's default) into
    ``model``'s table of the active schema."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    table = f'"{connection.schema_name}"."{model._meta.db_table}"'
    columns = ", ".join(f'"{f.column}"' for f in fields)
    now = timezone.now()
    count = 0
    with (
        connection.cursor() as wrapper,
        wrapper.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            values = []
            for f in fields:
                if f.attname in row:
                    value = row[f.attname]
                elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                    value = now
                else:
                    value = f.get_default()
                if isinstance(f, models.JSONField) and value is not None:
                    value = json.dumps(value)
                values.append(value)
            copy.write_row(values)
            count += 1
    return count


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def pick_outcome(rng: random.Random) -> tuple[str, str, str]:
    point, edge = rng.random(), 0.0
    for status, end_reason, answered_by, share in OUTCOMES:
        edge += share
        if point < edge:
            return status, end_reason, answered_by
    return OUTCOMES[0][:3]


def make_batches(
    agents: list[Agent], numbers: list[PhoneNumber], rng: random.Random
) -> list[Batch]:
    now = timezone.now()
    batches = []
    for n in range(len(BATCH_SIZES)):
        paused = n == 1
        started = now - dt.timedelta(days=DAYS - n, hours=2)
        batches.append(
            Batch.objects.create(
                name=f"Bench console batch {n + 1:02d}" + (" (paused)" if paused else ""),
                agent=agents[n % len(agents)],
                from_number=numbers[n % len(numbers)],
                status=BatchStatus.PAUSED if paused else BatchStatus.COMPLETED,
                status_reason="Paused by the benchmark." if paused else "Every row was dialed.",
                source="upload",
                source_name=f"bench-{n + 1}.csv",
                columns=["phone", "customer_name", "plan"],
                column_mapping={"phone": "phone"},
                created_at=started - dt.timedelta(minutes=5),
                started_at=started,
                finished_at=None if paused else started + dt.timedelta(hours=3),
            )
        )

    def rows() -> Iterator[dict[str, Any]]:
        for batch, size in zip(batches, BATCH_SIZES, strict=True):
            counts = dict.fromkeys(
                ["queued", "completed", "failed", "invalid", "skipped", "canceled"], 0
            )
            paused = batch.status == BatchStatus.PAUSED
            for line in range(2, size + 2):
                point = rng.random()
                if paused and point < 0.5:
                    status, outcome = "queued", ""
                elif point < 0.65:
                    status, outcome = "completed", "answered"
                elif point < 0.85:
                    status, outcome = "failed", rng.choice(["no_answer", "busy", "failed"])
                elif point < 0.92:
                    status, outcome = "invalid", ""
                elif point < 0.97 or paused:
                    status, outcome = "skipped", ""
                else:
                    status, outcome = "canceled", ""
                counts[status] += 1
                phone = "" if status == "invalid" else f"+1{rng.randint(2012000000, 9899999999)}"
                name = f"Customer {line}"
                yield {
                    "batch_id": batch.pk,
                    "line_number": line,
                    "raw": {"phone": phone or "555-bad", "customer_name": name, "plan": "gold"},
                    "phone_number": phone,
                    "timezone": "America/New_York" if phone else "",
                    "variables": {"customer_name": name, "plan": "gold"} if phone else {},
                    "status": status,
                    "attempts": 0
                    if status in ("queued", "invalid", "skipped")
                    else rng.randint(1, 2),
                    "outcome": outcome,
                    "error": "Not a phone number." if status == "invalid" else "",
                }
            counters[batch.pk] = {
                "total_count": size,
                **{f"{k}_count": v for k, v in counts.items()},
            }

    # The counters are written after the COPY: the connection is busy with it until then.
    counters: dict[int, dict[str, int]] = {}
    copy_rows(BatchRow, rows())
    for batch_id, values in counters.items():
        Batch.objects.filter(pk=batch_id).update(**values)
    return batches


def make_calls(
    agents: list[Agent], numbers: list[PhoneNumber], batches: list[Batch], rng: random.Random
) -> None:
    now = timezone.now()
    big = batches[0]
    # The first calls are the big batch's: each linked to one of its dialed rows.
    dialed = list(
        BatchRow.objects.filter(batch=big, status__in=["completed", "failed"])
        .order_by("line_number")
        .values_list("pk", flat=True)[:3000]
    )
    calls = []
    for n in range(CALLS):
        status, end_reason, answered_by = pick_outcome(rng)
        created = now - dt.timedelta(seconds=rng.uniform(600, DAYS * 86400))
        answered = status == "completed"
        duration = rng.randint(20, 600) if answered else None
        number = numbers[n % len(numbers)]
        inbound = n % 5 < 2 and n >= len(dialed)
        calls.append(
            Call(
                direction="inbound" if inbound else "outbound",
                from_number="+1" + str(rng.randint(2012000000, 9899999999))
                if inbound
                else number.number,
                to_number=number.number
                if inbound
                else "+1" + str(rng.randint(2012000000, 9899999999)),
                phone_number=number,
                provider="twilio",
                provider_call_id=f"CAbench{n:08d}",
                agent=agents[n % len(agents)],
                status=status,
                end_reason=end_reason,
                answered_by=answered_by,
                created_at=created,
                placed_at=created,
                ringing_at=created + dt.timedelta(seconds=2),
                answered_at=created + dt.timedelta(seconds=8) if answered else None,
                ended_at=created + dt.timedelta(seconds=8 + (duration or 20)),
                duration_seconds=duration,
                cost=Decimal("0.014") * (1 + (duration or 0) // 60) if answered else None,
                cost_currency="USD" if answered else "",
                variables={"customer_name": f"Customer {n}"},
                batch=big if n < len(dialed) else None,
                batch_row_id=dialed[n] if n < len(dialed) else None,
                analysis={
                    "summary": sentence(rng, 14),
                    "sentiment": "positive",
                    "goal_reached": True,
                }
                if answered and answered_by == "human"
                else None,
                analysis_status="completed" if answered and answered_by == "human" else "skipped",
            )
        )
    Call.objects.bulk_create(calls, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE calls_batchrow r SET last_call_id = c.id FROM calls_call c "
            "WHERE c.batch_row_id = r.id"
        )

    def turns() -> Iterator[dict[str, Any]]:
        for call in calls:
            if call.status != "completed":
                continue
            count = 2 if call.answered_by == "machine" else rng.randint(8, 14)
            at = 0
            for turn in range(count):
                length = rng.randint(1500, 6000)
                yield {
                    "call_id": call.pk,
                    "speaker": "agent" if turn % 2 == 0 else "caller",
                    "text": sentence(rng, rng.randint(6, 24)),
                    "start_ms": at,
                    "end_ms": at + length,
                    "created_at": call.created_at,
                }
                at += length + 400

    def events() -> Iterator[dict[str, Any]]:
        for call in calls:
            steps = [("status", "ringing"), ("webhook", "twilio.status")]
            if call.answered_at:
                steps += [("status", "in_progress"), ("info", "stream.connected")]
            steps.append(("status", call.status))
            for offset, (kind, name) in enumerate(steps):
                yield {
                    "call_id": call.pk,
                    "kind": kind,
                    "name": name,
                    "payload": {"CallSid": call.provider_call_id, "step": offset},
                    "created_at": call.created_at + dt.timedelta(seconds=offset * 5),
                }

    def tools() -> Iterator[dict[str, Any]]:
        for call in calls:
            if call.analysis is not None and rng.random() < 0.2:
                yield {
                    "call_id": call.pk,
                    "name": "knowledge_search",
                    "arguments": {"query": sentence(rng, 4)},
                    "result": {"results": [{"text": sentence(rng, 20), "score": 0.8}]},
                    "duration_ms": rng.randint(20, 200),
                    "created_at": call.created_at + dt.timedelta(seconds=30),
                }

    print(
        f"  transcript turns {copy_rows(TranscriptTurn, turns()):,}, "
        f"events {copy_rows(CallEvent, events()):,}, tool calls {copy_rows(ToolInvocation, tools()):,}"
    )


def seed_bulk(agents: list[Agent], numbers: list[PhoneNumber]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE calls_transcriptturn, calls_callevent, calls_toolinvocation, calls_batchrow,"
            " calls_batchevent, calls_call, calls_batch CASCADE"
        )
    rng = random.Random(SEED)
    started = time.perf_counter()
    with transaction.atomic():
        batches = make_batches(agents, numbers, rng)
        make_calls(agents, numbers, batches, rng)
    # As autovacuum would soon: statistics for the planner, and the visibility map that lets
    # counts be answered from an index.
    with connection.cursor() as cursor:
        for table in ("calls_call", "calls_batchrow", "calls_transcriptturn", "calls_callevent"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"  generated in {time.perf_counter() - started:.1f} s")


def refresh_active_calls(agents: list[Agent], numbers: list[PhoneNumber]) -> None:
    """A few calls in progress right now, for the dashboard (made afresh at every run)."""
    Call.objects.filter(status__in=["queued", "ringing", "in_progress"]).delete()
    now = timezone.now()
    for n in range(ACTIVE_CALLS):
        Call.objects.create(
            direction="outbound",
            from_number=numbers[n].number,
            to_number=f"+1415555{n:04d}",
            phone_number=numbers[n],
            provider="twilio",
            agent=agents[n],
            status="in_progress" if n % 2 == 0 else "ringing",
            created_at=now - dt.timedelta(seconds=30 * n),
            answered_at=now - dt.timedelta(seconds=30 * n) if n % 2 == 0 else None,
        )


# --- measuring ----------------------------------------------------------------------------------


def pages(agents: list[Agent], batches: list[Batch]) -> list[tuple[str, str]]:
    call = (
        Call.objects.filter(status="completed", answered_by="human", batch__isnull=False)
        .order_by("-created_at")
        .first()
    )
    assert call is not None
    big, agent = batches[0], agents[0]
    week_ago = timezone.now() - dt.timedelta(days=7)
    return [
        ("dashboard", "/admin/"),
        ("agents list", "/admin/agents/agent/"),
        ("agent page", f"/admin/agents/agent/{agent.pk}/change/"),
        ("calls list", "/admin/calls/call/"),
        (
            "calls list, filtered",
            f"/admin/calls/call/?status__exact=completed&direction__exact=outbound"
            f"&agent__id__exact={agent.pk}&{urlencode({'created_at__gte': week_ago.isoformat()})}",
        ),
        ("call page", f"/admin/calls/call/{call.pk}/change/"),
        ("batches list", "/admin/calls/batch/"),
        ("batch page", f"/admin/calls/batch/{big.pk}/change/"),
        ("batch rows list", "/admin/calls/batchrow/"),
        ("batch rows of a batch", f"/admin/calls/batchrow/?batch__id__exact={big.pk}"),
        (
            "batch rows, failed",
            f"/admin/calls/batchrow/?batch__id__exact={big.pk}&status__exact=failed",
        ),
        ("schedules list", "/admin/calls/scheduledcall/"),
        ("knowledge bases list", "/admin/knowledge/knowledgebase/"),
        ("phone numbers list", "/admin/calls/phonenumber/"),
    ]


@dataclass
class PageFigures:
    """One page's renders: wall time (ms); this process's CPU time (ms, the Python side) and
    the time in SQL (ms, as the driver waited for PostgreSQL), whose sum is the server's own
    work: on a shared machine, wall time also counts the waits for a core other processes
    hold, CPU time does not; and the last render's queries."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    sql: list[float] = field(default_factory=list)
    queries: int = 0
    status: int = 0


def measure(client: Client, url: str) -> PageFigures:
    figures = PageFigures()
    for n in range(WARM_UP + RENDERS):
        with CaptureQueriesContext(connection) as captured:
            start, cpu_start = time.perf_counter(), time.process_time()
            response = client.get(url)
            wall = (time.perf_counter() - start) * 1000
            cpu = (time.process_time() - cpu_start) * 1000
        figures.status = response.status_code
        figures.queries = len(captured)
        if n >= WARM_UP:
            figures.wall.append(wall)
            figures.cpu.append(cpu)
            figures.sql.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)
    return figures


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


def main() -> None:
    org = organization()
    user = admin_user(org)
    with tenant_context(org):
        agents, numbers = small_things()
        if REBUILD or Call.objects.count() < CALLS or BatchRow.objects.count() < sum(BATCH_SIZES):
            print(f"generating {CALLS:,} calls and {sum(BATCH_SIZES):,} batch rows")
            seed_bulk(agents, numbers)
        schedules(agents, numbers)
        refresh_active_calls(agents, numbers)
        batches = list(Batch.objects.order_by("name"))
        targets = pages(agents, batches)
        figures = {
            "calls": Call.objects.count(),
            "turns": TranscriptTurn.objects.count(),
            "events": CallEvent.objects.count(),
            "batch rows": BatchRow.objects.count(),
            "batches": len(batches),
        }
    connection.set_schema_to_public()

    client = Client(HTTP_HOST=domain_for(SLUG))
    client.force_login(user)
    print(
        "organization: "
        + ", ".join(f"{value:,} {name}" for name, value in figures.items())
        + f"; {RENDERS} renders a page after {WARM_UP} warm-up"
    )
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print(
        f"{'page':<24} {'wall p50':>9} {'wall p95':>9} {'CPU':>7} {'SQL':>7} "
        f"{'work p50':>9} {'work p95':>9} {'queries':>7}  status"
    )
    missed_wall, missed_work = [], []
    for name, url in targets:
        page = measure(client, url)
        work = [cpu + sql for cpu, sql in zip(page.cpu, page.sql, strict=True)]
        if p95(page.wall) > TARGET_MS or page.status != 200:
            missed_wall.append(name)
        if p95(work) > TARGET_MS or page.status != 200:
            missed_work.append(name)
        print(
            f"{name:<24} {statistics.median(page.wall):7.1f}ms {p95(page.wall):7.1f}ms "
            f"{statistics.median(page.cpu):5.1f}ms {statistics.median(page.sql):5.1f}ms "
            f"{statistics.median(work):7.1f}ms {p95(work):7.1f}ms {page.queries:7d}  {page.status}"
        )
        connection.set_schema_to_public()
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    for label, missed in (("wall time", missed_wall), ("work (CPU + SQL)", missed_work)):
        print(
            f"target, p95 {label} under {TARGET_MS:.0f} ms: "
            + (f"missed by {', '.join(missed)}" if missed else "met by every page")
        )


if __name__ == "__main__":
    main()

"""Schedules: 10,000 one-time schedules across 10 organizations, all due in the same minute,
fired by one Celery worker against the Twilio fake (time until every one has placed its call);
the firing delay (actual minus due) p50/p99 under a small steady load with beat's tick every
5 s; and the plan (EXPLAIN) of the dispatcher's query at 100,000 index entries.

Run with `make bench` or::

    .venv/bin/python bench/bench_schedules.py [--schedules 10000] [--organizations 10]
        [--steady 120] [--index-rows 100000]

Processes, all on loopback and on the same cores: this one (the Twilio fake's HTTP server in
a thread, and the clock: it sends ``calls.schedules_dispatch_due`` every ``--tick`` seconds,
as beat would) and one ``celery worker`` with one pool process, which runs the ticks and the
dial tasks. Redis carries the tasks under this run's own queue and key prefix.

The schedules are written with bulk inserts (the rows ``schedule_call`` would write, and their
index entries), so the setup does not count. Uses the development database: the
``bench-sched-<n>`` organizations (created once), an agent and a number in each; the run's
schedules, index entries and calls are deleted afterwards. Results are recorded in
docs/benchmarks.md ("Schedules").
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.twilio_rest import FakeTwilioRest  # noqa: E402

FAKE = FakeTwilioRest()
# The dispatcher keeps its client's connection alive for a claim's calls; the fake answers
# with TCP_NODELAY (tests/fakes/http_server.py), as servers do.
FAKE.start()
RUN = f"va-bench-sched-{os.getpid()}-{uuid.uuid4().hex[:6]}"
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "voiceagents.settings",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        "DB_POOL": "false",
        "PUBLIC_BASE_URL": "https://voice.bench.invalid",
        "TWILIO_ACCOUNT_ID": FAKE.account_sid,
        "TWILIO_AUTH_TOKEN": FAKE.auth_token,
        "TWILIO_API_BASE_URL": FAKE.base_url,
        "CELERY_QUEUE": RUN,
        "TEST_CELERY_KEYPREFIX": f"{RUN}:",
        "STALE_CALL_QUEUED_SECONDS": "3600",
        "OPENAI_API_KEY": os.environ.get("OPENAI_API_KEY") or "bench-not-a-key",
    }
)

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_tenants.utils import schema_context, tenant_context  # noqa: E402

from agents.models import Agent  # noqa: E402
from agents.services import agent_create  # noqa: E402
from calls import services  # noqa: E402
from calls.models import Call, PhoneNumber, ScheduledCall, ScheduledRun  # noqa: E402
from calls.services.schedule_dispatch import (  # noqa: E402
    SCHEDULES_DISPATCH_TASK,
    schedules_due_query,
)
from organizations.models import Organization, ScheduleIndexEntry  # noqa: E402
from organizations.services import organization_create  # noqa: E402
from tests.calls.batch_worker import CeleryWorker, broker_options  # noqa: E402
from voiceagents.celery import app  # noqa: E402
from voiceagents.queue import enqueue  # noqa: E402

AGENT_NAME = "Schedule bench agent"
# monotonic (the fake's clock) -> wall time
_WALL_OFFSET = time.time() - time.monotonic()


def organizations(count: int) -> list[Organization]:
    orgs = []
    for n in range(count):
        slug = f"bench-sched-{n}"
        org = Organization.objects.filter(slug=slug).first()
        if org is None:
            org = organization_create(name=f"Schedule bench {n}", slug=slug, industry="benchmarks")
        Organization.objects.filter(pk=org.pk).update(max_concurrent_calls=5000)
        orgs.append(Organization.objects.get(pk=org.pk))
    return orgs


def agent_and_number(n: int) -> tuple[Agent, PhoneNumber]:
    agent = Agent.objects.alive().filter(name=AGENT_NAME).first()
    if agent is None:
        agent = agent_create(
            name=AGENT_NAME,
            ai_provider="openai",
            system_prompt="You call people at the time they asked for.",
            first_message="Hello.",
        )
    number = f"+1415555{3000 + n:04d}"
    phone = PhoneNumber.objects.filter(number=number).first()
    if phone is None:
        phone = services.phone_number_create(number=number, provider="twilio", agent_id=agent.pk)
    return agent, phone


def schedules_make(org: Organization, *, due: list[dt.datetime], first_callee: int) -> None:
    """One-time schedules due at ``due`` (the rows schedule_call writes), with their index
    entries, in bulk."""
    with tenant_context(org):
        agent, phone = agent_and_number(org.pk % 1000)
        rows = ScheduledCall.objects.bulk_create(
            [
                ScheduledCall(
                    name=f"{RUN} {i}",
                    agent=agent,
                    phone_number=f"+1415{6000000 + first_callee + i:07d}",
                    from_number=phone,
                    scheduled_time=at,
                    timezone="UTC",
                    next_run_at=at,
                )
                for i, at in enumerate(due)
            ],
            batch_size=2000,
        )
        ScheduleIndexEntry.objects.bulk_create(
            [
                ScheduleIndexEntry(
                    organization=org,
                    schema_name=org.schema_name,
                    schedule_id=row.pk,
                    next_run_at=row.next_run_at,
                )
                for row in rows
            ],
            batch_size=2000,
        )


def cleanup(orgs: list[Organization]) -> None:
    for org in orgs:
        with tenant_context(org):
            ids = list(
                ScheduledCall.objects.filter(name__startswith=RUN).values_list("pk", flat=True)
            )
            Call.objects.filter(schedule_id__in=ids).delete()
            ScheduledCall.objects.filter(last_run__isnull=False, pk__in=ids).update(last_run=None)
            ScheduledRun.objects.filter(schedule_id__in=ids).delete()
            ScheduledCall.objects.filter(pk__in=ids).delete()
            ScheduleIndexEntry.objects.filter(organization=org, schedule_id__in=ids).delete()


def send_tick() -> None:
    """What beat does every interval: send the tick, from the public schema."""
    with schema_context("public"):
        enqueue(SCHEDULES_DISPATCH_TASK)


def fired_runs(orgs: list[Organization]) -> list[tuple[dt.datetime, dt.datetime]]:
    pairs = []
    for org in orgs:
        with tenant_context(org):
            pairs += list(
                ScheduledRun.objects.filter(schedule__name__startswith=RUN).values_list(
                    "due_at", "fired_at"
                )
            )
    return pairs


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def burst(orgs: list[Organization], *, schedules: int, tick: float) -> dict[str, float]:
    """``schedules`` one-time schedules spread over the organizations, all due at the same
    moment (a few seconds from now); beat's tick every ``tick`` s; until every call is placed."""
    per_org = schedules // len(orgs)
    due_at = timezone.now() + dt.timedelta(seconds=3)
    for n, org in enumerate(orgs):
        schedules_make(org, due=[due_at] * per_org, first_callee=n * per_org)
    total = per_org * len(orgs)
    wait = due_at.timestamp() - time.time()
    if wait > 0:
        time.sleep(wait)
    started = time.time()
    next_tick = 0.0
    deadline = time.monotonic() + 900
    while len(FAKE.calls) < total and time.monotonic() < deadline:
        if time.monotonic() >= next_tick:
            send_tick()
            next_tick = time.monotonic() + tick
        time.sleep(0.05)
    placed = len(FAKE.calls)
    last = max(call.dialed_at for call in FAKE.calls.values()) + _WALL_OFFSET
    pairs = fired_runs(orgs)
    created = [(fired - due).total_seconds() for due, fired in pairs if fired]
    dialed = sorted(call.dialed_at + _WALL_OFFSET for call in FAKE.calls.values())
    return {
        "schedules": total,
        "placed": placed,
        "runs": len(pairs),
        "all_placed_after_due_s": last - due_at.timestamp(),
        "all_placed_after_start_s": last - started,
        "runs_fired_p50_s": statistics.median(created),
        "runs_fired_max_s": max(created),
        "placed_per_s": placed / max(1e-9, dialed[-1] - dialed[0]),
        "distinct_numbers": len(set(FAKE.dialed_numbers())),
    }


def steady(orgs: list[Organization], *, count: int, span: float, tick: float) -> dict[str, float]:
    """``count`` schedules due at random moments over ``span`` seconds, beat's tick every
    ``tick`` s: the firing delay (the run's fired_at, and the carrier's dial, minus due)."""
    with FAKE._lock:
        FAKE.calls.clear()
    start = timezone.now() + dt.timedelta(seconds=5)
    per_org = count // len(orgs)
    moments = [
        start + dt.timedelta(seconds=span * (i * 7919 % count) / count) for i in range(count)
    ]
    by_callee: dict[str, dt.datetime] = {}
    for n, org in enumerate(orgs):
        due = moments[n * per_org : (n + 1) * per_org]
        first = 100_000 + n * per_org
        schedules_make(org, due=due, first_callee=first)
        for i, at in enumerate(due):
            by_callee[f"+1415{6000000 + first + i:07d}"] = at
    total = per_org * len(orgs)
    # Beat's phase is arbitrary relative to the due times.
    next_tick = time.monotonic()
    deadline = time.monotonic() + span + 120
    while len(FAKE.calls) < total and time.monotonic() < deadline:
        if time.monotonic() >= next_tick:
            send_tick()
            next_tick += tick
        time.sleep(0.02)
    fired = [
        (fired_at - due).total_seconds()
        for due, fired_at in fired_runs(orgs)
        if fired_at and due >= start
    ]
    dial = [
        call.dialed_at + _WALL_OFFSET - by_callee[call.to].timestamp()
        for call in FAKE.calls.values()
        if call.to in by_callee
    ]
    return {
        "schedules": total,
        "placed": len(dial),
        "fired_p50_s": statistics.median(fired),
        "fired_p99_s": percentile(fired, 0.99),
        "dialed_p50_s": statistics.median(dial),
        "dialed_p99_s": percentile(dial, 0.99),
        "dialed_max_s": max(dial),
    }


def explain(orgs: list[Organization], *, rows: int) -> str:
    """The dispatcher's query over ``rows`` index entries (a tenth inactive, a hundred due),
    planned and run (EXPLAIN ANALYZE), after ANALYZE."""
    now = timezone.now()
    with schema_context("public"):
        ScheduleIndexEntry.objects.bulk_create(
            [
                ScheduleIndexEntry(
                    organization=orgs[i % len(orgs)],
                    schema_name=orgs[i % len(orgs)].schema_name,
                    schedule_id=10_000_000 + i,
                    next_run_at=(
                        now - dt.timedelta(seconds=i)
                        if i < 100
                        else now + dt.timedelta(minutes=1 + i % 525_600)
                    ),
                    active=i % 10 != 9,
                )
                for i in range(rows)
            ],
            batch_size=5000,
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'ANALYZE "{ScheduleIndexEntry._meta.db_table}"')
            with transaction.atomic():
                sql, params = schedules_due_query(now=now).query.sql_with_params()
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                    plan = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            ScheduleIndexEntry.objects.filter(schedule_id__gte=10_000_000).delete()
    return plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--organizations", type=int, default=10)
    parser.add_argument("--tick", type=float, default=5.0, help="beat's interval, seconds")
    parser.add_argument("--steady", type=int, default=120, help="schedules of the steady load")
    parser.add_argument("--span", type=float, default=60.0, help="seconds the steady load spans")
    parser.add_argument("--index-rows", type=int, default=100_000)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="the worker's pool processes (1: the target's one worker, one process; Celery's "
        "own default is one per core)",
    )
    args = parser.parse_args()

    app.conf.task_default_queue = RUN
    app.conf.broker_transport_options = broker_options(f"{RUN}:")
    orgs = organizations(args.organizations)
    worker = CeleryWorker(env={}, concurrency=args.concurrency, name="bench-sched").start()
    try:
        cpu_before = worker.cpu_seconds()
        burst_result = burst(orgs, schedules=args.schedules, tick=args.tick)
        burst_result["worker_cpu_ms_per_call"] = (
            (worker.cpu_seconds() - cpu_before) * 1000 / max(1, burst_result["placed"])
        )
        cleanup(orgs)
        steady_result = steady(orgs, count=args.steady, span=args.span, tick=args.tick)
        cleanup(orgs)
    finally:
        worker.stop()
        FAKE.stop()
        cleanup(orgs)
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        keys = list(client.scan_iter(match=f"*{RUN}*"))
        if keys:
            client.delete(*keys)
    plan = explain(orgs, rows=args.index_rows)

    b, s = burst_result, steady_result
    print(
        f"{b['schedules']:,} one-time schedules across {len(orgs)} organizations, all due at "
        f"the same moment; one worker ({args.concurrency} pool process(es)); beat every {args.tick:g} s"
    )
    print(f"  placed:                 {b['placed']:,} calls, {b['distinct_numbers']:,} numbers")
    print(f"  all placed after due:   {b['all_placed_after_due_s']:.1f} s")
    print(f"  runs fired (p50 / max): {b['runs_fired_p50_s']:.1f} / {b['runs_fired_max_s']:.1f} s")
    print(f"  placing rate:           {b['placed_per_s']:.0f} calls/s")
    print(f"  worker CPU per call:    {b['worker_cpu_ms_per_call']:.1f} ms (fire + dial)")
    print(
        f"steady load: {s['schedules']} schedules due over {args.span:g} s, beat every "
        f"{args.tick:g} s"
    )
    print(f"  fired - due  p50 / p99: {s['fired_p50_s']:.2f} / {s['fired_p99_s']:.2f} s")
    print(
        f"  dialed - due p50 / p99: {s['dialed_p50_s']:.2f} / {s['dialed_p99_s']:.2f} s "
        f"(max {s['dialed_max_s']:.2f} s)"
    )
    print(f"the dispatcher's query at {args.index_rows:,} index entries (EXPLAIN ANALYZE):")
    for line in plan.splitlines():
        print(f"  {line}")
    if "schedule_index_due" not in plan:
        raise SystemExit("the plan does not use the index schedule_index_due")


if __name__ == "__main__":
    main()

"""Batch dialing: a 10,000-row batch dialed against the Twilio fake by real Celery workers,
``max_concurrency`` 100, pacing off. Prints the sustained dispatch rate (calls placed per
second), the dispatch overhead per call, and proof from the fake's own log of dial and end
times that no more than 100 calls were ever up at once and no number was dialed twice.

Run with `make bench` or::

    .venv/bin/python bench/bench_batch_dispatch.py [--rows 10000] [--concurrency 100]
        [--hold 0.5] [--workers 2]

Processes, all on loopback and on the same cores: this one (the carrier: the fake's HTTP
server in a thread, and the loop that ends each call ``--hold`` seconds after the fake
accepted it, by applying Twilio's final status callback through
``calls.services.call_status_callback``, as the webhook view would), and ``--workers``
``celery worker`` processes of two pool processes each, which run the dispatcher and the dial
tasks. A call's end fills its slot from here, as from a web server. Redis carries the tasks
under this run's own queue and key prefix.

Then, in this process alone, the dispatcher's own cost: claiming fresh slots for 100 rows at
a time (rows locked, calls and their timeline created, counters moved, dial tasks sent to a
queue nobody reads), in milliseconds and queries per call.

Uses the development database: the `bench` organization (created once), its agent and
number; the batch and its calls are deleted afterwards. Results are recorded in
docs/benchmarks.md ("Batch dialing").
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.twilio_rest import FakeTwilioRest  # noqa: E402

# The fake listens before Django reads the settings that point at it.
FAKE = FakeTwilioRest()
FAKE.start()
PUBLIC = "https://voice.bench.invalid"
RUN = f"va-bench-{os.getpid()}-{uuid.uuid4().hex[:6]}"
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "voiceagents.settings",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        "DB_POOL": "false",
        "PUBLIC_BASE_URL": PUBLIC,
        "TWILIO_ACCOUNT_ID": FAKE.account_sid,
        "TWILIO_AUTH_TOKEN": FAKE.auth_token,
        "TWILIO_API_BASE_URL": FAKE.base_url,
        "CELERY_QUEUE": RUN,
        "TEST_CELERY_KEYPREFIX": f"{RUN}:",
        # Nothing of the run is stale within its minutes.
        "STALE_CALL_QUEUED_SECONDS": "3600",
        # Starting a call checks that the agent's model has a key; no model is reached here.
        "OPENAI_API_KEY": os.environ.get("OPENAI_API_KEY") or "bench-not-a-key",
    }
)

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django_tenants.utils import tenant_context  # noqa: E402

from agents.models import Agent  # noqa: E402
from agents.services import agent_create  # noqa: E402
from calls import services  # noqa: E402
from calls.models import Batch, BatchRow, BatchStatus, Call, PhoneNumber  # noqa: E402
from organizations.models import Organization  # noqa: E402
from organizations.services import organization_create  # noqa: E402
from tests.calls.batch_worker import CeleryWorker, broker_options  # noqa: E402
from voiceagents.celery import app  # noqa: E402
from voiceagents.tenancy import activate_tenant  # noqa: E402

AGENT_NAME = "Batch bench agent"
NUMBER = "+14155550142"


def bench_organization() -> Organization:
    org = Organization.objects.filter(slug="bench").first()
    org = org or organization_create(name="Bench", slug="bench", industry="benchmarks")
    Organization.objects.filter(pk=org.pk).update(max_concurrent_calls=1000)
    return Organization.objects.get(pk=org.pk)


def bench_agent() -> tuple[Agent, PhoneNumber]:
    agent = Agent.objects.alive().filter(name=AGENT_NAME).first()
    if agent is None:
        agent = agent_create(
            name=AGENT_NAME,
            ai_provider="openai",
            system_prompt="You call people from a list for the batch benchmark.",
            first_message="Hello {{name}}.",
        )
    number = PhoneNumber.objects.filter(number=NUMBER).first()
    if number is None:
        number = services.phone_number_create(number=NUMBER, provider="twilio", agent_id=agent.pk)
    return agent, number


def make_batch(agent: Agent, number: PhoneNumber, rows: int, concurrency: int) -> Batch:
    batch = Batch.objects.create(
        name=f"Bench {RUN}",
        agent=agent,
        from_number=number,
        max_concurrency=concurrency,
        calls_per_second=0,
        # Whole days (midnight to midnight): the window never holds a row back.
        window_start=dt.time(0, 0),
        window_end=dt.time(0, 0),
        window_days=[],
        max_attempts=1,
        retry_outcomes=[],
        breaker_window=0,
        total_count=rows,
        queued_count=rows,
    )
    BatchRow.objects.bulk_create(
        (
            BatchRow(
                batch=batch,
                line_number=i + 2,
                phone_number=f"+1415{5000000 + i:07d}",
                variables={"name": f"Person {i}"},
            )
            for i in range(rows)
        ),
        batch_size=2000,
    )
    return Batch.objects.get(pk=batch.pk)


def batch_delete(batch: Batch) -> None:
    Call.objects.filter(batch=batch).delete()
    batch.delete()


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def end_call(sid: str) -> None:
    """End one call at the fake and apply its final status callback, as the webhook view
    would (in a carrier thread, with the organization's schema active)."""
    _url, params, _headers = FAKE.end_call(sid, "completed", duration=30)
    services.call_status_callback(provider="twilio", params=params)


def run_pipeline(
    org, agent, number, *, rows: int, concurrency: int, hold: float, workers: int, threads: int
):
    batch = make_batch(agent, number, rows, concurrency)
    # The workers inherit this process's environment: the database, the fake, the queue.
    pool = [CeleryWorker(env={}, name=f"bench{i}").start() for i in range(workers)]
    carrier = ThreadPoolExecutor(threads, initializer=activate_tenant, initargs=(org,))
    try:
        worker_cpu_before = sum(w.cpu_seconds() for w in pool)
        own_cpu_before = cpu_seconds()
        started = time.monotonic()
        services.batch_start(batch=batch)
        in_flight_samples: list[int] = []
        ending: set[str] = set()
        deadline = started + max(600, rows / 5)
        next_check = 0.0
        while time.monotonic() < deadline:
            now = time.monotonic()
            live = FAKE.live_calls()
            in_flight_samples.append(len(live))
            for call in live:  # oldest first
                if now - call.dialed_at < hold:
                    break
                if call.sid not in ending:
                    ending.add(call.sid)
                    carrier.submit(end_call, call.sid)
            if now > next_check:
                if Batch.objects.filter(pk=batch.pk, status=BatchStatus.COMPLETED).exists():
                    break
                next_check = now + 0.25
            time.sleep(0.01)
        else:
            raise RuntimeError(f"the batch did not finish: {Batch.objects.get(pk=batch.pk)}")
        elapsed = time.monotonic() - started
        worker_cpu = sum(w.cpu_seconds() for w in pool) - worker_cpu_before
        own_cpu = cpu_seconds() - own_cpu_before
    finally:
        carrier.shutdown(wait=True)
        for worker in pool:
            worker.stop()
    batch = Batch.objects.get(pk=batch.pk)
    dial_times = sorted(call.dialed_at for call in FAKE.calls.values())
    dialed = Counter(FAKE.dialed_numbers())
    # Sustained: the middle 80% of the dials, away from the ramp-up and the tail.
    low, high = dial_times[len(dial_times) // 10], dial_times[len(dial_times) * 9 // 10]
    sustained = (len(dial_times) * 8 // 10) / (high - low)
    result = {
        "rows": rows,
        "concurrency": concurrency,
        "hold_s": hold,
        "workers": workers,
        "threads": threads,
        "elapsed_s": elapsed,
        "placed": len(dial_times),
        "sustained_cps": sustained,
        "overall_cps": len(dial_times) / (dial_times[-1] - dial_times[0]),
        "max_in_flight": FAKE.max_in_flight(),
        "at_limit_share": sum(1 for n in in_flight_samples if n >= concurrency)
        / max(1, len(in_flight_samples)),
        "dialed_twice": sum(1 for n in dialed.values() if n > 1),
        "distinct_numbers": len(dialed),
        "worker_cpu_ms_per_call": worker_cpu * 1000 / len(dial_times),
        "carrier_cpu_ms_per_call": own_cpu * 1000 / len(dial_times),
        "counters": {
            "completed": batch.completed_count,
            "failed": batch.failed_count,
            "queued": batch.queued_count,
            "in_progress": batch.in_progress_count,
            "total": batch.total_count,
        },
    }
    result["latency_ms"] = latencies(batch)
    batch_delete(batch)
    return result


def latencies(batch: Batch) -> dict[str, float]:
    """Medians over the batch's calls: from the call's creation (the claim) to the dial task
    taking it (``placed_at``), and from there to the carrier's answer (the ``placed`` event)."""
    rows = Call.objects.filter(batch=batch, events__name="placed").values_list(
        "created_at", "placed_at", "events__created_at"
    )
    queued = [(placed - created).total_seconds() * 1000 for created, placed, _ in rows]
    request = [(event - placed).total_seconds() * 1000 for _, placed, event in rows]
    return {
        "claim_to_dial_task": statistics.median(queued),
        "dial_request": statistics.median(request),
    }


def dispatcher_cost(agent, number, *, rounds: int = 10, slots: int = 100) -> dict[str, float]:
    """The dispatcher alone: each round claims ``slots`` rows into fresh slots (the calls
    are then ended without a carrier, so the next round has free slots again)."""
    batch = make_batch(agent, number, rounds * slots, slots)
    Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.RUNNING)
    BatchRow.objects.filter(batch=batch).update(next_attempt_at="2000-01-01T00:00:00Z")
    per_call_ms: list[float] = []
    queries: list[float] = []
    for _ in range(rounds):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            result = services.batch_dispatch(batch_id=batch.pk)
            took = time.perf_counter() - started
        assert result.claimed == slots, result
        per_call_ms.append(took * 1000 / slots)
        queries.append(len(captured) / slots)
        # Free the slots without the carrier: the rows' calls are made final directly.
        Call.objects.filter(batch=batch, status="queued").update(
            status="canceled", end_reason="canceled"
        )
        for row in BatchRow.objects.filter(batch=batch, status="in_progress"):
            services.batch_row_call_ended(call_id=row.last_call_id)
    batch_delete(batch)
    return {
        "ms_per_call_p50": statistics.median(per_call_ms),
        "ms_per_call_max": max(per_call_ms),
        "queries_per_call": statistics.median(queries),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--hold", type=float, default=0.5, help="seconds each call lasts")
    parser.add_argument("--workers", type=int, default=2, help="celery worker processes")
    parser.add_argument(
        "--carrier-threads", type=int, default=4, help="threads applying final callbacks"
    )
    args = parser.parse_args()

    app.conf.task_default_queue = RUN
    app.conf.broker_transport_options = broker_options(f"{RUN}:")
    org = bench_organization()
    try:
        with tenant_context(org):
            agent, number = bench_agent()
            pipeline = run_pipeline(
                org,
                agent,
                number,
                rows=args.rows,
                concurrency=args.concurrency,
                hold=args.hold,
                workers=args.workers,
                threads=args.carrier_threads,
            )
            # The dial tasks of the cost run go to a queue no worker reads.
            app.conf.task_default_queue = f"{RUN}-unread"
            cost = dispatcher_cost(agent, number)
    finally:
        FAKE.stop()
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        keys = list(client.scan_iter(match=f"*{RUN}*"))
        if keys:
            client.delete(*keys)

    print(
        f"batch of {pipeline['rows']:,} rows, max_concurrency {pipeline['concurrency']}, "
        f"pacing off, calls held {pipeline['hold_s']} s, {pipeline['workers']} workers x 2, "
        f"{pipeline['threads']} carrier threads"
    )
    print(f"  placed:              {pipeline['placed']:,} in {pipeline['elapsed_s']:.1f} s")
    print(f"  sustained rate:      {pipeline['sustained_cps']:.0f} calls placed/s (middle 80%)")
    print(f"  overall rate:        {pipeline['overall_cps']:.0f} calls placed/s")
    print(f"  worker CPU per call: {pipeline['worker_cpu_ms_per_call']:.1f} ms (dispatch + dial)")
    print(
        f"  this process per call: {pipeline['carrier_cpu_ms_per_call']:.1f} ms CPU "
        "(the fake's HTTP server and the final callbacks)"
    )
    print(
        f"  fake's log:          at most {pipeline['max_in_flight']} calls up at once "
        f"(limit {pipeline['concurrency']}); at the limit {pipeline['at_limit_share']:.0%} "
        f"of samples; {pipeline['distinct_numbers']:,} numbers, "
        f"{pipeline['dialed_twice']} dialed twice"
    )
    print(f"  counters:            {pipeline['counters']}")
    latency = pipeline["latency_ms"]
    print(
        f"  latency (median):    claim to dial task {latency['claim_to_dial_task']:.0f} ms, "
        f"dial request {latency['dial_request']:.0f} ms"
    )
    print(
        f"dispatcher alone: {cost['ms_per_call_p50']:.2f} ms per call (p50 of 10 claims of "
        f"100; max {cost['ms_per_call_max']:.2f}), {cost['queries_per_call']:.1f} queries per call"
    )
    assert pipeline["max_in_flight"] <= pipeline["concurrency"], "concurrency exceeded"
    assert pipeline["dialed_twice"] == 0, "a number was dialed twice"
    assert pipeline["distinct_numbers"] == pipeline["rows"]


if __name__ == "__main__":
    main()

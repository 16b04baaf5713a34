"""A batch dialed by real ``celery worker`` processes against the Twilio fake, with one of
them killed with SIGKILL mid-batch and started again: the batch finishes, no number is
dialed twice, the batch's concurrency never passes its limit (from the fake's own log), and
the counters add up.

This process plays the carrier: it ends calls the fake has accepted by posting Twilio's
signed final status callback to our webhook (as the web server would receive it, so a call's
end fills its slot from here), and it plays Celery beat, sending the tick and the stale-calls
sweep every second.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections import Counter

import pytest
import redis
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context, tenant_context

from calls import services
from calls.models import Batch, BatchRow, BatchStatus, Call
from tests.calls.batch_support import assert_counters, end_call, make_batch
from tests.calls.batch_worker import CeleryWorker, celery_settings
from tests.calls.telephony_support import AI_KEY_SETTINGS, PUBLIC
from tests.conftest import settings_redis_db
from tests.fakes.twilio_rest import FakeTwilioRest
from voiceagents.celery import app
from voiceagents.queue import task_by_name

pytestmark = pytest.mark.timeout(240)

BROKER_DB = 14
ROWS = 60
LIMIT = 6


def _reset_celery_connections() -> None:
    # The app keeps the broker connection pool it built on first use, for the broker URL and
    # options of that moment; forget it (as Celery does after a fork) when they change, so
    # sends use this test's broker keys. kombu's pools are per URL and options.
    app._after_fork()


@pytest.fixture
def carrier_and_workers(batch_org, settings, _channel_layer_namespace):
    """The Twilio fake, this process pointed at the test run's broker keys and queue, and the
    environment for workers that share both, the test database and the cache."""
    fake = FakeTwilioRest()
    fake.start()
    run = f"va-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    broker_url = settings_redis_db(BROKER_DB)
    settings.PUBLIC_BASE_URL = PUBLIC
    settings.TWILIO_ACCOUNT_ID = fake.account_sid
    settings.TWILIO_AUTH_TOKEN = fake.auth_token
    settings.TWILIO_API_BASE_URL = fake.base_url
    for name, value in celery_settings(
        broker_url=broker_url, queue=run, keyprefix=f"{run}:"
    ).items():
        setattr(settings, name, value)
    _reset_celery_connections()
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    env = {
        "DJANGO_SETTINGS_MODULE": "voiceagents.settings",
        "DATABASE_URL": f"postgres://{db['USER'] or 'postgres'}{password}@{db['HOST']}:"
        f"{db['PORT']}/{db['NAME']}",
        "DB_POOL": "false",
        "CACHE_URL": settings.CACHES["default"]["LOCATION"],
        "CACHE_KEY_PREFIX": settings.CACHES["default"].get("KEY_PREFIX", ""),
        "CHANNELS_PREFIX": _channel_layer_namespace,
        "PUBLIC_BASE_URL": PUBLIC,
        "TWILIO_ACCOUNT_ID": fake.account_sid,
        "TWILIO_AUTH_TOKEN": fake.auth_token,
        "TWILIO_API_BASE_URL": fake.base_url,
        "CELERY_BROKER_URL": broker_url,
        "CELERY_QUEUE": run,
        "TEST_CELERY_KEYPREFIX": f"{run}:",
        # A call claimed but never dialed (its worker died between) is ended by the sweep.
        "STALE_CALL_QUEUED_SECONDS": "5",
        # Starting a call checks that its agent's model has a key (no model is reached here).
        **{name: f"test-{name.lower()}" for name in AI_KEY_SETTINGS},
        "LOG_LEVEL": "WARNING",
    }
    workers: list[CeleryWorker] = []

    def worker(name: str) -> CeleryWorker:
        started = CeleryWorker(env=env, name=name).start()
        workers.append(started)
        return started

    try:
        yield fake, worker
    finally:
        for started in workers:
            started.stop()
        fake.stop()
        client = redis.Redis.from_url(broker_url)
        keys = list(client.scan_iter(match=f"{run}:*"))
        keys += list(client.scan_iter(match=f"*{run}*"))
        if keys:
            client.delete(*set(keys))
        _reset_celery_connections()


def _beat() -> None:
    """What Celery beat would send: the batch tick and the stale-calls sweep."""
    with schema_context("public"):
        for name in ("calls.batches_dispatch_due", "calls.stale_calls_sweep"):
            task_by_name(name).apply_async()


def _end_calls_older_than(fake: FakeTwilioRest, seconds: float, rng: random.Random) -> int:
    ended = 0
    now = time.monotonic()
    for call in fake.live_calls():
        if now - call.dialed_at >= seconds:
            end_call(fake, call.sid, "completed", duration=rng.randint(5, 90))
            ended += 1
    return ended


def test_a_worker_killed_with_sigkill_mid_batch_then_restarted_dials_no_row_twice(
    batch_org, carrier_and_workers, make_agent, make_number
):
    fake, worker = carrier_and_workers
    rng = random.Random(7)
    with tenant_context(batch_org):
        agent = make_agent()
        number = make_number(agent=agent)
        batch = make_batch(
            agent=agent,
            number=number,
            phones=ROWS,
            max_concurrency=LIMIT,
            max_attempts=1,
            retry_outcomes=[],
            breaker_window=0,
        )
        # Two workers, as on two machines; one dies mid-batch.
        doomed = worker("doomed")
        worker("survivor")
        services.batch_start(batch=batch)

        deadline = time.monotonic() + 60
        while len(fake.calls) < ROWS // 3 and time.monotonic() < deadline:
            _end_calls_older_than(fake, 0.02, rng)
            time.sleep(0.005)
        doomed.kill()
        killed_at = assert_counters(batch)
        assert killed_at.queued_count > 0, "the kill came after the batch was dialed"
        # The carrier goes on ending calls while one worker is down; then it comes back.
        until = time.monotonic() + 1.0
        while time.monotonic() < until:
            _end_calls_older_than(fake, 0.02, rng)
            time.sleep(0.01)
        worker("restarted")

        deadline = time.monotonic() + 120
        next_beat = 0.0
        while time.monotonic() < deadline:
            _end_calls_older_than(fake, 0.02, rng)
            if time.monotonic() > next_beat:
                _beat()
                next_beat = time.monotonic() + 1.0
            if Batch.objects.get(pk=batch.pk).status == BatchStatus.COMPLETED:
                break
            assert_counters(batch)
            time.sleep(0.01)
        else:
            pytest.fail(f"the batch did not finish: {assert_counters(batch).__dict__}")

        dialed = Counter(fake.dialed_numbers())
        assert dialed and max(dialed.values()) == 1, dialed.most_common(3)
        assert fake.max_in_flight() <= LIMIT
        batch = assert_counters(batch)
        rows = BatchRow.objects.filter(batch=batch)
        assert batch.completed_count == len(dialed)  # every call that rang was answered
        # A row whose call was claimed but never dialed (the kill fell in between) failed
        # through the stale-calls sweep: never dialed again.
        for row in rows.filter(status="failed"):
            assert row.phone_number not in dialed
            assert row.last_call.error_code == "stale_call"
        assert batch.completed_count + batch.failed_count == ROWS
        # One call per row, whatever was redelivered.
        assert Call.objects.filter(batch=batch).count() == ROWS
    assert settings.CELERY_TASK_ALWAYS_EAGER is False


# pytest-django creates the test database only when a collected test uses ``db``; this one
# does, for the crash test's committed data.
@pytest.mark.django_db
def test_the_workers_of_a_run_use_its_own_queue_and_broker_keys():
    options = celery_settings(broker_url="redis://127.0.0.1:6379/14", queue="q1", keyprefix="p1:")
    assert options["CELERY_TASK_DEFAULT_QUEUE"] == "q1"
    assert options["CELERY_BROKER_TRANSPORT_OPTIONS"]["global_keyprefix"] == "p1:"
    assert options["CELERY_TASK_ALWAYS_EAGER"] is False

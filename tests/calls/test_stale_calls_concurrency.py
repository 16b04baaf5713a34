"""The stale-calls sweep on several workers at once: real threads, real transactions
(committed_db), each with its own database connection. A call another worker holds is
skipped, not waited for, and two sweeps at once end each call exactly once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django_tenants.utils import tenant_context

from calls import services
from calls.models import Call, CallEvent
from tests.calls.test_stale_calls import NOW, ago, make_call


@pytest.fixture
def committed_alpha(committed_db):
    # Not org_a: it asks for ``db``, whose test transaction would hide rows from other threads.
    from organizations.models import Organization

    return Organization.objects.get(slug="alpha")


def test_a_call_another_worker_holds_is_skipped_not_waited_for(committed_alpha, twilio, make_agent):
    org = committed_alpha
    with tenant_context(org):
        call = make_call(make_agent(), status="queued", created_at=ago(minutes=30))
    locked, release = threading.Event(), threading.Event()

    def other_worker() -> None:
        try:
            with tenant_context(org), transaction.atomic():
                Call.objects.select_for_update().get(pk=call.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    worker = threading.Thread(target=other_worker)
    worker.start()
    assert locked.wait(10)
    try:
        with tenant_context(org):
            assert services.call_stale_reconcile(now=NOW) == []  # skipped at once
    finally:
        release.set()
        worker.join(10)
    with tenant_context(org):
        assert [o.call_id for o in services.call_stale_reconcile(now=NOW)] == [call.pk]


def test_two_sweeps_at_once_end_each_call_once(committed_alpha, twilio, make_agent):
    org = committed_alpha
    with tenant_context(org):
        agent = make_agent()
        calls = [make_call(agent, status="queued", created_at=ago(minutes=30)) for _ in range(20)]
    start = threading.Barrier(2)
    outcomes: list[list] = []

    def sweep() -> None:
        try:
            start.wait(10)
            with tenant_context(org):
                outcomes.append(services.call_stale_reconcile(now=NOW))
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    ended = sorted(o.call_id for run in outcomes for o in run)
    assert ended == sorted(call.pk for call in calls)
    with tenant_context(org):
        assert CallEvent.objects.filter(name="stale_call").count() == 20
        assert not Call.objects.filter(status="queued").exists()

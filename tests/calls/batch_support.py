"""Helpers for the batch dialing tests: a batch with its rows (counters exact, as the import
leaves them), the counters invariant, and ending calls at the carrier fake the way Twilio
would (a signed final status callback posted to our webhook).

The batch tests commit for real (``committed_db``): a call's end fills the freed slot after
commit, as in production, and the dial tasks run eagerly at commit.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from django.db import connection
from django.db.models import Count, Q
from django_tenants.utils import schema_context, tenant_context

from calls.models import Batch, BatchRow, BatchRowStatus, BatchStatus, Call
from calls.models.batches import COUNTER_FIELDS
from organizations.models import Organization, PhoneNumberClaim
from tests.calls.telephony_support import send

ALL_DAY = {"window_start": dt.time(0, 0), "window_end": dt.time(0, 0)}


def phone(n: int) -> str:
    """The n-th test callee: +1 415 55x xxxx, distinct for n < 100,000."""
    return f"+1415{5500000 + n:07d}"


def make_batch(
    *,
    agent,
    number,
    phones: Sequence[str] | int,
    timezones: Sequence[str] | None = None,
    **fields: Any,
) -> Batch:
    """A draft batch with one queued row per phone (counters as the import sets them). The
    window defaults to the whole day, so tests do not depend on the hour they run at."""
    if isinstance(phones, int):
        phones = [phone(i) for i in range(phones)]
    values = {"name": "Test batch", "max_concurrency": 5, "calls_per_second": 0, **ALL_DAY}
    values.update(fields)
    batch = Batch.objects.create(
        agent=agent,
        from_number=number,
        total_count=len(phones),
        queued_count=len(phones),
        **values,
    )
    BatchRow.objects.bulk_create(
        BatchRow(
            batch=batch,
            line_number=i + 2,
            phone_number=to,
            timezone=(timezones[i] if timezones else ""),
            variables={"row": i},
        )
        for i, to in enumerate(phones)
    )
    return batch


def assert_counters(batch: Batch) -> Batch:
    """The counters equal the rows by status, and add up to the total: the batch and its
    rows are read in one statement (one snapshot), as workers may be moving rows meanwhile."""
    by_status = {
        f"rows_{status}": Count("rows", filter=Q(rows__status=status)) for status in COUNTER_FIELDS
    }
    fresh = Batch.objects.annotate(**by_status).get(pk=batch.pk)
    counters = {status: getattr(fresh, field) for status, field in COUNTER_FIELDS.items()}
    rows = {status: getattr(fresh, f"rows_{status}") for status in COUNTER_FIELDS}
    assert counters == rows, (counters, rows)
    assert sum(counters.values()) == fresh.total_count == sum(rows.values())
    return fresh


def rows_by_status(batch: Batch) -> dict[str, int]:
    return dict(Counter(BatchRow.objects.filter(batch=batch).values_list("status", flat=True)))


def end_call(fake, call_sid: str, call_status: str = "completed", **fields: Any):
    """End a call at the fake and post Twilio's final status callback for it. The request
    switches the connection's schema (middleware): the caller's is put back afterwards."""
    tenant = connection.tenant
    try:
        response = send(fake.end_call(call_sid, call_status, **fields))
    finally:
        connection.set_tenant(tenant)
    assert response.status_code in (200, 204), response.content
    return response


def end_live_calls(fake, call_status: str = "completed", **fields: Any) -> int:
    """End every call up at the fake; returns how many."""
    live = fake.live_calls()
    for call in live:
        end_call(fake, call.sid, call_status, **fields)
    return len(live)


def sid_of(fake, to: str) -> str:
    (call,) = [c for c in fake.calls.values() if c.to == to]
    return call.sid


def statuses(batch: Batch) -> dict[str, str]:
    """phone -> row status."""
    return dict(BatchRow.objects.filter(batch=batch).values_list("phone_number", "status"))


@pytest.fixture
def batch_org(committed_db):
    """alpha, with committed data, an agent and a Twilio number (the batch tests' setting);
    alpha's limits are put back afterwards."""
    org = Organization.objects.get(slug="alpha")
    saved = {"max_concurrent_calls": org.max_concurrent_calls, "timezone": org.timezone}
    Organization.objects.filter(pk=org.pk).update(max_concurrent_calls=50)
    org = Organization.objects.get(pk=org.pk)
    yield org
    with schema_context("public"):
        PhoneNumberClaim.objects.filter(organization=org).delete()
        Organization.objects.filter(pk=org.pk).update(**saved)


@pytest.fixture
def dialer(batch_org, twilio, make_agent, make_number):
    """(agent, number) in alpha, with alpha's schema active for the test body."""
    with tenant_context(batch_org):
        agent = make_agent()
        number = make_number(agent=agent)
        yield agent, number
    connection.set_schema_to_public()


def set_org(org: Organization, **fields: Any) -> None:
    """Change the organization row (public schema) and the active connection's copy."""
    Organization.objects.filter(pk=org.pk).update(**fields)
    for name, value in fields.items():
        setattr(org, name, value)
    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Organization) and tenant.pk == org.pk:
        for name, value in fields.items():
            setattr(tenant, name, value)


def batch_calls(batch: Batch) -> Iterable[Call]:
    return Call.objects.filter(batch=batch).order_by("id")


def is_done(batch: Batch) -> bool:
    return Batch.objects.get(pk=batch.pk).status in (BatchStatus.COMPLETED, BatchStatus.CANCELED)


__all__ = [
    "ALL_DAY",
    "BatchRowStatus",
    "assert_counters",
    "batch_calls",
    "batch_org",
    "dialer",
    "end_call",
    "end_live_calls",
    "is_done",
    "make_batch",
    "phone",
    "rows_by_status",
    "set_org",
    "sid_of",
    "statuses",
]

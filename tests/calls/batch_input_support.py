"""Helpers for the batch input tests (imported by them): an agent whose prompts need
``{{customer_name}}``, with a number to call from, and readers of what an import stored."""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

import pytest

from calls import services
from calls.models import Batch, BatchRow
from calls.models.batches import COUNTER_FIELDS

AGENT_PROMPT = "You call {{customer_name}} about their order."


@pytest.fixture
def batch_agent(alpha, make_agent, make_number):
    """alpha's agent needing ``customer_name``, with +14155550100 assigned to it."""
    with alpha():
        agent = make_agent(name="Caller", system_prompt=AGENT_PROMPT)
        make_number(agent=agent)
    return agent


def csv_upload(text: str | bytes, name: str = "list.csv", **kwargs: Any) -> services.UploadSource:
    data = text.encode() if isinstance(text, str) else text
    return services.UploadSource(file=io.BytesIO(data), name=name, **kwargs)


def create(agent, source, **kwargs: Any) -> Batch:
    """batch_create in the active schema (call inside ``alpha()``)."""
    return services.batch_create(agent_id=agent.pk, source=source, **kwargs)


def stored(batch: Batch) -> list[tuple[int, str, str, str]]:
    """(line, status, phone, error) of every row, in input order."""
    return list(
        BatchRow.objects.filter(batch=batch)
        .order_by("line_number")
        .values_list("line_number", "status", "phone_number", "error")
    )


def assert_counters_exact(batch: Batch) -> None:
    """The batch's counters equal its rows' statuses, and add up to the total."""
    batch.refresh_from_db()
    by_status = Counter(BatchRow.objects.filter(batch=batch).values_list("status", flat=True))
    for status, counter in COUNTER_FIELDS.items():
        assert getattr(batch, counter) == by_status.get(status, 0), (status, counter)
    assert batch.total_count == sum(getattr(batch, c) for c in COUNTER_FIELDS.values())
    assert batch.total_count == sum(by_status.values())

"""``batch_create``: a batch from its input, in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import structlog
from django.db import transaction

from agents.models import Agent
from agents.selectors import agent_config_resolve
from calls.batch_sources import CsvRows
from calls.exceptions import BatchEmpty
from calls.models import Batch, BatchRowStatus, BatchStatus
from calls.selectors import caller_number_get, current_organization
from calls.services.batch_control import batch_start
from calls.services.batch_import.mapping import ColumnPlan, mapping_clean, plan_check, plan_for
from calls.services.batch_import.rows import RowChecker, rows_write
from calls.services.batch_import.sources import (
    BatchSource,
    ImportProgress,
    chunks,
    default_name,
    source_open,
)
from calls.services.batches import batch_settings_clean
from organizations.models import User
from voiceagents.exceptions import ValidationFailed

__all__ = ["CHUNK_ROWS", "batch_create"]

logger = structlog.get_logger(__name__)

CHUNK_ROWS = 2000


def batch_create(
    *,
    agent_id: int | str,
    source: BatchSource,
    name: str = "",
    column_mapping: Mapping[str, Any] | None = None,
    from_number: str | None = None,
    settings_data: Mapping[str, Any] | None = None,
    start: bool = False,
    created_by: User | None = None,
    progress: Callable[[ImportProgress], None] | None = None,
) -> Batch:
    """Create a batch from ``source``: settings checked first (400s naming the field), then
    every row read, checked and stored with the batch's counters in one transaction. With
    ``start`` the batch starts in that transaction too (all or nothing); otherwise it is left
    a draft. ``settings_data`` holds any of BATCH_SETTINGS_FIELDS; the window defaults to the
    organization's calling hours."""
    organization = current_organization()
    agent = _agent(agent_id)
    mapping = mapping_clean(column_mapping)
    values = batch_settings_clean(data=dict(settings_data or {}), organization=organization)
    values.setdefault("max_concurrency", min(10, organization.max_concurrent_calls))
    if "window_start" not in values and "window_end" not in values:
        values["window_start"] = organization.calling_window_start
        values["window_end"] = organization.calling_window_end
    phone_number = caller_number_get(
        agent=agent, from_phone=from_number or None, field="from_number"
    )
    required = list(agent_config_resolve(agent_id=agent.pk).prompt_variables)

    opened = source_open(source, organization=organization)
    try:
        rows = opened.rows
        plan: ColumnPlan | None = None
        if rows.columns_known:
            plan = plan_for(rows.columns, mapping)
            plan_check(plan, columns=rows.columns, required=required, explicit=mapping is not None)
        with transaction.atomic():
            batch = Batch.objects.create(
                name=(name or "").strip()[:200] or default_name(opened),
                agent=agent,
                status=BatchStatus.DRAFT,
                from_number=phone_number,
                column_mapping=mapping or {},
                source=opened.origin,
                source_name=opened.name,
                created_by=created_by,
                **values,
            )
            checker = RowChecker(
                batch=batch,
                mapping=mapping,
                region=organization.default_region,
                required=required,
                plan=plan,
                json_values=not isinstance(rows, CsvRows),
            )
            done = 0
            for chunk in chunks(rows, CHUNK_ROWS):
                rows_write(batch, checker.check(chunk))
                done += len(chunk)
                if progress is not None:
                    progress(
                        ImportProgress(
                            rows=done, bytes_read=rows.bytes_read(), bytes_total=opened.size
                        )
                    )
            if not done:
                raise BatchEmpty(
                    "The input has no rows to call"
                    + (f" (columns: {', '.join(rows.columns)})." if rows.columns else ".")
                )
            counts = checker.counts
            batch.total_count = done
            batch.queued_count = counts[BatchRowStatus.QUEUED]
            batch.invalid_count = counts[BatchRowStatus.INVALID]
            batch.skipped_count = counts[BatchRowStatus.SKIPPED]
            batch.columns = list(rows.columns)
            batch.save(
                update_fields=[
                    "total_count",
                    "queued_count",
                    "invalid_count",
                    "skipped_count",
                    "columns",
                    "updated_at",
                ]
            )
            if start:
                batch = batch_start(batch=batch, actor=created_by)
    finally:
        if opened.close is not None:
            opened.close()
    logger.info(
        "batch_created",
        batch_id=batch.pk,
        rows=batch.total_count,
        queued=batch.queued_count,
        invalid=batch.invalid_count,
        skipped=batch.skipped_count,
        source=batch.source,
    )
    return batch


def _agent(agent_id: int | str) -> Agent:
    try:
        pk = int(agent_id)
    except (TypeError, ValueError):
        pk = None
    agent = Agent.objects.alive().filter(pk=pk).first() if pk is not None else None
    if agent is None:
        message = f"No agent with id {agent_id!r} in this organization."
        raise ValidationFailed(message, details={"fields": {"agent_id": [message]}})
    return agent

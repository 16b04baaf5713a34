"""Reads of the console's dashboard: the organization's calls today, this week and per day by
outcome, what is live right now (active calls, running batches).

A handful of aggregate queries whatever the number of calls: the figures of every period come
from one grouped query over the chart's window (per local day, outcome and currency), the live
lists from one query each. Days and weeks are the organization's own (its time zone; a week
starts on Monday).

A call's outcome is what ``batch_row_outcome_for_call`` makes of it for a batch row (answered by
a person, voicemail, no answer, busy, failed, canceled), written here as one SQL expression so
it can be grouped on; calls not final yet count as ``active``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Case, Count, F, Q, Sum, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from agents.models import Agent
from calls.models import (
    ACTIVE_STATUSES,
    Batch,
    BatchRowOutcome,
    BatchStatus,
    Call,
    CallStatus,
    EndReason,
)
from calls.selectors.organizations import current_organization

__all__ = [
    "ACTIVE_OUTCOME",
    "DASHBOARD_LIST_LIMIT",
    "OUTCOMES",
    "Dashboard",
    "DayFigures",
    "PeriodFigures",
    "dashboard_get",
]

# The outcomes of final calls, in the order the dashboard shows them.
OUTCOMES: tuple[str, ...] = (
    BatchRowOutcome.ANSWERED,
    BatchRowOutcome.VOICEMAIL,
    BatchRowOutcome.NO_ANSWER,
    BatchRowOutcome.BUSY,
    BatchRowOutcome.FAILED,
    BatchRowOutcome.CANCELED,
)
# The "outcome" of a call that is not final yet.
ACTIVE_OUTCOME = "active"
# Active calls and running batches listed at most (the counts are exact).
DASHBOARD_LIST_LIMIT = 10

_OUTCOME = Case(
    When(
        Q(status=CallStatus.COMPLETED)
        & (Q(end_reason=EndReason.VOICEMAIL) | Q(answered_by="machine")),
        then=Value(BatchRowOutcome.VOICEMAIL.value),
    ),
    When(status=CallStatus.COMPLETED, then=Value(BatchRowOutcome.ANSWERED.value)),
    When(status=CallStatus.NO_ANSWER, then=Value(BatchRowOutcome.NO_ANSWER.value)),
    When(status=CallStatus.BUSY, then=Value(BatchRowOutcome.BUSY.value)),
    When(status=CallStatus.CANCELED, then=Value(BatchRowOutcome.CANCELED.value)),
    When(status=CallStatus.FAILED, then=Value(BatchRowOutcome.FAILED.value)),
    default=Value(ACTIVE_OUTCOME),
)


@dataclass(slots=True)
class PeriodFigures:
    """The calls created in a period: how many, by outcome, the answered rate (answered by a
    person, of the final ones), the average duration of the answered ones, and their cost
    (per currency: carriers bill in their own)."""

    calls: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    active: int = 0
    answered_seconds: int = 0
    answered_with_duration: int = 0
    cost: dict[str, Decimal] = field(default_factory=dict)

    @property
    def finished(self) -> int:
        return self.calls - self.active

    @property
    def answered(self) -> int:
        return self.outcomes[BatchRowOutcome.ANSWERED]

    @property
    def answered_rate(self) -> float | None:
        """Percent of the final calls a person answered; None before any call ended."""
        return 100.0 * self.answered / self.finished if self.finished else None

    @property
    def average_duration_seconds(self) -> float | None:
        if not self.answered_with_duration:
            return None
        return self.answered_seconds / self.answered_with_duration

    def add(self, row: Mapping[str, object]) -> None:
        count = int(row["calls"])  # type: ignore[call-overload]
        self.calls += count
        outcome = str(row["outcome"])
        if outcome == ACTIVE_OUTCOME:
            self.active += count
        else:
            self.outcomes[outcome] += count
        if outcome == BatchRowOutcome.ANSWERED:
            self.answered_seconds += int(row["seconds"] or 0)  # type: ignore[call-overload]
            self.answered_with_duration += int(row["with_duration"])  # type: ignore[call-overload]
        cost = row["cost"]
        if isinstance(cost, Decimal):
            currency = str(row["cost_currency"] or "")
            self.cost[currency] = self.cost.get(currency, Decimal(0)) + cost


@dataclass(frozen=True, slots=True)
class DayFigures:
    """One local day of the chart: its calls by outcome (``active`` included)."""

    date: dt.date
    outcomes: dict[str, int]

    @property
    def calls(self) -> int:
        return sum(self.outcomes.values())


@dataclass(frozen=True, slots=True)
class Dashboard:
    zone: ZoneInfo
    today: PeriodFigures
    week: PeriodFigures
    window: PeriodFigures
    days: list[DayFigures]
    active_call_count: int
    active_calls: list[Call]
    running_batch_count: int
    running_batches: list[Batch]
    has_calls: bool
    has_agents: bool


def _period_rows(*, since: dt.datetime, zone: ZoneInfo) -> list[dict[str, object]]:
    """The calls created since ``since``, grouped by local day, outcome and cost currency."""
    answered = Q(status=CallStatus.COMPLETED, duration_seconds__isnull=False)
    return list(
        Call.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=zone), outcome=_OUTCOME)
        .values("day", "outcome", "cost_currency")
        .annotate(
            calls=Count("id"),
            seconds=Sum("duration_seconds", filter=answered),
            with_duration=Count("id", filter=answered),
            cost=Sum("cost"),
        )
        .order_by()
    )


def _local_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=zone)


def _figures(rows: Iterable[Mapping[str, object]], since: dt.date) -> PeriodFigures:
    figures = PeriodFigures()
    for row in rows:
        day = row["day"]
        if isinstance(day, dt.date) and day >= since:
            figures.add(row)
    return figures


def dashboard_get(*, now: dt.datetime | None = None, days: int = 14) -> Dashboard:
    """The dashboard of the organization whose schema is active, at ``now`` (default: now),
    with a chart of the last ``days`` local days (today included; at least 7, so this week
    is inside it)."""
    days = max(days, 7)
    zone = ZoneInfo(current_organization().timezone)
    local_now = (now or timezone.now()).astimezone(zone)
    today = local_now.date()
    week_start = today - dt.timedelta(days=today.weekday())
    first_day = today - dt.timedelta(days=days - 1)

    rows = _period_rows(since=_local_midnight(first_day, zone), zone=zone)
    per_day: dict[dt.date, dict[str, int]] = defaultdict(
        lambda: dict.fromkeys((*OUTCOMES, ACTIVE_OUTCOME), 0)
    )
    for row in rows:
        day = row["day"]
        if isinstance(day, dt.date):
            per_day[day][str(row["outcome"])] += int(row["calls"])  # type: ignore[call-overload]
    chart = [
        DayFigures(date=day, outcomes=per_day[day])
        for day in (first_day + dt.timedelta(days=n) for n in range(days))
    ]

    active = Call.objects.filter(status__in=ACTIVE_STATUSES)
    active_calls = list(
        active.select_related("agent", "phone_number").order_by("-created_at", "-id")[
            :DASHBOARD_LIST_LIMIT
        ]
    )
    active_call_count = (
        len(active_calls) if len(active_calls) < DASHBOARD_LIST_LIMIT else active.count()
    )
    running = Batch.objects.filter(status__in=[BatchStatus.RUNNING, BatchStatus.PAUSED])
    running_batches = list(
        running.select_related("agent")
        # Running ones first, then those waiting for someone to resume them.
        .order_by(
            Case(When(status=BatchStatus.PAUSED, then=Value(1)), default=Value(0)).asc(),
            F("started_at").desc(nulls_last=True),
            "-id",
        )[:DASHBOARD_LIST_LIMIT]
    )
    running_batch_count = (
        len(running_batches) if len(running_batches) < DASHBOARD_LIST_LIMIT else running.count()
    )
    has_calls = bool(rows) or bool(active_calls) or Call.objects.exists()
    # What to do next, for an organization without calls: only asked then.
    has_agents = True if has_calls else Agent.objects.alive().exists()
    return Dashboard(
        zone=zone,
        today=_figures(rows, today),
        week=_figures(rows, week_start),
        window=_figures(rows, first_day),
        days=chart,
        active_call_count=active_call_count,
        active_calls=active_calls,
        running_batch_count=running_batch_count,
        running_batches=running_batches,
        has_calls=has_calls,
        has_agents=has_agents,
    )

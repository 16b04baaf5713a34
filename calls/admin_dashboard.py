"""The console's dashboard: the admin index of an organization's domain (settings.UNFOLD
["DASHBOARD_CALLBACK"]; the theme renders templates/admin/index.html with what this adds).

It reads the figures once (calls.selectors.dashboard) and writes them out for the template:
numbers already formatted, the chart's data as the theme's Chart.js expects it, the running
batches' progress bars as the batch pages draw them (static/calls/batch_progress.js keeps them
current). Links and buttons come from the admin's own app list, so a role only sees what it
may open: a viewer gets figures and no button that would fail.

The platform admin on the main host has no organization: its index is left as it is.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse

from calls.admin_batches import batch_progress_data
from calls.models import ACTIVE_STATUSES, Batch, Call, CallStatus
from calls.selectors.dashboard import ACTIVE_OUTCOME, OUTCOMES, PeriodFigures, dashboard_get

__all__ = ["CHART_DAYS", "OUTCOME_COLOURS", "OUTCOME_LABELS", "dashboard_callback"]

# The chart's lengths a page may ask for (?days=), the first by default.
CHART_DAYS = (14, 30)
OUTCOME_LABELS: dict[str, str] = {
    "answered": "Answered",
    "voicemail": "Voicemail",
    "no_answer": "No answer",
    "busy": "Busy",
    "failed": "Failed",
    "canceled": "Canceled",
    ACTIVE_OUTCOME: "In progress",
}
# Tailwind's 600 shades: distinct, and readable on the light and the dark theme.
OUTCOME_COLOURS: dict[str, str] = {
    "answered": "#16a34a",
    "voicemail": "#7c3aed",
    "no_answer": "#d97706",
    "busy": "#ea580c",
    "failed": "#dc2626",
    "canceled": "#6b7280",
    ACTIVE_OUTCOME: "#2563eb",
}
_CURRENCY_SIGNS = {"USD": "$", "EUR": "€", "GBP": "£"}
_CENT = Decimal("0.01")


def dashboard_callback(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    """Add the dashboard to the admin index's ``context`` on an organization's domain."""
    tenant = getattr(request, "tenant", None)
    if tenant is None or tenant.is_public:
        return context
    days = _chart_days(request)
    board = dashboard_get(days=days)
    links = _admin_links(context.get("app_list") or [])
    context["dashboard"] = {
        "zone": str(board.zone),
        "has_calls": board.has_calls,
        "has_agents": board.has_agents,
        "tiles": _tiles(board.today, board.week),
        "outcomes": _outcomes(board.window),
        "window_calls": board.window.calls,
        "days": days,
        "day_choices": [
            {"days": choice, "url": f"?{urlencode({'days': choice})}", "current": choice == days}
            for choice in CHART_DAYS
        ],
        "chart": json.dumps(_chart_data(board.days)),
        "chart_options": json.dumps(_chart_options()),
        "chart_table": [
            {"label": _day_label(day.date), "outcomes": [day.outcomes[o] for o in _SERIES]}
            for day in board.days
        ],
        "series_labels": [OUTCOME_LABELS[o] for o in _SERIES],
        "active_call_count": board.active_call_count,
        "active_calls": [_active_call(call, links, board.zone) for call in board.active_calls],
        "running_batch_count": board.running_batch_count,
        "running_batches": [_running_batch(batch, links) for batch in board.running_batches],
        "links": links,
    }
    return context


_SERIES = (*OUTCOMES, ACTIVE_OUTCOME)


def _chart_days(request: HttpRequest) -> int:
    try:
        days = int(request.GET.get("days", CHART_DAYS[0]))
    except ValueError:
        return CHART_DAYS[0]
    return days if days in CHART_DAYS else CHART_DAYS[0]


def _admin_links(app_list: list[dict[str, Any]]) -> dict[str, str]:
    """The URLs the user may open, from the admin's app list (which holds only the models
    their role may view, and an add URL only where they may add): ``<model>`` for a list,
    ``<model>_add`` for its add page."""
    links: dict[str, str] = {}
    for app in app_list:
        for model in app.get("models", []):
            name = f"{app['app_label']}_{model['object_name'].lower()}"
            if model.get("admin_url") and model.get("perms", {}).get("view", True):
                links[name] = model["admin_url"]
            if model.get("add_url"):
                links[f"{name}_add"] = model["add_url"]
    if "calls_call" in links:
        active = ",".join(sorted(ACTIVE_STATUSES))
        links["calls_call_active"] = f"{links['calls_call']}?status__in={active}"
    return links


# --- figures --------------------------------------------------------------------------------------


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}%"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d}"


def _money(cost: dict[str, Decimal]) -> str:
    if not cost:
        return "—"
    parts = []
    for currency, amount in sorted(cost.items(), key=lambda item: -item[1]):
        rounded = amount.quantize(_CENT, rounding=ROUND_HALF_UP)
        sign = _CURRENCY_SIGNS.get(currency)
        text = f"{sign}{rounded:,}" if sign else f"{rounded:,} {currency or ''}".strip()
        if amount and not rounded:
            text = f"< {sign}0.01" if sign else f"< 0.01 {currency}".strip()
        parts.append(text)
    return " + ".join(parts)


def _tiles(today: PeriodFigures, week: PeriodFigures) -> list[dict[str, str]]:
    return [
        {
            "name": "calls_today",
            "label": "Calls today",
            "value": f"{today.calls:,}",
            "detail": f"{week.calls:,} this week",
        },
        {
            "name": "answered_rate",
            "label": "Answered this week",
            "value": _percent(week.answered_rate),
            "detail": f"today {_percent(today.answered_rate)}",
        },
        {
            "name": "average_duration",
            "label": "Average call",
            "value": _duration(week.average_duration_seconds),
            "detail": f"answered, this week; today {_duration(today.average_duration_seconds)}",
        },
        {
            "name": "cost",
            "label": "Cost this week",
            "value": _money(week.cost),
            "detail": f"today {_money(today.cost)}",
        },
    ]


def _outcomes(window: PeriodFigures) -> list[dict[str, Any]]:
    finished = window.finished
    rows = []
    for outcome in OUTCOMES:
        count = window.outcomes[outcome]
        share = 100.0 * count / finished if finished else 0.0
        rows.append(
            {
                "name": outcome,
                "label": OUTCOME_LABELS[outcome],
                "count": f"{count:,}",
                "percent": f"{share:.0f}",
                "width": f"{share:.1f}",
                "colour": OUTCOME_COLOURS[outcome],
            }
        )
    return rows


def _day_label(day: dt.date) -> str:
    return f"{day:%b} {day.day}"


def _chart_data(days: list[Any]) -> dict[str, Any]:
    """Calls per day, one stacked series per outcome (Chart.js's data, for the theme's
    renderer: a canvas with class ``chart``)."""
    return {
        "labels": [_day_label(day.date) for day in days],
        "datasets": [
            {
                "label": OUTCOME_LABELS[outcome],
                "data": [day.outcomes[outcome] for day in days],
                "backgroundColor": OUTCOME_COLOURS[outcome],
                "borderRadius": 2,
                "maxBarThickness": 28,
            }
            for outcome in _SERIES
        ],
    }


def _chart_options() -> dict[str, Any]:
    # The theme's defaults draw overlapping hairline bars; ours are stacked, with a legend.
    return {
        "animation": False,
        "responsive": True,
        "maintainAspectRatio": False,
        "plugins": {
            "legend": {
                "display": True,
                "position": "bottom",
                "labels": {"boxWidth": 10, "boxHeight": 10, "color": "#6b7280"},
            },
            "tooltip": {"enabled": True, "mode": "index", "intersect": False},
        },
        "scales": {
            "x": {"stacked": True, "grid": {"display": False}, "ticks": {"color": "#6b7280"}},
            "y": {
                "stacked": True,
                "beginAtZero": True,
                "ticks": {"color": "#6b7280", "precision": 0},
            },
        },
    }


# --- what is live -------------------------------------------------------------------------------


def _active_call(call: Call, links: dict[str, str], zone: dt.tzinfo) -> dict[str, Any]:
    since = (call.answered_at or call.created_at).astimezone(zone)
    return {
        "id": call.pk,
        "url": reverse("admin:calls_call_change", args=[call.pk]) if "calls_call" in links else "",
        "direction": call.get_direction_display(),
        "number": call.counterpart_number,
        "agent": call.agent.name if call.agent else "—",
        "status": call.get_status_display(),
        "in_progress": call.status == CallStatus.IN_PROGRESS,
        # Written out here: the template's filters would show it in UTC, not the zone's.
        "since": f"{since:%H:%M}",
    }


def _running_batch(batch: Batch, links: dict[str, str]) -> dict[str, Any]:
    can_open = "calls_batch" in links
    progress = render_to_string(
        "admin/calls/batch/progress.html",
        {
            # No rate: it would cost a query per batch, and the bar's endpoint sends it.
            "progress": batch_progress_data(batch, with_rate=False),
            "url": reverse("admin:calls_batch_progress", args=[batch.pk]),
            "compact": True,
        },
    )
    return {
        "id": batch.pk,
        "name": batch.name,
        "url": reverse("admin:calls_batch_change", args=[batch.pk]) if can_open else "",
        "agent": batch.agent.name,
        "status": batch.get_status_display(),
        "progress": progress,
    }

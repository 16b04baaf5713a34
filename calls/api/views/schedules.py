"""Schedules: create a one-time or recurring schedule of a call or a batch, list and read them,
change, pause, resume, cancel (DELETE) one, run it now, read its runs and its next run times,
and preview an unsaved expression. Each action validates, calls one service, renders."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from calls import selectors, services
from calls.api.serializers.schedules import (
    ScheduleCreateSerializer,
    ScheduledRunSerializer,
    ScheduleNextRunsSerializer,
    SchedulePreviewRequestSerializer,
    ScheduleSerializer,
    ScheduleUpdateSerializer,
    schedule_description,
)
from calls.api.views._common import _valid
from calls.models import ScheduledCall, ScheduledRun, ScheduleStatus
from organizations.actors import request_user
from organizations.api.base import OrganizationScopedViewSet
from organizations.models import Role
from voiceagents.api.schema import error_response
from voiceagents.exceptions import ValidationFailed

__all__ = ["ScheduleFilterSet", "ScheduleViewSet"]


class ScheduleFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ScheduleStatus.choices)
    agent = django_filters.NumberFilter(field_name="agent_id")
    batch_id = django_filters.NumberFilter()
    recurring = django_filters.BooleanFilter(
        method="filter_recurring", help_text="true: cron schedules; false: one-time ones."
    )
    due_before = django_filters.IsoDateTimeFilter(field_name="next_run_at", lookup_expr="lt")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = ScheduledCall
        fields = [
            "status",
            "agent",
            "batch_id",
            "recurring",
            "due_before",
            "created_after",
            "created_before",
        ]

    def filter_recurring(
        self, queryset: QuerySet[ScheduledCall], name: str, value: bool | None
    ) -> QuerySet[ScheduledCall]:
        if value is None:
            return queryset
        one_time = Q(cron_expression="")
        return queryset.exclude(one_time) if value else queryset.filter(one_time)


class _RunFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=ScheduledRun._meta.get_field("status").choices
    )

    class Meta:
        model = ScheduledRun
        fields = ["status"]


_STATUS_CONFLICT = error_response(
    "`schedule_status_conflict`: the schedule's status does not allow this (resuming an active "
    "schedule, changing a canceled one)."
)
_TIMES = (
    "A naive `scheduled_time` is read in the schedule's `timezone` (the organization's by "
    "default); an explicit UTC offset wins; a time in the past is a 400 "
    "`schedule_time_in_past`. A `cron_expression` has five fields and runs on the zone's wall "
    "clock: across a DST change a run in the skipped hour fires once at the first valid time "
    "after it, one in the repeated hour fires once. An invalid expression is a 400 "
    "`invalid_cron_expression` naming the field and the problem; an unknown zone a 400 "
    "`unknown_timezone`."
)


def _schedule(schedule: ScheduledCall) -> dict[str, Any]:
    return dict(ScheduleSerializer(selectors.schedule_get(schedule_id=schedule.pk)).data)


@extend_schema_view(
    list=extend_schema(
        summary="List schedules",
        description="The organization's schedules, newest first, each with its next run "
        "(UTC), its times in plain language and its last run. Filter by `status`, `agent`, "
        "`batch_id`, `recurring`, `due_before`, `created_after` / `created_before`.",
    )
)
class ScheduleViewSet(mixins.ListModelMixin, OrganizationScopedViewSet):
    """Viewers read schedules, their runs and next run times (and preview expressions);
    members create, change, pause, resume, cancel and run them."""

    serializer_class = ScheduleSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    write_role = Role.MEMBER
    action_roles = {
        "pause": Role.MEMBER,
        "resume": Role.MEMBER,
        "run_now": Role.MEMBER,
        "preview": Role.VIEWER,
    }

    @property
    def filterset_class(self) -> type[django_filters.FilterSet] | None:
        action_name = getattr(self, "action", None)
        if action_name == "runs":
            return _RunFilterSet
        if action_name in ("list", None):
            return ScheduleFilterSet
        return None

    @property
    def ordering_fields(self) -> list[str]:
        if getattr(self, "action", None) == "runs":
            return ["due_at"]
        return ["created_at", "next_run_at", "name", "status"]

    def get_queryset(self):
        if getattr(self, "action", None) == "runs":
            return ScheduledRun.objects.none()
        return selectors.schedule_list()

    @extend_schema(
        summary="Get a schedule",
        description="Its target (a number with an agent, or a batch), its times and their "
        "plain-language reading, its retry and missed-run policies, its status, next run "
        "(UTC), run count and last run.",
        responses=ScheduleSerializer,
    )
    def retrieve(self, request, pk=None):
        return Response(ScheduleSerializer(selectors.schedule_get(schedule_id=pk)).data)

    @extend_schema(
        summary="Create a schedule",
        description="Members. A call (`agent_id` and `phone_number`, E.164) or a batch "
        "(`batch_id`: a one-time schedule starts the draft batch; a recurring one runs a copy "
        "of its list each time, with the batch's window, do-not-call list and retries), with "
        "`scheduled_time` (one-time, `schedule_call`) or `cron_expression` (recurring, "
        "`schedule_recurring`). " + _TIMES + " Calls dial from `from_number` (by default the "
        "organization's caller id, else the agent's number); retries per `retry_outcomes`, "
        "`max_attempts`, `retry_delay_seconds`; runs missed while the platform was down follow "
        "`missed_policy` (default: run once now if missed by less than "
        "`missed_grace_seconds`, else skip to the next).",
        request=ScheduleCreateSerializer,
        responses={201: ScheduleSerializer},
    )
    def create(self, request):
        data = dict(_valid(ScheduleCreateSerializer, request.data).validated_data)
        service = (
            services.schedule_recurring if "cron_expression" in data else services.schedule_call
        )
        schedule = service(data=data, created_by=request_user(request))
        return Response(_schedule(schedule), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a schedule",
        description="Members, while it is active or paused (409 otherwise). Its settings, "
        "number, time or cron expression (a one-time schedule stays one-time) and time zone; "
        "the next run is computed again from now when a time field changes. " + _TIMES,
        request=ScheduleUpdateSerializer,
        responses={200: ScheduleSerializer, 409: _STATUS_CONFLICT},
    )
    def partial_update(self, request, pk=None):
        schedule = selectors.schedule_get(schedule_id=pk)
        data = _valid(ScheduleUpdateSerializer, request.data).validated_data
        services.schedule_update(schedule=schedule, data=data)
        return Response(_schedule(schedule))

    @extend_schema(
        summary="Cancel a schedule",
        description="Members. Cancels it for good: nothing runs again, runs waiting for a "
        "retry are canceled, calls in flight finish. The schedule and its runs stay readable "
        "(status `canceled`), as the calls they made refer to them. 409 when already canceled.",
        responses={204: None, 409: _STATUS_CONFLICT},
    )
    def destroy(self, request, pk=None):
        services.schedule_cancel(schedule=selectors.schedule_get(schedule_id=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=None,
        responses={200: ScheduleSerializer, 409: _STATUS_CONFLICT},
        summary="Pause a schedule",
        description="Members. No run fires while paused, retries included; calls in flight finish.",
    )
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        schedule = services.schedule_pause(schedule=selectors.schedule_get(schedule_id=pk))
        return Response(_schedule(schedule))

    @extend_schema(
        request=None,
        responses={200: ScheduleSerializer, 409: _STATUS_CONFLICT},
        summary="Resume a paused schedule",
        description="Members. A recurring schedule goes on from its next time after now (the "
        "times it was paused through do not run); a one-time schedule whose time passed is a "
        "missed run, handled by its missed-run policy.",
    )
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        schedule = services.schedule_resume(schedule=selectors.schedule_get(schedule_id=pk))
        return Response(_schedule(schedule))

    @extend_schema(
        request=None,
        responses={201: ScheduledRunSerializer, 409: _STATUS_CONFLICT},
        summary="Run a schedule now",
        description="Members. One run at once (its call, or a copy of its batch's list), "
        "outside its times: the next run and the count towards `max_runs` stay as they are. "
        "Not for a canceled schedule, nor a one-time batch schedule (start the batch).",
    )
    @action(detail=True, methods=["post"], url_path="run-now")
    def run_now(self, request, pk=None):
        run = services.schedule_run_now(schedule=selectors.schedule_get(schedule_id=pk))
        return Response(ScheduledRunSerializer(run).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="List a schedule's runs",
        description="Newest occurrence first (paginated): when each was due and fired, why "
        "(`trigger`: `schedule`, `missed`, `manual`), its status, outcome, attempts, the calls "
        "it made or the batch it ran, and the reason it ran late, was skipped or failed. "
        "Filter with `status` (repeatable).",
        responses=ScheduledRunSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def runs(self, request, pk=None):
        schedule = selectors.schedule_get(schedule_id=pk)
        runs = self.filter_queryset(selectors.scheduled_run_list(schedule=schedule))
        page = self.paginate_queryset(runs)
        return self.get_paginated_response(ScheduledRunSerializer(page, many=True).data)

    @extend_schema(
        summary="A schedule's next run times",
        description="The next `count` (1-50, default 5) runs from now, in UTC and in the "
        "schedule's zone, within its dates and `max_runs`; none while paused, completed or "
        "canceled.",
        parameters=[OpenApiParameter("count", int, description="How many (1-50, default 5).")],
        responses=ScheduleNextRunsSerializer,
        filters=False,
    )
    @action(detail=True, methods=["get"], url_path="next-runs")
    def next_runs(self, request: Request, pk=None):
        schedule = selectors.schedule_get(schedule_id=pk)
        runs = services.schedule_next_runs(schedule=schedule, count=_count(request))
        return Response(
            ScheduleNextRunsSerializer.shape(
                timezone=schedule.timezone,
                description=schedule_description(schedule),
                runs=runs,
            )
        )

    @extend_schema(
        summary="Preview a schedule's times",
        description="For an unsaved `cron_expression` (or `scheduled_time`) in `timezone`: "
        'the next `count` runs (UTC and local) and the plain-language reading ("At 09:00, '
        'only on Monday"), with the same checks and 400s as saving it. Saves nothing.',
        request=SchedulePreviewRequestSerializer,
        responses=ScheduleNextRunsSerializer,
        filters=False,
    )
    @action(detail=False, methods=["post"])
    def preview(self, request, pk=None):
        data = _valid(SchedulePreviewRequestSerializer, request.data).validated_data
        preview = services.schedule_preview(
            cron_expression=data.get("cron_expression"),
            scheduled_time=data.get("scheduled_time"),
            timezone_name=data.get("timezone"),
            start_date=data.get("start_date"),
            end_date=data.get("end_date"),
            count=data.get("count", 5),
        )
        return Response(
            ScheduleNextRunsSerializer.shape(
                timezone=preview.timezone, description=preview.description, runs=preview.next_runs
            )
        )


def _count(request: Request) -> int:
    raw = request.query_params.get("count", "5")
    try:
        count = int(raw)
    except ValueError:
        count = 0
    if not 1 <= count <= 50:
        message = "Give a whole number from 1 to 50."
        raise ValidationFailed(message, details={"fields": {"count": [message]}})
    return count

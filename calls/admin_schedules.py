"""Tenant admin for schedules: the list, the editor (its next five runs and the plain-language
reading of the expression shown as the operator types it, from a small preview endpoint and a
few lines of JavaScript in static/), its recent runs, and pause / resume / run-now. Writes go
through calls.services, like the API's."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.forms.models import construct_instance
from django.http import HttpRequest, JsonResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin

from agents.models import Agent
from calls import selectors, services
from calls.api.serializers.schedules import schedule_description
from calls.models import Batch, ScheduledCall, ScheduledRun
from calls.services.schedule_index import schedule_zone
from organizations.actors import request_user
from organizations.admin_mixins import RoleAdminMixin
from organizations.models import Role
from voiceagents.exceptions import ApplicationError

__all__ = ["ScheduleAdmin", "ScheduledRunAdmin"]

# Runs shown on a schedule's page (the runs list has them all).
RECENT_RUNS = 20
_PREVIEW_SCRIPT = "voiceagents/schedule_preview.js"

# Form fields -> the services' names.
_FIELDS = (
    "name",
    "phone_number",
    "scheduled_time",
    "cron_expression",
    "timezone",
    "start_date",
    "end_date",
    "max_runs",
    "missed_policy",
    "missed_grace_seconds",
    "max_attempts",
    "retry_delay_seconds",
    "variables",
)


class ScheduleForm(forms.ModelForm):
    """The editor. The services check every field (their errors are shown on the field they
    name); the form only carries the input. ``scheduled_time`` is text, read in the schedule's
    zone like the API's."""

    scheduled_time = forms.CharField(
        required=False,
        help_text="One-time: YYYY-MM-DD HH:MM, in the time zone below (or with a UTC offset).",
    )
    variables = forms.JSONField(required=False, initial=dict)

    class Meta:
        model = ScheduledCall
        fields = [
            "name",
            "agent",
            "phone_number",
            "batch",
            "cron_expression",
            "timezone",
            "start_date",
            "end_date",
            "max_runs",
            "missed_policy",
            "missed_grace_seconds",
            "max_attempts",
            "retry_delay_seconds",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "agent" in self.fields:
            agent_field = self.fields["agent"]
            assert isinstance(agent_field, forms.ModelChoiceField)
            agent_field.queryset = Agent.objects.alive()
            agent_field.required = False
        for name in ("phone_number", "cron_expression", "timezone"):
            if name in self.fields:
                self.fields[name].required = False
        instance = self.instance
        if instance.pk:
            if instance.scheduled_time is not None:
                local = instance.scheduled_time.astimezone(schedule_zone(instance))
                self.initial["scheduled_time"] = local.strftime("%Y-%m-%d %H:%M")
            self.initial["variables"] = instance.variables

    def _post_clean(self) -> None:
        # No model validation here: the services check the input (and the model's constraints,
        # once or cron, a number or a batch, hold for what they save).
        self.instance = construct_instance(
            self, self.instance, self._meta.fields, self._meta.exclude
        )


@admin.register(ScheduledCall)
class ScheduleAdmin(RoleAdminMixin, ModelAdmin):
    form = ScheduleForm
    change_role = Role.MEMBER
    list_display = [
        "__str__",
        "target",
        "times",
        "timezone",
        "status",
        "next_run_at",
        "run_count",
    ]
    list_filter = ["status"]
    search_fields = ["name", "phone_number", "cron_expression"]
    actions = ["pause_selected", "resume_selected", "run_selected_now"]
    readonly_fields = [
        "status",
        "status_reason",
        "next_run_at",
        "run_count",
        "next_runs",
        "recent_runs",
    ]

    class Media:
        js = [_PREVIEW_SCRIPT]

    def get_queryset(self, request):
        return selectors.schedule_list()

    def get_fieldsets(self, request, obj=None):
        target = ["name", "agent", "phone_number", "batch", "variables"]
        if obj is not None:
            target = ["name", "phone_number", "variables"]
        return [
            (None, {"fields": target}),
            (
                "When",
                {
                    "fields": [
                        "scheduled_time",
                        "cron_expression",
                        "timezone",
                        "start_date",
                        "end_date",
                        "max_runs",
                    ],
                    "description": "Give a one-time time or a cron expression (5 fields, such as "
                    "0 9 * * MON). The next runs and the reading below follow what you type.",
                },
            ),
            (
                "Retries and missed runs",
                {
                    "fields": [
                        "max_attempts",
                        "retry_delay_seconds",
                        "missed_policy",
                        "missed_grace_seconds",
                    ]
                },
            ),
            (
                "State",
                {
                    "fields": [
                        "status",
                        "status_reason",
                        "next_run_at",
                        "run_count",
                        "next_runs",
                        "recent_runs",
                    ]
                },
            ),
        ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        url = reverse(f"{self.admin_site.name}:calls_scheduledcall_preview")
        for name in ("cron_expression", "scheduled_time", "timezone"):
            field = form.base_fields.get(name)
            if field is not None:
                field.widget.attrs.update({"data-schedule-preview": url})
        return form

    # --- saving through the services ---------------------------------------------------------

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data.get(name) for name in _FIELDS if name in form.cleaned_data}
        for name in ("scheduled_time", "cron_expression", "phone_number", "timezone"):
            if not data.get(name):
                data.pop(name, None)
        if change:
            changed = {name: data.get(name) for name in form.changed_data if name in _FIELDS}
            services.schedule_update(schedule=obj, data=changed)
            obj.refresh_from_db()
            return
        agent, batch = form.cleaned_data.get("agent"), form.cleaned_data.get("batch")
        data["agent_id"] = agent.pk if isinstance(agent, Agent) else None
        data["batch_id"] = batch.pk if isinstance(batch, Batch) else None
        service = (
            services.schedule_recurring if data.get("cron_expression") else services.schedule_call
        )
        created = service(data=data, created_by=request_user(request))
        obj.pk = created.pk
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        pass  # no relations of its own beyond what the service saved

    def delete_model(self, request, obj):
        services.schedule_cancel(schedule=obj)

    def delete_queryset(self, request, queryset):
        for schedule in queryset:
            services.schedule_cancel(schedule=schedule)

    # --- actions -----------------------------------------------------------------------------

    def _each(self, request, queryset, service, done: str) -> None:
        count, errors = 0, []
        for schedule in queryset:
            try:
                service(schedule=schedule)
                count += 1
            except ApplicationError as exc:
                errors.append(f"{schedule}: {exc.message}")
        if count:
            self.message_user(request, f"{count} schedule(s) {done}.", messages.SUCCESS)
        for error in errors:
            self.message_user(request, error, messages.WARNING)

    @admin.action(description="Pause the selected schedules")
    def pause_selected(self, request, queryset):
        self._each(request, queryset, services.schedule_pause, "paused")

    @admin.action(description="Resume the selected schedules")
    def resume_selected(self, request, queryset):
        self._each(request, queryset, services.schedule_resume, "resumed")

    @admin.action(description="Run the selected schedules now")
    def run_selected_now(self, request, queryset):
        self._each(request, queryset, services.schedule_run_now, "run now")

    # --- the preview endpoint ----------------------------------------------------------------

    def get_urls(self):
        preview = path(
            "preview/",
            self.admin_site.admin_view(self.preview_view),
            name="calls_scheduledcall_preview",
        )
        return [preview, *super().get_urls()]

    def preview_view(self, request: HttpRequest) -> JsonResponse:
        """The next five runs and the reading of what the operator typed (GET parameters)."""
        if not self.has_view_permission(request):
            return JsonResponse({"error": "Your role does not allow this."}, status=403)
        try:
            preview = services.schedule_preview(
                cron_expression=request.GET.get("cron_expression"),
                scheduled_time=request.GET.get("scheduled_time"),
                timezone_name=request.GET.get("timezone"),
                count=5,
            )
        except ApplicationError as exc:
            return JsonResponse({"error": exc.message}, status=400)
        zone = preview.timezone
        return JsonResponse(
            {
                "description": preview.description,
                "timezone": zone,
                "next_runs": [
                    run.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M %Z")
                    for run in preview.next_runs
                ],
            }
        )

    # --- read-only parts ---------------------------------------------------------------------

    @admin.display(description="Target")
    def target(self, obj: ScheduledCall) -> str:
        return f"batch {obj.batch}" if obj.batch_id else obj.phone_number

    @admin.display(description="Times")
    def times(self, obj: ScheduledCall) -> str:
        return schedule_description(obj)

    @admin.display(description="Next five runs")
    def next_runs(self, obj: ScheduledCall) -> str:
        if obj.pk is None:
            return "-"
        zone = obj.timezone
        runs = services.schedule_next_runs(schedule=obj, count=5)
        if not runs:
            return "None (the schedule is not active)."
        return format_html(
            "<span>{}</span><ul>{}</ul>",
            schedule_description(obj),
            format_html_join(
                "",
                "<li>{}</li>",
                (
                    (run.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M %Z"),)
                    for run in runs
                ),
            ),
        )

    @admin.display(description="Recent runs")
    def recent_runs(self, obj: ScheduledCall) -> str:
        if obj.pk is None:
            return "-"
        runs = list(selectors.scheduled_run_list(schedule=obj)[:RECENT_RUNS])
        if not runs:
            return "No run yet."
        all_runs = reverse(f"{self.admin_site.name}:calls_scheduledrun_changelist")
        return format_html(
            "<table><tr><th>Due</th><th>Trigger</th><th>Status</th><th>Outcome</th>"
            "<th>Attempts</th><th>Calls</th><th>Reason</th></tr>{}</table>"
            '<p><a href="{}?schedule__id__exact={}">All runs</a></p>',
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        run.due_at.strftime("%Y-%m-%d %H:%M UTC"),
                        run.get_trigger_display(),
                        run.get_status_display(),
                        run.outcome or "-",
                        run.attempts,
                        ", ".join(str(pk) for pk in run.call_ids)
                        or (f"batch {run.batch_id}" if run.batch_id else "-"),
                        run.reason or "",
                    )
                    for run in runs
                ),
            ),
            all_runs,
            obj.pk,
        )


@admin.register(ScheduledRun)
class ScheduledRunAdmin(RoleAdminMixin, ModelAdmin):
    """The runs history, read-only."""

    list_display = [
        "schedule",
        "due_at",
        "fired_at",
        "trigger",
        "status",
        "outcome",
        "attempts",
        "reason",
    ]
    list_filter = ["status", "trigger", "schedule"]
    list_select_related = ["schedule"]

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

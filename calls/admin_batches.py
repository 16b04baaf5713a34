"""Tenant admin for batches: the list with counters and a progress bar, a batch's page (its
settings, counters and live progress, its timeline, its rows, its report), an import from CSV
or XLSX with a preview step (django-import-export), and the do-not-call list. Writes go
through calls.services.

Live progress: the bars on both pages are refreshed by static/calls/batch_progress.js, which
polls ``<id>/progress/`` (JSON, read-only, for anyone who may view the batch) until the batch
is completed or canceled. Polling rather than the Channels group: it needs no WebSocket
authentication of its own in the admin, and a page shows a few batches at most.

The import runs ``batch_create`` twice: for the preview inside a transaction that is rolled
back (the first rows with their status and reason, the totals), then for real on confirm.
django-import-export reads the whole upload into memory; the API and the ``import_batch``
command stream, for very large files.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
from typing import Any

import tablib
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    JsonResponse,
)
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET
from import_export import resources
from import_export.admin import ImportMixin
from import_export.formats import base_formats
from import_export.forms import ConfirmImportForm
from import_export.results import Error, Result, RowResult
from unfold.admin import ModelAdmin
from unfold.contrib.import_export.forms import ImportForm
from unfold.widgets import (
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from agents.models import Agent
from calls import selectors, services
from calls.batch_sources import CsvRows, SourceRow
from calls.exceptions import BatchNotFound
from calls.models import Batch, BatchRow, BatchRowStatus, DoNotCallEntry, PhoneNumber
from calls.streaming import csv_download
from organizations.actors import request_user
from organizations.admin_mixins import RoleAdminMixin
from organizations.models import Role
from voiceagents.exceptions import ApplicationError

__all__ = ["BatchAdmin", "BatchRowAdmin", "DoNotCallEntryAdmin", "batch_progress_data"]

# Rows shown in the preview (all are counted in its totals).
PREVIEW_ROWS = 200
_PREVIEW_COLUMNS = 8
# Timeline entries per page of a batch's page.
EVENTS_PER_PAGE = 20
# How often a page asks for a batch's progress: often while it runs, rarely while it waits
# for someone (a draft, paused), never once it is final.
POLL_RUNNING_MS = 2000
POLL_WAITING_MS = 10000


# --- formats: CSV through our reader (encodings, line numbers), XLSX through tablib ----------


class _SourceDataset(tablib.Dataset):
    """A dataset that keeps the rows as our CSV reader read them (line numbers, broken
    lines)."""

    def __init__(self, columns: list[str], rows: list[SourceRow]) -> None:
        super().__init__(headers=columns)
        self.source_rows = rows

    def __len__(self) -> int:
        return len(self.source_rows)


class BatchCSV(base_formats.CSV):
    """CSV read by calls.batch_sources: encoding detection, delimiter sniffing, rows numbered
    by their physical line, a broken line reported rather than failing the file."""

    def is_binary(self) -> bool:
        return True

    def get_read_mode(self) -> str:
        return "rb"

    def create_dataset(self, in_stream: Any) -> tablib.Dataset:
        data = in_stream if isinstance(in_stream, bytes) else str(in_stream).encode()
        rows = CsvRows(io.BytesIO(data))
        return _SourceDataset(rows.columns, list(rows))


def _cell(value: Any) -> Any:
    """A spreadsheet cell as JSON can store it."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def _source(dataset: tablib.Dataset, *, file_name: str) -> services.RowsSource:
    if isinstance(dataset, _SourceDataset):
        sources = dataset.source_rows
        return services.RowsSource(
            rows=[dict(row.values) if row.values is not None else row.error for row in sources],
            columns=list(dataset.headers or []),
            line_numbers=[row.line_number for row in sources],
            name=file_name,
            origin="admin",
        )
    columns = [str(header) for header in dataset.headers or []]
    rows = [
        {column: _cell(value) for column, value in zip(columns, row, strict=False)}
        for row in dataset
    ]
    # Spreadsheet rows: the header is row 1.
    return services.RowsSource(
        rows=rows,
        columns=columns,
        line_numbers=range(2, len(rows) + 2),
        name=file_name,
        origin="admin",
    )


# --- the import forms ---------------------------------------------------------------------------


def _mapping_field() -> forms.CharField:
    return forms.CharField(
        required=False,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        help_text='Optional, JSON: {"phone": "Phone", "timezone": "TZ", "customer_name": '
        '"Name"}. Without it the phone column is guessed (phone, number, mobile…) and every '
        "other column becomes a prompt variable.",
    )


def _clean_mapping(value: str) -> dict[str, Any] | None:
    if not value.strip():
        return None
    try:
        mapping = json.loads(value)
    except ValueError:
        raise forms.ValidationError('Give JSON, e.g. {"phone": "Phone"}.') from None
    if not isinstance(mapping, dict):
        raise forms.ValidationError("Give a JSON object.")
    return mapping


class BatchImportForm(ImportForm):
    name = forms.CharField(
        max_length=200,
        required=False,
        help_text="Default: the file's name.",
        widget=UnfoldAdminTextInputWidget,
    )
    agent = forms.ModelChoiceField(queryset=Agent.objects.none(), widget=UnfoldAdminSelectWidget)
    from_number = forms.ModelChoiceField(
        queryset=PhoneNumber.objects.none(),
        required=False,
        widget=UnfoldAdminSelectWidget,
        help_text="Default: the organization's default caller id, else the agent's number.",
    )
    column_mapping = _mapping_field()

    field_order = ["resource", "import_file", "format", "name", "agent", "from_number"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        agent_field = self.fields["agent"]
        number_field = self.fields["from_number"]
        assert isinstance(agent_field, forms.ModelChoiceField)
        assert isinstance(number_field, forms.ModelChoiceField)
        agent_field.queryset = Agent.objects.alive()
        number_field.queryset = PhoneNumber.objects.filter(voice_enabled=True)

    def clean_column_mapping(self) -> dict[str, Any] | None:
        return _clean_mapping(self.cleaned_data.get("column_mapping") or "")

    def clean_import_file(self) -> Any:
        upload = self.cleaned_data["import_file"]
        if upload.size > settings.BATCH_MAX_FILE_BYTES:
            raise forms.ValidationError(
                f"The file is larger than {settings.BATCH_MAX_FILE_BYTES:,} bytes."
            )
        return upload


class BatchConfirmImportForm(ConfirmImportForm):
    name = forms.CharField(required=False, widget=forms.HiddenInput())
    agent = forms.IntegerField(widget=forms.HiddenInput())
    from_number = forms.IntegerField(required=False, widget=forms.HiddenInput())
    column_mapping = forms.CharField(required=False, widget=forms.HiddenInput())

    def clean_column_mapping(self) -> dict[str, Any] | None:
        return _clean_mapping(self.cleaned_data.get("column_mapping") or "")


# --- the resource: import-export's preview and confirm, our service ----------------------------


class _Message(Error):
    """An error the page shows as a message, without a traceback."""

    traceback = ""


class _Column:
    def __init__(self, column_name: str) -> None:
        self.column_name = column_name


class BatchImportResource(resources.Resource):
    """Imports a whole file as one batch through ``services.batch_create``."""

    def __init__(
        self, *, options: dict[str, Any] | None = None, request: HttpRequest | None = None
    ) -> None:
        super().__init__()
        self.options = options or {}
        self.request = request

    @classmethod
    def get_display_name(cls) -> str:
        return "Batch"

    def get_user_visible_fields(self) -> list[_Column]:
        return [
            _Column("a phone column"),
            _Column("a time-zone column (optional)"),
            _Column("any other column: a prompt variable"),
        ]

    def import_data(self, dataset: tablib.Dataset, dry_run: bool = False, **kwargs: Any) -> Result:
        result = Result()
        options = self.options
        file_name = str(kwargs.get("file_name") or "")
        columns = [str(header) for header in dataset.headers or []]
        shown = columns[:_PREVIEW_COLUMNS]
        result.diff_headers = ["Line", "Status", "Phone (E.164)", "Reason", *shown]
        user = request_user(self.request) if self.request is not None else None
        try:
            with transaction.atomic():
                batch = services.batch_create(
                    agent_id=options.get("agent") or 0,
                    source=_source(dataset, file_name=file_name),
                    name=options.get("name") or "",
                    column_mapping=options.get("column_mapping"),
                    from_number=options.get("from_number") or None,
                    created_by=user,
                )
                preview = list(selectors.batch_row_list(batch=batch)[:PREVIEW_ROWS])
                if dry_run:
                    transaction.set_rollback(True)
        except ApplicationError as exc:
            result.append_base_error(_Message(exc.message))
            return result
        for row in preview:
            row_result = RowResult()
            row_result.import_type = (
                RowResult.IMPORT_TYPE_NEW
                if row.status == BatchRowStatus.QUEUED
                else RowResult.IMPORT_TYPE_SKIP
            )
            raw = row.raw if isinstance(row.raw, dict) else {}
            row_result.diff = [
                row.line_number,
                row.status,
                row.phone_number,
                row.error,
                *(raw.get(column, "") for column in shown),
            ]
            result.append_row_result(row_result)
        result.totals[RowResult.IMPORT_TYPE_NEW] = batch.queued_count
        result.totals[RowResult.IMPORT_TYPE_SKIP] = batch.invalid_count + batch.skipped_count
        result.total_rows = batch.total_count
        result.batch = batch if not dry_run else None
        return result


# --- live progress ------------------------------------------------------------------------------


def _eta_text(seconds: int | None) -> str:
    if seconds is None:
        return "no estimate yet"
    if seconds == 0:
        return "finishing"
    return f"about {dt.timedelta(seconds=seconds)} to go"


def batch_progress_data(batch: Batch, *, with_rate: bool = True) -> dict[str, Any]:
    """What the progress bar shows, as the page renders it and its endpoint sends it: the
    percent, whether the batch is final, and each figure already written out (``fields``, by
    the name of the element that shows it), so the script only copies text. Without the rate
    (the list's bars) it costs no query."""
    progress = selectors.batch_progress_get(batch=batch, with_rate=with_rate)
    final = batch.status in selectors.FINAL_BATCH_STATUSES
    counts = {
        "queued": batch.queued_count,
        "in_progress": batch.in_progress_count,
        "completed": batch.completed_count,
        "failed": batch.failed_count,
        "invalid": batch.invalid_count,
        "skipped": batch.skipped_count,
        "canceled": batch.canceled_count,
    }
    return {
        "id": batch.pk,
        "status": batch.status,
        "final": final,
        "percent": progress.percent,
        "poll_ms": None
        if final
        else POLL_RUNNING_MS
        if batch.status == "running"
        else POLL_WAITING_MS,
        "counts": counts,
        "total": progress.total,
        "finished": progress.finished,
        "rate_per_minute": progress.rate_per_minute,
        "eta_seconds": progress.eta_seconds,
        "fields": {
            "status": batch.get_status_display(),
            "status_reason": batch.status_reason,
            "summary": f"{progress.percent}% done: {progress.finished:,} of {progress.total:,} "
            "rows",
            "rate": f"{progress.rate_per_minute:g} calls ended a minute",
            "eta": "" if final else _eta_text(progress.eta_seconds),
            **{name: f"{value:,}" for name, value in counts.items()},
        },
    }


def _live(batch: Batch, name: str, text: str) -> SafeString:
    """A figure of the list that the progress script keeps current (``fields[name]``)."""
    return format_html(
        '<span data-progress-of="{}" data-field="{}">{}</span>', batch.pk, name, text
    )


def _live_counter(name: str, field: str, label: str) -> Any:
    @admin.display(description=label, ordering=field)
    def column(admin_: admin.ModelAdmin, obj: Batch) -> SafeString:
        return _live(obj, name, f"{getattr(obj, field):,}")

    return column


def _progress_html(batch: Batch, *, compact: bool) -> SafeString:
    # A final batch dials no more: its rate, a count over its rows, would only say 0.
    final = batch.status in selectors.FINAL_BATCH_STATUSES
    data = batch_progress_data(batch, with_rate=not compact and not final)
    return render_to_string(
        "admin/calls/batch/progress.html",
        {
            "progress": data,
            "url": reverse("admin:calls_batch_progress", args=[batch.pk]),
            "compact": compact,
        },
    )


# --- admins -------------------------------------------------------------------------------------


@admin.register(Batch)
class BatchAdmin(ImportMixin, RoleAdminMixin, ModelAdmin):
    """Batches are made by importing a file; members import, run and delete them."""

    change_role = Role.MEMBER
    change_form_template = "admin/calls/batch/change_form.html"
    resource_classes = [BatchImportResource]
    import_form_class = BatchImportForm
    confirm_form_class = BatchConfirmImportForm
    import_formats = [BatchCSV, base_formats.XLSX]
    skip_admin_log = True
    list_display = [
        "name",
        "live_status",
        "agent",
        "progress_bar",
        "total_count",
        "live_queued",
        "live_completed",
        "live_failed",
        "live_invalid",
        "live_skipped",
        "created_at",
    ]
    list_filter = ["status", "source"]
    search_fields = ["name", "source_name"]
    readonly_fields = (
        "name",
        "agent",
        "status",
        "status_reason",
        "from_number",
        "progress",
        "report",
        "max_concurrency",
        "calls_per_second",
        "window_days",
        "window_start",
        "window_end",
        "retry_outcomes",
        "max_attempts",
        "retry_delay_seconds",
        "breaker_window",
        "breaker_threshold",
        "column_mapping",
        "source",
        "source_name",
        "columns",
        "total_count",
        "queued_count",
        "in_progress_count",
        "completed_count",
        "failed_count",
        "invalid_count",
        "skipped_count",
        "canceled_count",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
    )
    fields = readonly_fields

    class Media:
        js = ("calls/batch_progress.js",)
        css = {"all": ("calls/batch_progress.css",)}

    def get_queryset(self, request):
        return selectors.batch_list()

    def has_add_permission(self, request, *args) -> bool:
        return False  # a batch is made by importing its rows

    def has_import_permission(self, request) -> bool:
        return self._role_at_least(request, Role.MEMBER)

    def get_import_resource_kwargs(self, request, **kwargs):
        form = kwargs.get("form")
        data = form.cleaned_data if form is not None and hasattr(form, "cleaned_data") else {}
        agent = data.get("agent")
        number = data.get("from_number")
        return {
            "options": {
                "name": data.get("name") or "",
                "agent": agent.pk if isinstance(agent, Agent) else agent,
                "from_number": number.number
                if isinstance(number, PhoneNumber)
                else _number_of(number),
                "column_mapping": data.get("column_mapping"),
            },
            "request": request,
        }

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            data = import_form.cleaned_data
            initial.update(
                name=data.get("name") or "",
                agent=data["agent"].pk,
                from_number=data["from_number"].pk if data.get("from_number") else None,
                column_mapping=json.dumps(data["column_mapping"])
                if data.get("column_mapping")
                else "",
            )
        return initial

    def process_result(self, result, request):
        batch = getattr(result, "batch", None)
        if result.has_errors() or batch is None:
            for error in result.base_errors:
                messages.error(request, str(error.error))
            return HttpResponseRedirect(reverse("admin:calls_batch_changelist"))
        messages.success(
            request,
            f"Batch “{batch.name}” created as a draft: {batch.queued_count} to call, "
            f"{batch.invalid_count} invalid, {batch.skipped_count} skipped.",
        )
        return HttpResponseRedirect(reverse("admin:calls_batch_change", args=[batch.pk]))

    def get_urls(self):
        urls = super().get_urls()
        view = self.admin_site.admin_view
        return [
            path("<int:batch_id>/report/", view(self.report_view), name="calls_batch_report"),
            path(
                "<int:batch_id>/progress/",
                view(require_GET(self.progress_view)),
                name="calls_batch_progress",
            ),
            *urls,
        ]

    def progress_view(self, request: HttpRequest, batch_id: int) -> HttpResponseBase:
        """The batch's progress as JSON, for the bars' script: read-only, for anyone who may
        view batches, of the organization whose domain this is (another's id is a 404)."""
        if not self.has_view_permission(request):
            return JsonResponse({"error": "forbidden"}, status=403)
        try:
            batch = selectors.batch_get(batch_id=batch_id)
        except BatchNotFound:
            return JsonResponse({"error": "not_found"}, status=404)
        response = JsonResponse(batch_progress_data(batch))
        response["Cache-Control"] = "no-store"
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The batch's page, with a page of its timeline (newest first)."""
        try:
            batch = selectors.batch_get(batch_id=object_id)
        except BatchNotFound:
            batch = None  # the admin's own "does not exist" answer follows
        if batch is not None and self.has_view_permission(request):
            paginator = Paginator(selectors.batch_event_list(batch=batch), EVENTS_PER_PAGE)
            events = paginator.get_page(request.GET.get("events_page"))
            extra_context = {**(extra_context or {}), "batch_events": events}
        return super().change_view(request, object_id, form_url, extra_context)

    def report_view(self, request: HttpRequest, batch_id: int) -> HttpResponseBase:
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        batch = selectors.batch_get(batch_id=batch_id)
        return csv_download(
            request,
            selectors.batch_report_csv(batch=batch),
            filename=f"batch-{batch.pk}-report.csv",
        )

    @admin.display(description="Progress")
    def progress(self, obj: Batch) -> SafeString:
        # The theme reads a read-only field's contents up to three times a render, and the
        # rate is a count over the batch's rows: drawn once per page.
        drawn = obj.__dict__
        if "_progress_html" not in drawn:
            drawn["_progress_html"] = _progress_html(obj, compact=False)
        return drawn["_progress_html"]

    @admin.display(description="Progress")
    def progress_bar(self, obj: Batch) -> SafeString:
        return _progress_html(obj, compact=True)

    @admin.display(description="Status", ordering="status")
    def live_status(self, obj: Batch) -> SafeString:
        return _live(obj, "status", obj.get_status_display())

    # The list's counters, kept current with the bar.
    live_queued = _live_counter("queued", "queued_count", "Queued")
    live_completed = _live_counter("completed", "completed_count", "Completed")
    live_failed = _live_counter("failed", "failed_count", "Failed")
    live_invalid = _live_counter("invalid", "invalid_count", "Invalid")
    live_skipped = _live_counter("skipped", "skipped_count", "Skipped")

    @admin.display(description="Report")
    def report(self, obj: Batch) -> str:
        rows = reverse("admin:calls_batchrow_changelist") + f"?batch__id__exact={obj.pk}"
        return format_html(
            '<a href="{}">Download the report (CSV)</a> · <a href="{}">Rows</a>',
            reverse("admin:calls_batch_report", args=[obj.pk]),
            rows,
        )

    def delete_model(self, request, obj):
        services.batch_delete(batch=obj)

    def delete_queryset(self, request, queryset):
        for batch in queryset:
            services.batch_delete(batch=batch)


def _number_of(phone_number_id: Any) -> str | None:
    if not phone_number_id:
        return None
    number = PhoneNumber.objects.filter(pk=phone_number_id).values_list("number", flat=True).first()
    return number or str(phone_number_id)


@admin.register(BatchRow)
class BatchRowAdmin(RoleAdminMixin, ModelAdmin):
    list_display = [
        "line_number",
        "batch",
        "status",
        "phone_number",
        "outcome",
        "attempts",
        "error",
    ]
    list_filter = ["status", "outcome", "batch"]
    search_fields = ["phone_number"]
    list_select_related = ["batch"]
    # By the batch's id, not "batch" (which sorts by the batch's own ordering, a join and a
    # sort of all its rows before the first page): newest batch first, in input order, read
    # straight from the (batch, line_number) index.
    ordering = ["-batch_id", "line_number"]
    # Counting all rows again for "(N total)" costs a second count over 100,000 rows.
    show_full_result_count = False
    # The theme's list costs ~0.7 ms of CPU a row (each cell builds every column's header).
    list_per_page = 50
    readonly_fields = (
        "batch",
        "line_number",
        "status",
        "phone_number",
        "timezone",
        "variables",
        "raw",
        "attempts",
        "next_attempt_at",
        "outcome",
        "last_call",
        "error",
    )
    fields = readonly_fields

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class DoNotCallEntryForm(forms.ModelForm):
    class Meta:
        model = DoNotCallEntry
        fields = ["number", "reason"]

    def clean_number(self) -> str:
        if self.instance.pk:
            return self.instance.number
        try:
            number = services.dnc_number_clean(self.cleaned_data.get("number"))
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message) from None
        if DoNotCallEntry.objects.filter(number=number).exists():
            raise forms.ValidationError(f"{number} is on the list already.")
        return number


@admin.register(DoNotCallEntry)
class DoNotCallEntryAdmin(RoleAdminMixin, ModelAdmin):
    """Members add numbers; removing one (it may be called again) is for admins."""

    change_role = Role.MEMBER
    form = DoNotCallEntryForm
    list_display = ["number", "reason", "source", "created_by", "created_at"]
    list_filter = ["source"]
    search_fields = ["number", "reason"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._role_at_least(request, Role.ADMIN)

    def get_readonly_fields(self, request, obj=None):
        return ["number"] if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            services.dnc_entry_update(entry=obj, data={"reason": obj.reason})
            return
        created = services.dnc_entry_create(
            number=obj.number, reason=obj.reason, source="admin", created_by=request_user(request)
        )
        obj.pk, obj.number, obj.created_at = created.pk, created.number, created.created_at

    def delete_model(self, request, obj):
        services.dnc_entry_delete(entry=obj)

"""Batches: create one from a file, inline rows or a file_url; read its progress, rows,
timeline and report; change its settings while draft or paused; delete it. The control actions (start,
pause, resume, cancel, retry-failed) are actions on the same viewset."""

from __future__ import annotations

import json
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, renderers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from calls import selectors, services
from calls.api.parsers import body_limited_parsers
from calls.api.serializers import (
    BatchCreateSerializer,
    BatchDetailSerializer,
    BatchEventSerializer,
    BatchRowSerializer,
    BatchSerializer,
    BatchUpdateSerializer,
)
from calls.api.serializers.batch_control import BatchControlSerializer
from calls.api.views._common import _valid
from calls.filtersets import BatchEventFilterSet, BatchFilterSet, BatchRowFilterSet
from calls.models import Batch, BatchEvent, BatchRow
from calls.streaming import csv_download
from organizations.actors import request_user
from organizations.api.base import OrganizationScopedViewSet
from organizations.models import Role
from voiceagents.api.schema import error_response

__all__ = ["BatchViewSet"]


class _CSVRenderer(renderers.BaseRenderer):
    """Lets ``Accept: text/csv`` reach the report; an error there is still the JSON shape."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        return json.dumps(data).encode() if data is not None else b""


def _detail(batch: Batch) -> dict[str, Any]:
    progress = selectors.batch_progress_get(batch=batch)
    return dict(BatchDetailSerializer(batch, context={"progress": progress}).data)


def _source(data: dict[str, Any]) -> services.BatchSource:
    if data.get("file") is not None:
        upload = data["file"]
        return services.UploadSource(
            file=upload.file if hasattr(upload, "file") else upload,
            name=upload.name or "",
            content_type=getattr(upload, "content_type", "") or "",
        )
    if data.get("file_url") is not None:
        return services.UrlSource(url=data["file_url"].strip())
    return services.RowsSource(rows=data["rows"], name="inline rows")


_NOT_EDITABLE = error_response(
    "`batch_not_editable`: settings change only while the batch is a draft or paused."
)
_NOT_DELETABLE = error_response(
    "`batch_not_deletable`: the batch is running or paused, or has calls in flight: cancel it "
    "first."
)
_STATUS_CONFLICT = error_response(
    "`batch_status_conflict`: the batch's status does not allow this (e.g. resuming a batch "
    "that is not paused)."
)
_TOO_LARGE = error_response(
    "`batch_source_too_large`: the input is over the server's limit (`details.max_bytes`)."
)


@extend_schema_view(
    list=extend_schema(
        summary="List batches",
        description="The organization's batches, newest first, each with its row counters.",
    )
)
class BatchViewSet(mixins.ListModelMixin, OrganizationScopedViewSet):
    """Viewers read batches, their rows and reports; members create, change, delete and run
    them. A running or paused batch is not deleted (409): cancel it first."""

    serializer_class = BatchSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    write_role = Role.MEMBER
    action_roles = {
        "start": Role.MEMBER,
        "pause": Role.MEMBER,
        "resume": Role.MEMBER,
        "cancel": Role.MEMBER,
        "retry_failed": Role.MEMBER,
    }
    parser_classes = body_limited_parsers()

    @property
    def filterset_class(
        self,
    ) -> type[BatchFilterSet] | type[BatchRowFilterSet] | type[BatchEventFilterSet]:
        action_ = getattr(self, "action", None)
        if action_ == "rows":
            return BatchRowFilterSet
        if action_ == "events":
            return BatchEventFilterSet
        return BatchFilterSet

    @property
    def ordering_fields(self) -> list[str]:
        action_ = getattr(self, "action", None)
        if action_ == "rows":
            return ["line_number"]
        if action_ == "events":
            return ["created_at"]
        return ["created_at", "name", "status"]

    def get_queryset(self):
        action_ = getattr(self, "action", None)
        # What the rows and events actions list (and their filters describe): rows or
        # events, of one batch there.
        if action_ == "rows":
            return BatchRow.objects.none()
        if action_ == "events":
            return BatchEvent.objects.none()
        return selectors.batch_list()

    def get_renderers(self):
        renderers_ = super().get_renderers()
        if getattr(self, "action", None) == "report":
            renderers_.append(_CSVRenderer())
        return renderers_

    @extend_schema(
        summary="Get a batch and its progress",
        description="Its settings, exact row counters and `progress`: percent done "
        "(finished rows: completed, failed, invalid, skipped, canceled), the rate of calls "
        "ending per minute over the last five minutes, and the estimated end while it runs.",
        responses=BatchDetailSerializer,
    )
    def retrieve(self, request, pk=None):
        """The batch with its counters, percent done, current rate and estimated end."""
        return Response(_detail(selectors.batch_get(batch_id=pk)))

    @extend_schema(
        request={
            "multipart/form-data": BatchCreateSerializer,
            "application/json": BatchCreateSerializer,
        },
        responses={201: BatchDetailSerializer, 413: _TOO_LARGE},
        summary="Create a batch",
        description="Members. Give exactly one input: a CSV or JSON `file` (multipart), "
        "inline `rows`, or a `file_url` (`https://`, never to private addresses, or "
        "`s3://bucket/<organization slug>/...`). Every row is checked and kept with its line "
        "number: `queued`, `invalid` or `skipped` with the reason. `column_mapping` names the "
        "phone, time-zone and variable columns (guessed without it). The batch is a draft "
        "unless `start` is true. A bad setting is a 400 naming the field.",
    )
    def create(self, request):
        """Create a batch from a CSV or JSON ``file`` (multipart), inline ``rows`` or a
        ``file_url`` (https:// or s3://), with its settings; ``start: true`` starts it."""
        data = dict(_valid(BatchCreateSerializer, request.data).validated_data)
        batch = services.batch_create(
            agent_id=data.pop("agent_id"),
            source=_source(data),
            name=data.pop("name", ""),
            column_mapping=data.pop("column_mapping", None),
            from_number=data.pop("from_number", None) or None,
            settings_data={k: v for k, v in data.items() if k in services.BATCH_SETTINGS_FIELDS},
            start=data.get("start", False),
            created_by=request_user(request),
        )
        batch = selectors.batch_get(batch_id=batch.pk)
        return Response(_detail(batch), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a batch's settings",
        description="Members. The name, caller id and dialing settings, while the batch is a "
        "draft or paused (409 otherwise). The agent and the rows are fixed at creation.",
        request=BatchUpdateSerializer,
        responses={200: BatchDetailSerializer, 409: _NOT_EDITABLE},
    )
    def partial_update(self, request, pk=None):
        """Change the name, caller id or dialing settings while the batch is a draft or
        paused (409 otherwise)."""
        batch = selectors.batch_get(batch_id=pk)
        data = _valid(BatchUpdateSerializer, request.data).validated_data
        services.batch_update(batch=batch, data=data)
        return Response(_detail(selectors.batch_get(batch_id=pk)))

    @extend_schema(
        summary="Delete a batch",
        description="Members. Deletes the batch and its rows; its calls stay. A running or "
        "paused batch, or one with calls in flight, is refused (409): cancel it first.",
        responses={204: None, 409: _NOT_DELETABLE},
    )
    def destroy(self, request, pk=None):
        """Delete a batch that is not running or paused (409: cancel it first) with its rows;
        its calls stay."""
        services.batch_delete(batch=selectors.batch_get(batch_id=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="List a batch's rows",
        description="In input order, each with its line number, status, phone number, "
        "variables, the columns as read, attempts, outcome and, for invalid or skipped rows, "
        "the reason (`error`). Filter with `status` (repeatable).",
        responses=BatchRowSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def rows(self, request, pk=None):
        """The batch's rows in input order (paginated); filter by ``status`` (repeatable)."""
        batch = selectors.batch_get(batch_id=pk)
        rows = self.filter_queryset(selectors.batch_row_list(batch=batch))
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(BatchRowSerializer(page, many=True).data)

    @extend_schema(
        summary="List a batch's timeline",
        description="Its events, newest first (paginated): control actions with who did them "
        "(`started`, `paused`, `resumed`, `canceled`, `failed_rows_retried`), status changes "
        "the dispatcher made (`breaker_tripped`, `completed`) and errors "
        "(`paused_on_error`). Filter with `kind` (repeatable): `action`, `status`, `info`, "
        "`error`.",
        responses=BatchEventSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def events(self, request, pk=None):
        """The batch's timeline, newest first (paginated); filter by ``kind`` (repeatable)."""
        batch = selectors.batch_get(batch_id=pk)
        events = self.filter_queryset(selectors.batch_event_list(batch=batch))
        page = self.paginate_queryset(events)
        return self.get_paginated_response(BatchEventSerializer(page, many=True).data)

    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="One line per input row, in input order: line_number, the input's "
                "columns, status, outcome, attempts, call_ids, duration_seconds, end_reason, "
                "phone_number, error, then the last call's analysis: analysis_summary, "
                "analysis_sentiment, analysis_goal_reached and analysis_<field> per field of "
                "the agent's analysis schema.",
            )
        },
        filters=False,
        operation_id="batches_report_retrieve",
        summary="Download a batch's report",
        description="A CSV, streamed: one line per input row in input order, with the "
        "input's own columns and what became of the row.",
    )
    def report(self, request: Request, pk=None):
        """The batch's report as CSV (streamed)."""
        batch = selectors.batch_get(batch_id=pk)
        return csv_download(
            request._request,
            selectors.batch_report_csv(batch=batch),
            filename=f"batch-{batch.pk}-report.csv",
        )

    # --- control: start, pause, resume, cancel, retry-failed (calls.services.batch_control) ---

    def _control(
        self, request: Request, pk: str, service: Any, *, with_reason: bool = False
    ) -> Response:
        """One control action: the batch, an optional ``reason``, one service, the detail."""
        batch = selectors.batch_get(batch_id=pk)
        extra: dict[str, str] = {}
        if with_reason:
            extra["reason"] = _valid(BatchControlSerializer, request.data).validated_data["reason"]
        service(batch=batch, actor=request_user(request), **extra)
        return Response(_detail(selectors.batch_get(batch_id=pk)))

    @extend_schema(
        request=None,
        responses={200: BatchDetailSerializer, 409: _STATUS_CONFLICT},
        summary="Start a batch",
        description="Moves a draft batch to running: its queued rows are dialed within its concurrency, pacing and calling window. Members and above.",
    )
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        return self._control(request, pk, services.batch_start)

    @extend_schema(
        request=BatchControlSerializer,
        responses={200: BatchDetailSerializer, 409: _STATUS_CONFLICT},
        summary="Pause a batch",
        description="Nothing new is dialed; calls in flight finish. An optional `reason` is kept on the batch. Members and above.",
    )
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return self._control(request, pk, services.batch_pause, with_reason=True)

    @extend_schema(
        request=None,
        responses={200: BatchDetailSerializer, 409: _STATUS_CONFLICT},
        summary="Resume a paused batch",
        description="Dialing continues where it stopped, including a batch the circuit breaker paused. Members and above.",
    )
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._control(request, pk, services.batch_resume)

    @extend_schema(
        request=BatchControlSerializer,
        responses={200: BatchDetailSerializer, 409: _STATUS_CONFLICT},
        summary="Cancel a batch",
        description="Queued rows become canceled and nothing new is dialed; calls in flight finish. Final. Members and above.",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._control(request, pk, services.batch_cancel, with_reason=True)

    @extend_schema(
        request=None,
        responses={200: BatchDetailSerializer, 409: _STATUS_CONFLICT},
        summary="Retry a batch's failed rows",
        description="Failed rows are queued again for another round of attempts (within the calling window and the do-not-call list) and the batch runs. Members and above.",
    )
    @action(detail=True, methods=["post"], url_path="retry-failed")
    def retry_failed(self, request, pk=None):
        return self._control(request, pk, services.batch_retry_failed)

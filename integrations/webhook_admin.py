"""Outbound webhooks in the organization's admin, for admins and owners only (as in the API:
the delivery log holds call transcripts). Endpoints are added, changed and removed through
integrations.webhook_services; the signing secret is shown once, in the message after the
endpoint is added or its secret rotated, and as its last four characters after that. An
endpoint's page lists its latest deliveries and links to its whole log; deliveries are read
only, each with its attempts (status, latency, error), and "Redeliver" sends one again
through the service."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin, TabularInline

from integrations import webhook_selectors, webhook_services
from integrations.webhook_models import (
    SUBSCRIBABLE_EVENT_TYPES,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)
from organizations.actors import request_user
from organizations.admin_mixins import RoleAdminMixin
from organizations.models import Role

# How many deliveries an endpoint's own page lists; the rest are one link away.
RECENT_DELIVERIES = 10


class WebhookEndpointForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        choices=[(t, WebhookEventType(t).label) for t in SUBSCRIBABLE_EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        help_text="The events this endpoint hears about.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "event_types", "enabled"]
        help_texts = {"url": "An https:// URL of yours; every request to it is signed."}

    def data_for_service(self) -> dict[str, Any]:
        return {
            name: self.cleaned_data.get(name)
            for name in ("url", "description", "event_types", "enabled")
        }


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(RoleAdminMixin, ModelAdmin):
    view_role = Role.ADMIN
    change_role = Role.ADMIN
    form = WebhookEndpointForm
    list_display = [
        "url",
        "events_shown",
        "enabled",
        "consecutive_failures",
        "last_success_at",
        "last_failure_at",
    ]
    list_filter = ["enabled"]
    search_fields = ["url", "description"]
    readonly_fields = [
        "secret_shown",
        "consecutive_failures",
        "disabled_reason",
        "disabled_at",
        "last_success_at",
        "last_failure_at",
        "created_by",
        "created_at",
        "recent_deliveries",
    ]
    actions = ["rotate_secret", "send_test"]

    def get_fields(self, request: HttpRequest, obj: WebhookEndpoint | None = None):
        editable = ["url", "description", "event_types", "enabled"]
        return [*editable, *self.readonly_fields] if obj else editable

    @admin.display(description="Events")
    def events_shown(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.event_types or []) or "-"

    @admin.display(description="Signing secret")
    def secret_shown(self, obj: WebhookEndpoint) -> str:
        return f"••••{obj.signing_secret_last_four}"

    @admin.display(description="Latest deliveries")
    def recent_deliveries(self, obj: WebhookEndpoint) -> str:
        deliveries = list(webhook_selectors.webhook_delivery_list(endpoint=obj)[:RECENT_DELIVERIES])
        log = reverse("admin:integrations_webhookdelivery_changelist")
        link = format_html(
            '<a href="{}?endpoint__id__exact={}">The whole delivery log</a>', log, obj.pk
        )
        if not deliveries:
            return format_html("None yet. {}", link)
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td>'
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    reverse("admin:integrations_webhookdelivery_change", args=[d.pk]),
                    d.event.event_id,
                    d.event.type,
                    d.status,
                    d.attempt_count,
                    d.last_status_code or "-",
                    d.created_at.isoformat(timespec="seconds"),
                )
                for d in deliveries
            ),
        )
        return format_html(
            "<table><tr><th>Event</th><th>Type</th><th>Status</th><th>Attempts</th>"
            "<th>Last code</th><th>Created</th></tr>{}</table>{}",
            rows,
            link,
        )

    def save_model(
        self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool
    ) -> None:
        data = form.data_for_service()
        actor = request_user(request)
        if change:
            # The form has already written its values onto ``obj``; the service compares
            # them with the stored row to know what changed.
            stored = webhook_selectors.webhook_endpoint_get(endpoint_id=obj.pk)
            saved = webhook_services.webhook_endpoint_update(
                endpoint=stored, data=data, actor=actor
            )
        else:
            saved, secret = webhook_services.webhook_endpoint_create(data=data, actor=actor)
            self._secret_show(request, saved, secret)
        obj.pk = saved.pk
        obj._state.adding = False

    def _secret_show(self, request: HttpRequest, endpoint: WebhookEndpoint, secret: str) -> None:
        # Shown once, as the API shows it once; only its last four are kept in clear.
        self.message_user(
            request,
            f"The signing secret of {endpoint.url} (shown this once, keep it): {secret}",
            messages.WARNING,
        )

    def delete_model(self, request: HttpRequest, obj: WebhookEndpoint) -> None:
        webhook_services.webhook_endpoint_delete(endpoint=obj, actor=request_user(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            webhook_services.webhook_endpoint_delete(endpoint=endpoint, actor=request_user(request))

    @admin.action(description="Rotate the signing secret", permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            endpoint, secret = webhook_services.webhook_endpoint_rotate_secret(
                endpoint=endpoint, actor=request_user(request)
            )
            self._secret_show(request, endpoint, secret)

    @admin.action(description="Send a test event (ping)", permissions=["change"])
    def send_test(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            delivery = webhook_services.webhook_endpoint_test(
                endpoint=endpoint, actor=request_user(request)
            )
            if delivery.status == "succeeded":
                self.message_user(
                    request,
                    f"{endpoint.url} answered {delivery.last_status_code}.",
                    messages.SUCCESS,
                )
            else:
                self.message_user(request, f"{endpoint.url}: {delivery.last_error}", messages.ERROR)


class WebhookAttemptInline(RoleAdminMixin, TabularInline):
    view_role = Role.ADMIN
    model = WebhookAttempt
    fields = readonly_fields = (
        "number",
        "manual",
        "ok",
        "status_code",
        "latency_ms",
        "error",
        "response_excerpt",
        "created_at",
    )
    ordering = ["-number"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(RoleAdminMixin, ModelAdmin):
    """The delivery log: read only, newest first; "Redeliver" is the one thing done here."""

    view_role = Role.ADMIN
    change_role = Role.ADMIN
    list_display = [
        "created_at",
        "event_id_shown",
        "event_type_shown",
        "endpoint",
        "status",
        "attempt_count",
        "last_status_code",
        "last_error",
    ]
    list_filter = ["status", "event__type", "endpoint"]
    search_fields = ["event__event_id"]
    ordering = ["-created_at", "-id"]
    fields = readonly_fields = (
        "event_id_shown",
        "event_type_shown",
        "endpoint",
        "status",
        "attempt_count",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "delivered_at",
        "created_at",
        "payload_shown",
    )
    inlines = [WebhookAttemptInline]
    actions = ["redeliver"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookDelivery]:
        return webhook_selectors.webhook_delivery_list()

    @admin.display(description="Event id", ordering="event__event_id")
    def event_id_shown(self, obj: WebhookDelivery) -> str:
        return obj.event.event_id

    @admin.display(description="Event", ordering="event__type")
    def event_type_shown(self, obj: WebhookDelivery) -> str:
        return obj.event.type

    @admin.display(description="Payload")
    def payload_shown(self, obj: WebhookDelivery) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.event.payload, indent=2))

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_redeliver_permission(self, request: HttpRequest) -> bool:
        return self._role_at_least(request, Role.ADMIN)

    @admin.action(
        description="Redeliver (send once more, the same event id)", permissions=["redeliver"]
    )
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        count = 0
        for delivery in queryset:
            webhook_services.webhook_delivery_redeliver(
                delivery=delivery, actor=request_user(request)
            )
            count += 1
        self.message_user(
            request, f"{count} deliver{'y' if count == 1 else 'ies'} sent again.", messages.SUCCESS
        )

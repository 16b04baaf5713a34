"""Tenant admin for telephony: numbers with their ordered rules (plus import and a "test a
route" page), calls with filters and their timeline, messages. Writes go through
calls.services, like the API's."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST
from unfold.admin import ModelAdmin, TabularInline

import calls.admin_batches  # noqa: F401  (batches, their rows, the do-not-call list)
import calls.admin_schedules  # noqa: F401  (schedules and their runs)
from calls import selectors, services
from calls.admin_web_calls import web_call_urls
from calls.exceptions import CallNotFound
from calls.forms import RoutingRuleForm, TestRouteForm
from calls.live_monitor import LIVE_CONTROL_ROLE, call_page_get, live_ws_path
from calls.models import (
    Call,
    Carrier,
    Message,
    PhoneNumber,
    RoutingRule,
)
from calls.telephony.urls import carrier_webhook_urls
from integrations.selectors import credential_warnings
from organizations.admin_mixins import RoleAdminMixin
from organizations.models import Role
from voiceagents.exceptions import ApplicationError

_NUMBER_SETTINGS = [
    "friendly_name",
    "provider_id",
    "voice_enabled",
    "sms_enabled",
    "agent",
    "fallback_action",
    "fallback_message",
    "fallback_forward_number",
]


class RoutingRuleInline(RoleAdminMixin, TabularInline):
    model = RoutingRule
    form = RoutingRuleForm
    extra = 0
    ordering = ["position", "id"]


@admin.register(PhoneNumber)
class PhoneNumberAdmin(RoleAdminMixin, ModelAdmin):
    list_display = [
        "number",
        "friendly_name",
        "provider",
        "agent",
        "voice_enabled",
        "sms_enabled",
        "rule_count",
    ]
    list_filter = ["provider", "voice_enabled", "sms_enabled"]
    search_fields = ["number", "friendly_name"]
    fields = ["number", "provider", *_NUMBER_SETTINGS]
    inlines = [RoutingRuleInline]
    change_list_template = "admin/calls/phonenumber/change_list.html"

    def get_queryset(self, request):
        return selectors.phone_number_list()

    def get_readonly_fields(self, request, obj=None):
        return ["number", "provider"] if obj else []

    @admin.display(description="Rules")
    def rule_count(self, obj: PhoneNumber) -> int:
        return len(obj.rules.all())

    def change_view(self, request, object_id, form_url="", extra_context=None):
        phone_number = self.get_object(request, object_id)
        if phone_number is not None:
            if request.method == "GET":
                for warning in credential_warnings(kinds=[phone_number.provider]):
                    self.message_user(request, warning.message, messages.WARNING)
            # What to paste at the carrier, above the form with a copy button
            # (templates/admin/calls/phonenumber/change_form.html).
            extra_context = {
                **(extra_context or {}),
                "carrier_urls": carrier_webhook_urls(phone_number.provider),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        values = {
            name: form.cleaned_data.get(name)
            for name in _NUMBER_SETTINGS
            if name in form.cleaned_data
        }
        agent = values.pop("agent", None)
        values["agent_id"] = agent.pk if agent else None
        if change:
            services.phone_number_update(phone_number=obj, data=values)
            return
        created = services.phone_number_create(number=obj.number, provider=obj.provider, **values)
        obj.pk = created.pk
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        # Rules are replaced as a whole, in position order, by the same service as the API's.
        for formset in formsets:
            if formset.model is not RoutingRule:
                formset.save()
                continue
            formset.save(commit=False)  # nothing is written: it fills the admin's change log
            kept = [f for f in formset.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
            kept.sort(key=lambda f: f.cleaned_data.get("position") or 0)
            services.routing_rules_replace(
                phone_number=form.instance, rules=[f.rule_data() for f in kept]
            )

    def delete_model(self, request, obj):
        services.phone_number_delete(phone_number=obj)

    def delete_queryset(self, request, queryset):
        for phone_number in queryset:
            services.phone_number_delete(phone_number=phone_number)

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="calls_phonenumber_import",
            ),
            path(
                "test-route/",
                self.admin_site.admin_view(self.test_route_view),
                name="calls_phonenumber_test_route",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        return require_POST(self._import)(request)

    def _import(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        try:
            result = services.phone_number_import(
                provider=request.POST.get("provider") or Carrier.TWILIO
            )
        except ApplicationError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
        else:
            self.message_user(
                request,
                f"Imported: {len(result.created)} added, {len(result.updated)} updated, "
                f"{len(result.skipped)} skipped"
                + (f" ({', '.join(result.skipped)})" if result.skipped else "")
                + ".",
            )
        return HttpResponseRedirect(reverse("admin:calls_phonenumber_changelist"))

    def test_route_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        # A number's page links here with ?to=<its number> chosen.
        form = TestRouteForm(request.POST or None, initial={"to_number": request.GET.get("to")})
        decision = None
        if request.method == "POST" and form.is_valid():
            try:
                decision = selectors.call_route(
                    from_number=form.cleaned_data["from_number"],
                    to_number=form.cleaned_data["to_number"].number,
                    at=form.cleaned_data.get("at"),
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Test a route",
            "form": form,
            "decision": decision,
        }
        return TemplateResponse(request, "admin/calls/phonenumber/test_route.html", context)


@admin.register(Call)
class CallAdmin(RoleAdminMixin, ModelAdmin):
    change_role = Role.MEMBER
    list_display = [
        "id",
        "created_at",
        "direction",
        "status",
        "end_reason",
        "from_number",
        "to_number",
        "agent",
        "duration_seconds",
    ]
    list_filter = ["status", "direction", "end_reason", "provider", "agent", "created_at"]
    search_fields = ["from_number", "to_number", "provider_call_id"]
    date_hierarchy = "created_at"
    # The theme's list costs ~0.7 ms of CPU a row (each cell builds every column's header,
    # each row's checkbox is a rendered widget): 50 rows keep the page well under 300 ms.
    list_per_page = 50
    # The transcript, the tools, the analysis and the timeline are on the call's page itself,
    # above its fields (or its live transcript and actions while the call goes on):
    # call_page.html.
    change_form_outer_before_template = "admin/calls/call/call_page.html"
    actions = ["end_calls"]
    readonly_fields = [field.name for field in Call._meta.fields]

    class Media:
        js = ("calls/live_monitor.js",)
        css = {"all": ("calls/live_monitor.css",)}

    def get_queryset(self, request):
        return selectors.call_list()

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/end/", view(self.end_view), name="calls_call_end"),
            path(
                "<path:object_id>/transfer/", view(self.transfer_view), name="calls_call_transfer"
            ),
            # "Talk to this agent" on the agent's page starts its web call here.
            *web_call_urls(view),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        try:
            call = selectors.call_get_with_timeline(call_id=object_id)
        except CallNotFound:  # the admin's own "does not exist" answer
            return super().change_view(request, object_id, form_url, extra_context)
        page = {
            **call_page_get(call=call),
            "can_control": self.has_end_permission(request),
            "ws_path": live_ws_path(call_id=call.pk),
            "end_url": reverse("admin:calls_call_end", args=[call.pk]),
            "transfer_url": reverse("admin:calls_call_transfer", args=[call.pk]),
        }
        extra_context = {**(extra_context or {}), "call_page": page}
        return super().change_view(request, object_id, form_url, extra_context)

    def end_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The live page's End call: ``call_end``, as ``POST /api/v1/calls/{id}/end/``."""
        return self._live_action(
            request,
            object_id,
            lambda call: services.call_end(call_id=call.pk),
            done="The call was ended.",
        )

    def transfer_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The live page's Transfer: ``call_transfer``, as ``POST .../transfer/``."""
        to_number = request.POST.get("to_number", "").strip()
        return self._live_action(
            request,
            object_id,
            lambda call: services.call_transfer(call_id=call.pk, to_number=to_number),
            done=f"The call is being transferred to {to_number}.",
        )

    def _live_action(self, request: HttpRequest, object_id: str, action, *, done: str):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_end_permission(request):
            raise PermissionDenied
        try:
            call = selectors.call_get(call_id=object_id)
        except CallNotFound:
            raise Http404 from None
        try:
            action(call)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(request, done, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:calls_call_change", args=[call.pk]))

    def has_add_permission(self, request, *args) -> bool:
        return False  # calls are started through the API or the agent's page

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a call is a record: its page shows it, actions change it

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_end_permission(self, request) -> bool:
        # Ending and transferring a call are a member's, as in the API.
        return self._role_at_least(request, LIVE_CONTROL_ROLE)

    @admin.action(description="End selected calls", permissions=["end"])
    def end_calls(self, request, queryset):
        ended = 0
        for call in queryset.filter(status__in=["queued", "ringing", "in_progress"]):
            try:
                services.call_end(call_id=call.pk)
                ended += 1
            except ApplicationError as exc:
                self.message_user(request, f"Call {call.pk}: {exc.message}", messages.ERROR)
        self.message_user(request, f"{ended} call(s) ended.")


@admin.register(Message)
class MessageAdmin(RoleAdminMixin, ModelAdmin):
    list_display = ["created_at", "direction", "status", "from_number", "to_number", "call"]
    list_filter = ["direction", "status", "provider"]
    search_fields = ["from_number", "to_number", "body"]
    readonly_fields = [field.name for field in Message._meta.fields]

    def has_add_permission(self, request, *args) -> bool:
        return False  # sent through the API, received by webhook

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

"""Integrations, custom tools and tool executions in the organization's admin. The same
services as the API write them; header values, tokens and signing secrets are password-like
fields that never render a value. An integration's page has "Test connection" (list its
tools now) and "Run a tool" (a form: the tool, its arguments as JSON); executions are read
only."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from unfold.admin import ModelAdmin

from integrations import tool_execution, tool_selectors, tool_services
from integrations.exceptions import ToolError
from integrations.models import CustomTool, ExecutionSource, Integration, ToolExecution
from organizations.actors import request_user
from organizations.admin_mixins import RoleAdminMixin
from organizations.models import Role
from voiceagents.exceptions import ValidationFailed


def _json_object(text: str, field: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError as exc:
        raise forms.ValidationError(f"Not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise forms.ValidationError(f"Give a JSON object for {field}.")
    return value


class IntegrationForm(forms.ModelForm):
    new_headers = forms.CharField(
        label="Headers",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text='A JSON object, e.g. {"X-Api-Key": "..."}. Stored encrypted and never shown '
        "again; leave empty to keep the current ones.",
    )
    new_auth_token = forms.CharField(
        label="Bearer token",
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Sent as Authorization: Bearer. Stored encrypted; leave empty to keep it.",
    )
    enabled_tools_text = forms.CharField(
        label="Enabled tools",
        required=False,
        help_text="Tool names agents may use, separated by commas (list the tools first).",
    )

    class Meta:
        model = Integration
        fields = ["kind", "name", "slug", "url", "transport", "enabled", "timeout_seconds"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        self.fields["enabled_tools_text"].initial = ", ".join(self.instance.enabled_tools or [])
        if self.instance.pk:
            self.fields["kind"].disabled = True

    def data_for_service(self) -> dict[str, Any]:
        cleaned = self.cleaned_data
        data: dict[str, Any] = {
            name: cleaned.get(name)
            for name in ("name", "slug", "url", "transport", "enabled", "timeout_seconds")
        }
        if not self.instance.pk:
            data["kind"] = cleaned.get("kind")
        if cleaned.get("new_headers"):
            data["headers"] = _json_object(cleaned["new_headers"], "headers")
        if cleaned.get("new_auth_token"):
            data["auth_token"] = cleaned["new_auth_token"]
        tools = [t.strip() for t in (cleaned.get("enabled_tools_text") or "").split(",")]
        data["enabled_tools"] = [t for t in tools if t]
        return data

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        try:
            tool_services.integration_clean(
                data=self.data_for_service(), instance=self.instance if self.instance.pk else None
            )
        except forms.ValidationError as exc:
            self.add_error("new_headers", exc)
        except ValidationFailed as exc:
            for field, problems in (exc.details.get("fields") or {}).items():
                name = {
                    "headers": "new_headers",
                    "auth_token": "new_auth_token",
                    "enabled_tools": "enabled_tools_text",
                }.get(field, field)
                self.add_error(name if name in self.fields else None, problems)
        return cleaned


class RunToolForm(forms.Form):
    tool = forms.ChoiceField()
    arguments = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80}),
        initial="{}",
        help_text="A JSON object, checked against the tool's input schema.",
    )

    def __init__(self, *args: Any, integration: Integration, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tool = self.fields["tool"]
        assert isinstance(tool, forms.ChoiceField)
        tool.choices = [(name, name) for name in integration.enabled_tools or []]

    def clean_arguments(self) -> dict[str, Any]:
        return _json_object(self.cleaned_data["arguments"], "arguments")


@admin.register(Integration)
class IntegrationAdmin(RoleAdminMixin, ModelAdmin):
    form = IntegrationForm
    list_display = ["slug", "name", "kind", "transport", "enabled", "tools_listed_at", "last_error"]
    list_filter = ["kind", "enabled"]
    readonly_fields = [
        "header_names",
        "auth_token_shown",
        "tools_shown",
        "tools_listed_at",
        "last_error",
        "created_by",
        "created_at",
    ]
    actions = ["test_connection"]
    change_form_template = "admin/integrations/integration/change_form.html"

    def get_fields(self, request: HttpRequest, obj: Integration | None = None):
        editable = [
            "kind",
            "name",
            "slug",
            "url",
            "transport",
            "new_headers",
            "new_auth_token",
            "enabled",
            "enabled_tools_text",
            "timeout_seconds",
        ]
        return [*editable, *self.readonly_fields] if obj else editable

    @admin.display(description="Bearer token")
    def auth_token_shown(self, obj: Integration) -> str:
        return f"••••{obj.auth_token_last_four}" if obj.auth_token else "-"

    @admin.display(description="Tools the server lists")
    def tools_shown(self, obj: Integration) -> str:
        return ", ".join(tool.get("name", "") for tool in obj.tools or []) or "-"

    def save_model(self, request: HttpRequest, obj: Integration, form: Any, change: bool) -> None:
        data = form.data_for_service()
        actor = request_user(request)
        if change:
            # The form has already written its values onto ``obj``: the service compares
            # them with the stored row to know what changed.
            stored = tool_selectors.integration_get(integration_id=obj.pk)
            saved = tool_services.integration_update(integration=stored, data=data, actor=actor)
        else:
            saved = tool_services.integration_create(data=data, actor=actor)
        obj.pk = saved.pk
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: Integration) -> None:
        tool_services.integration_delete(integration=obj, actor=request_user(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        for integration in queryset:
            tool_services.integration_delete(integration=integration, actor=request_user(request))

    def _test(self, request: HttpRequest, integration: Integration) -> None:
        try:
            integration = tool_services.integration_tools_refresh(
                integration=integration, actor=request_user(request)
            )
        except ToolError as exc:
            self.message_user(request, f"{integration.slug}: {exc.message}", messages.ERROR)
            return
        names = ", ".join(tool["name"] for tool in integration.tools) or "no tools"
        self.message_user(request, f"{integration.slug} lists: {names}.", messages.SUCCESS)

    @admin.action(description="Test connection (list the server's tools)")
    def test_connection(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        for integration in queryset:
            self._test(request, integration)

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:object_id>/test-connection/",
                self.admin_site.admin_view(self.test_connection_view),
                name="integrations_integration_test_connection",
            ),
            path(
                "<int:object_id>/run-tool/",
                self.admin_site.admin_view(self.run_tool_view),
                name="integrations_integration_run_tool",
            ),
            *super().get_urls(),
        ]

    def test_connection_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        integration = get_object_or_404(Integration, pk=object_id)
        if request.method == "POST" and self._role_at_least(request, Role.MEMBER):
            self._test(request, integration)
        change = reverse("admin:integrations_integration_change", args=[integration.pk])
        return HttpResponseRedirect(change)

    def run_tool_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        integration = get_object_or_404(Integration, pk=object_id)
        if not self._role_at_least(request, Role.MEMBER):
            self.message_user(request, "Running a tool needs the member role.", messages.ERROR)
            return HttpResponseRedirect(
                reverse("admin:integrations_integration_change", args=[integration.pk])
            )
        execution: ToolExecution | None = None
        error = ""
        if request.method == "POST":
            form = RunToolForm(request.POST, integration=integration)
            if form.is_valid():
                try:
                    execution = tool_execution.tool_execute(
                        integration.pk,
                        form.cleaned_data["tool"],
                        form.cleaned_data["arguments"],
                        source=ExecutionSource.ADMIN,
                        actor=request_user(request),
                    )
                except ToolError as exc:
                    error = f"{exc.code}: {exc.message}"
        else:
            form = RunToolForm(integration=integration)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Run a tool of {integration}",
            "opts": self.model._meta,
            "original": integration,
            "form": form,
            "execution": execution,
            "result": json.dumps(execution.result, indent=2) if execution else "",
            "error": error,
        }
        return TemplateResponse(request, "admin/integrations/integration/run_tool.html", context)


class CustomToolForm(forms.ModelForm):
    parameters_text = forms.CharField(
        label="Parameters",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80}),
        help_text="A JSON schema with an object at its root.",
    )

    class Meta:
        model = CustomTool
        fields = ["name", "description", "url", "timeout_seconds", "enabled"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parameters_text"].initial = json.dumps(
            self.instance.parameters or {"type": "object", "properties": {}}, indent=2
        )

    def data_for_service(self) -> dict[str, Any]:
        cleaned = self.cleaned_data
        data = {
            name: cleaned.get(name)
            for name in ("name", "description", "url", "timeout_seconds", "enabled")
        }
        data["parameters"] = _json_object(cleaned.get("parameters_text") or "{}", "parameters")
        return data

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        try:
            tool_services.custom_tool_clean(
                data=self.data_for_service(), instance=self.instance if self.instance.pk else None
            )
        except forms.ValidationError as exc:
            self.add_error("parameters_text", exc)
        except ValidationFailed as exc:
            for field, problems in (exc.details.get("fields") or {}).items():
                name = "parameters_text" if field == "parameters" else field
                self.add_error(name if name in self.fields else None, problems)
        return cleaned


@admin.register(CustomTool)
class CustomToolAdmin(RoleAdminMixin, ModelAdmin):
    form = CustomToolForm
    list_display = ["name", "url", "enabled", "timeout_seconds", "updated_at"]
    readonly_fields = ["secret_shown", "created_by", "created_at"]

    def get_fields(self, request: HttpRequest, obj: CustomTool | None = None):
        editable = ["name", "description", "parameters_text", "url", "timeout_seconds", "enabled"]
        return [*editable, *self.readonly_fields] if obj else editable

    @admin.display(description="Signing secret")
    def secret_shown(self, obj: CustomTool) -> str:
        return f"••••{obj.signing_secret_last_four}"

    def save_model(self, request: HttpRequest, obj: CustomTool, form: Any, change: bool) -> None:
        data = form.data_for_service()
        actor = request_user(request)
        if change:
            stored = tool_selectors.custom_tool_get(custom_tool_id=obj.pk)  # as above
            saved, _secret = tool_services.custom_tool_update(
                custom_tool=stored, data=data, actor=actor
            )
        else:
            saved, secret = tool_services.custom_tool_create(data=data, actor=actor)
            # Shown once, as the API shows it once.
            self.message_user(
                request, f"The signing secret of {saved.name}: {secret}", messages.WARNING
            )
        obj.pk = saved.pk
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: CustomTool) -> None:
        tool_services.custom_tool_delete(custom_tool=obj, actor=request_user(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[CustomTool]) -> None:
        for tool in queryset:
            tool_services.custom_tool_delete(custom_tool=tool, actor=request_user(request))


@admin.register(ToolExecution)
class ToolExecutionAdmin(RoleAdminMixin, ModelAdmin):
    list_display = ["created_at", "server", "tool", "source", "ok", "error_code", "duration_ms"]
    list_filter = ["source", "ok", "server"]
    search_fields = ["tool", "server", "error_message"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

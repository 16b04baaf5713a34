"""Agents in the organization's admin (its own domain). Every write goes through
agents.services, so a save from here stores a version exactly as the API does; deleting is a
soft delete."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.views.decorators.http import require_POST
from unfold.admin import ModelAdmin
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextInputWidget

from agents import selectors, services
from agents.exceptions import AgentNotFound
from agents.models import Agent
from agents.realtime.registry import PROVIDERS
from agents.validation import (
    BUILTIN_TOOLS,
    CONFIG_FIELDS,
    INTEGRATION_TOOL_PATTERN,
    agent_config_clean,
)
from integrations.selectors import credential_kinds_usable, credential_warnings
from organizations.actors import request_user
from organizations.admin_mixins import RoleAdminMixin
from organizations.models import Role
from voiceagents.exceptions import ApplicationError, ValidationFailed

# Who may try an agent from its page: starting a call is a member's right.
TALK_ROLE = Role.MEMBER


class LinesField(forms.CharField):
    """A list of strings, edited one per line."""

    widget = forms.Textarea(attrs={"rows": 4, "cols": 60})

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list | tuple) else value

    # Parses into a list, like Django's SimpleArrayField (a CharField whose stub ignores the same).
    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, list | tuple):
            return [str(item) for item in value]
        return [line.strip() for line in (value or "").splitlines() if line.strip()]


def _catalog_choices(attribute: str, current: str) -> list[Any]:
    """The catalog's models or voices grouped by provider (the page's script shows only the
    chosen provider's group), after the provider's default; a current value the catalog does
    not list (an older model) stays choosable."""
    groups = [
        (info.label, [(value, value) for value in getattr(info, attribute)])
        for info in PROVIDERS.values()
        if getattr(info, attribute)
    ]
    known = {value for _label, options in groups for value, _name in options}
    extra = (
        [(current, f"{current} (not in the catalog)")] if current and current not in known else []
    )
    return [("", "The provider's default"), *extra, *groups]


def _provider_groups() -> str:
    """Which provider each choice group is, for static/agents/agent_form.js."""
    return json.dumps({info.label: name for name, info in PROVIDERS.items()})


class AgentAdminForm(forms.ModelForm):
    end_call_phrases = LinesField(required=False, help_text="One phrase per line.")
    tools = LinesField(
        required=False,
        help_text=f"One per line: {', '.join(BUILTIN_TOOLS)} or {INTEGRATION_TOOL_PATTERN}.",
    )

    class Meta:
        model = Agent
        fields = [
            *(f for f in CONFIG_FIELDS if f != "knowledge_base_ids"),
            "knowledge_bases",
            "status",
        ]

    model = forms.ChoiceField(required=False, widget=UnfoldAdminSelectWidget)
    voice = forms.ChoiceField(required=False, widget=UnfoldAdminSelectWidget)
    custom_voice = forms.CharField(
        required=False,
        max_length=100,
        widget=UnfoldAdminTextInputWidget,
        help_text="A custom or cloned voice id instead (OpenAI: voice_...; Hume: any voice id).",
    )

    class Media:
        js = ("agents/agent_form.js",)
        css = {"all": ("agents/agent_form.css",)}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "ai_provider" not in self.fields:
            return  # a read-only page (a viewer's, a member's): the values are shown as text
        instance = self.instance
        voice = instance.voice if instance.pk else ""
        custom = bool(voice) and not any(voice in info.voices for info in PROVIDERS.values())
        model_field, voice_field = self.fields["model"], self.fields["voice"]
        assert isinstance(model_field, forms.ChoiceField)
        assert isinstance(voice_field, forms.ChoiceField)
        model_field.choices = _catalog_choices("models", instance.model or "")
        voice_field.choices = _catalog_choices("voices", "")
        if custom:
            # A custom voice id is edited as text, not as a choice.
            self.initial["voice"], self.initial["custom_voice"] = "", voice
        for name in ("model", "voice"):
            self.fields[name].widget.attrs["data-provider-groups"] = _provider_groups()
        usable = credential_kinds_usable()
        warnings = {
            name: warning.message
            for name in PROVIDERS
            for warning in credential_warnings(kinds=[name], usable=usable)
        }
        # Shown next to the provider by the page's script as soon as it is chosen.
        self.fields["ai_provider"].widget.attrs["data-key-warnings"] = json.dumps(warnings)

    def agent_data(self) -> dict[str, Any]:
        """The cleaned values in the services' vocabulary."""
        data = {
            field: self.cleaned_data.get(field)
            for field in CONFIG_FIELDS
            if field != "knowledge_base_ids"
        }
        data["knowledge_base_ids"] = [
            kb.pk for kb in self.cleaned_data.get("knowledge_bases") or []
        ]
        data["status"] = self.cleaned_data.get("status")
        data["voice"] = (self.cleaned_data.get("custom_voice") or "").strip() or data["voice"]
        return data

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data  # what ModelForm.clean returns; typed here without the None
        if self.errors:
            return cleaned  # shapes first; the rules below assume every field parsed
        config = self.agent_data()
        config.pop("status")
        try:
            agent_config_clean(config=config)
        except ValidationFailed as exc:
            for field, problems in exc.details["fields"].items():
                field = "knowledge_bases" if field == "knowledge_base_ids" else field
                if field == "voice" and cleaned.get("custom_voice"):
                    field = "custom_voice"
                self.add_error(field if field in self.fields else None, problems)
        return cleaned


@admin.register(Agent)
class AgentAdmin(RoleAdminMixin, ModelAdmin):
    form = AgentAdminForm
    list_display = ["name", "ai_provider", "model", "voice", "status", "version", "updated_at"]
    list_filter = ["ai_provider", "status", "language"]
    search_fields = ["name", "description"]
    filter_horizontal = ["knowledge_bases"]
    readonly_fields = ["version", "created_by", "updated_by", "created_at", "updated_at"]
    actions = ["duplicate"]
    fieldsets = [
        (
            "Persona",
            {"fields": ["name", "description", "language", "system_prompt", "first_message"]},
        ),
        (
            "Voice",
            {
                "fields": [
                    "ai_provider",
                    "model",
                    "voice",
                    "custom_voice",
                    "temperature",
                    "provider_config",
                ]
            },
        ),
        (
            "Behaviour",
            {
                "fields": [
                    "status",
                    "max_call_duration_seconds",
                    "silence_timeout_seconds",
                    "end_call_phrases",
                    "voicemail_message",
                    "transfer_number",
                    "recording_enabled",
                ]
            },
        ),
        ("Tools", {"fields": ["tools"]}),
        ("Knowledge", {"fields": ["knowledge_bases"]}),
        ("Post-call analysis", {"fields": ["analysis_schema"]}),
    ]
    _history_fieldset = ("Version", {"fields": readonly_fields})

    def get_queryset(self, request):
        return super().get_queryset(request).filter(deleted_at__isnull=True)

    def get_fieldsets(self, request, obj=None):
        fieldsets = [*self.fieldsets, self._history_fieldset] if obj else self.fieldsets
        if not self.has_change_permission(request, obj):
            # Read-only, the voice is shown as it is: there is no custom id to type.
            fieldsets = [
                (name, {**options, "fields": [f for f in options["fields"] if f != "custom_voice"]})
                for name, options in fieldsets
            ]
        return fieldsets

    def change_view(self, request, object_id, form_url="", extra_context=None):
        agent = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if agent is not None and request.method == "GET":
            warnings = credential_warnings(kinds=[agent.ai_provider])
            for warning in warnings:
                self.message_user(request, warning.message, messages.WARNING)
            if self._role_at_least(request, TALK_ROLE):
                # "Talk to this agent" (templates/admin/agents/agent/talk.html): a web call,
                # started by the calls' admin (agents import nothing of calls).
                extra_context["talk_start_url"] = reverse(
                    "admin:calls_call_web_start", args=[agent.pk]
                )
                extra_context["talk_blocked"] = warnings[0].message if warnings else ""
        return super().change_view(request, object_id, form_url, extra_context)

    # --- writes go through the services ------------------------------------------------------

    def save_model(self, request, obj, form, change):
        data = form.agent_data()
        if change:
            agent = services.agent_update(agent=obj, data=data, actor=request_user(request))
        else:
            agent = services.agent_create(actor=request_user(request), **data)
        obj.pk, obj.version = agent.pk, agent.version
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        """Knowledge bases were set by the service together with the version."""

    def delete_model(self, request, obj):
        services.agent_delete(agent=obj, actor=request_user(request))

    def delete_queryset(self, request, queryset):
        for agent in queryset:
            services.agent_delete(agent=agent, actor=request_user(request))

    def get_deleted_objects(self, objs, request):
        # A soft delete removes nothing else (versions and calls stay), so the confirmation
        # lists just the agents and needs no rights on related rows.
        agents = list(objs)
        return [str(agent) for agent in agents], {"agents": len(agents)}, set(), []

    @admin.action(description="Duplicate selected agents", permissions=["add"])
    def duplicate(self, request, queryset):
        copies = [
            services.agent_duplicate(agent=agent, actor=request_user(request)) for agent in queryset
        ]
        self.message_user(request, f"{len(copies)} agent(s) duplicated.", messages.SUCCESS)

    # --- version history, diff and rollback ---------------------------------------------------

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/versions/", view(self.versions_view), name=f"{name}_versions"),
            path(
                "<path:object_id>/versions/diff/",
                view(self.version_diff_view),
                name=f"{name}_version_diff",
            ),
            path(
                "<path:object_id>/versions/<int:number>/rollback/",
                view(require_POST(self.rollback_view)),
                name=f"{name}_rollback",
            ),
            *super().get_urls(),
        ]

    def _agent(self, request: HttpRequest, object_id: str) -> Agent:
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            return selectors.agent_get(agent_id=object_id)
        except AgentNotFound:
            raise Http404("Agent not found.") from None

    def _context(self, request: HttpRequest, agent: Agent, title: str, **extra: Any) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": agent,
            "title": title,
            "has_change_permission": self.has_change_permission(request, agent),
            **extra,
        }

    def versions_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        agent = self._agent(request, object_id)
        versions = selectors.agent_version_list(agent=agent)
        context = self._context(request, agent, f"Versions of {agent}", versions=versions)
        return render(request, "admin/agents/agent/versions.html", context)

    def version_diff_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        agent = self._agent(request, object_id)
        try:
            to_number = int(request.GET.get("to", agent.version))
            from_number = int(request.GET.get("from", max(to_number - 1, 1)))
            diff = selectors.agent_version_diff(
                agent=agent, from_number=from_number, to_number=to_number
            )
        except (ValueError, ApplicationError):
            raise Http404("No such version.") from None
        context = self._context(
            request,
            agent,
            f"{agent}: version {diff.from_version} → {diff.to_version}",
            diff=diff,
            numbers=range(agent.version, 0, -1),
        )
        return render(request, "admin/agents/agent/version_diff.html", context)

    def rollback_view(self, request: HttpRequest, object_id: str, number: int) -> HttpResponse:
        agent = self._agent(request, object_id)
        if not self.has_change_permission(request, agent):
            raise PermissionDenied
        try:
            agent = services.agent_rollback(
                agent=agent, version=number, actor=request_user(request)
            )
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(
                request,
                f"Rolled back to version {number}; now at version {agent.version}.",
                messages.SUCCESS,
            )
        name = f"admin:{self.opts.app_label}_{self.opts.model_name}_versions"
        return HttpResponseRedirect(reverse(name, args=[agent.pk]))

"""Provider credentials in the organization's admin (its own domain), for admins and owners
only. The same services as the API write them (every change audited); the secret is a
password field that never renders a value, and pages show only its last four characters."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from unfold.admin import ModelAdmin

from integrations import selectors, services
from integrations.kinds import KINDS
from integrations.models import ProviderCredential, VerificationStatus
from organizations.actors import request_user
from organizations.admin_mixins import RoleAdminMixin
from organizations.models import Role
from voiceagents.exceptions import ValidationFailed

# Every identifier any kind takes, as one optional form field each (the service checks which
# ones the chosen kind needs); a test keeps this tuple equal to integrations.kinds.
IDENTIFIER_FIELDS = ("account_sid", "auth_id", "config_id")


def _identifier_label(name: str) -> str:
    return "; ".join(
        f"{identifier.label} ({spec.label})"
        for spec in KINDS.values()
        for identifier in spec.identifiers
        if identifier.name == name
    )


class ProviderCredentialForm(forms.ModelForm):
    account_sid = forms.CharField(required=False, label=_identifier_label("account_sid"))
    auth_id = forms.CharField(required=False, label=_identifier_label("auth_id"))
    config_id = forms.CharField(required=False, label=_identifier_label("config_id"))
    # Not the model's ``secret`` (ciphertext, not editable) but the plain value typed in,
    # which the service encrypts. Never rendered back.
    new_secret = forms.CharField(
        label="Secret",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="The auth token or API key. Stored encrypted and never shown again; leave "
        "empty to keep the current one.",
    )

    class Meta:
        model = ProviderCredential
        fields = ["kind", "label"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        identifiers = self.instance.identifiers if self.instance.pk else {}
        for name in IDENTIFIER_FIELDS:
            self.fields[name].initial = identifiers.get(name, "")
        if self.instance.pk:
            self.fields["kind"].disabled = True
        else:
            self.fields["new_secret"].required = True
            self.fields["new_secret"].help_text = "The auth token or API key; stored encrypted."

    def identifiers(self) -> dict[str, str]:
        return {
            name: self.cleaned_data[name]
            for name in IDENTIFIER_FIELDS
            if self.cleaned_data.get(name)
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned  # shapes first (and the one-per-kind check of the unique field)
        kind = self.instance.kind if self.instance.pk else cleaned.get("kind")
        try:
            services.credential_clean(
                kind=kind,
                identifiers=self.identifiers(),
                secret=cleaned.get("new_secret") or (None if self.instance.pk else ""),
                label=cleaned.get("label", ""),
            )
        except ValidationFailed as exc:
            for field, problems in (exc.details.get("fields") or {}).items():
                name = "new_secret" if field == "secret" else field.removeprefix("identifiers.")
                self.add_error(name if name in self.fields else None, problems)
        return cleaned


@admin.register(ProviderCredential)
class ProviderCredentialAdmin(RoleAdminMixin, ModelAdmin):
    view_role = Role.ADMIN
    change_role = Role.ADMIN
    form = ProviderCredentialForm
    list_display = [
        "kind",
        "label",
        "identifiers_shown",
        "secret_shown",
        "verification_status",
        "last_used_at",
        "rotated_at",
    ]
    list_filter = ["kind", "verification_status"]
    readonly_fields = [
        "secret_shown",
        "verification_status",
        "verification_message",
        "verified_at",
        "created_by",
        "created_at",
        "rotated_at",
        "last_used_at",
    ]
    actions = ["verify"]

    def get_fields(self, request: HttpRequest, obj: ProviderCredential | None = None):
        editable = ["kind", "label", *IDENTIFIER_FIELDS, "new_secret"]
        return [*editable, *self.readonly_fields] if obj else editable

    @admin.display(description="Identifiers")
    def identifiers_shown(self, obj: ProviderCredential) -> str:
        return ", ".join(f"{k}={v}" for k, v in sorted(obj.identifiers.items())) or "-"

    @admin.display(description="Secret")
    def secret_shown(self, obj: ProviderCredential) -> str:
        return f"••••{obj.secret_last_four}"

    def save_model(
        self, request: HttpRequest, obj: ProviderCredential, form: Any, change: bool
    ) -> None:
        actor = request_user(request)
        data: dict[str, Any] = {
            "label": form.cleaned_data.get("label", ""),
            "identifiers": form.identifiers(),
        }
        if form.cleaned_data.get("new_secret"):
            data["secret"] = form.cleaned_data["new_secret"]
        if change:
            # The form has already written the label onto ``obj``: the service compares it
            # with the stored row to know what changed.
            stored = selectors.credential_get(credential_id=obj.pk)
            saved = services.credential_update(credential=stored, data=data, actor=actor)
        else:
            saved = services.credential_create(kind=form.cleaned_data["kind"], actor=actor, **data)
        obj.pk = saved.pk
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: ProviderCredential) -> None:
        services.credential_delete(credential=obj, actor=request_user(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ProviderCredential]) -> None:
        for credential in queryset:
            services.credential_delete(credential=credential, actor=request_user(request))

    @admin.action(description="Verify selected credentials with their providers")
    def verify(self, request: HttpRequest, queryset: QuerySet[ProviderCredential]) -> None:
        for credential in queryset:
            credential = services.credential_verify(
                credential=credential, actor=request_user(request)
            )
            ok = credential.verification_status == VerificationStatus.OK
            level = messages.SUCCESS if ok else messages.ERROR
            self.message_user(request, f"{credential}: {credential.verification_message}", level)


# Integrations (MCP servers), custom tools and their executions; outbound webhooks'
# endpoints and their delivery log.
from integrations import tool_admin, webhook_admin  # noqa: E402, F401

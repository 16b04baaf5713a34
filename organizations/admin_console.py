"""The organization's own settings in its console (the tenant admin on its domain): its
settings, its members and their roles, its invitations.

Registered on the Organization model so the pages get the admin's URLs, login and sidebar
link (``organizations_organization_changelist`` is the settings page); there is no list, add or
delete of organizations here. Every write goes through organizations.services, with the API's
roles: anyone in the organization reads these pages, owners change them (the API's
``OrganizationViewSet.write_role``), and a viewer, member or admin sees no button."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST
from unfold.admin import ModelAdmin

from organizations import selectors, services
from organizations.actors import request_user
from organizations.admin_mixins import RoleAdminMixin
from organizations.models import Organization, Role
from voiceagents.exceptions import ApplicationError
from voiceagents.tenancy import current_tenant

_TIMEZONES = sorted(zoneinfo.available_timezones())


class OrganizationSettingsForm(forms.Form):
    """The API's settings fields (OrganizationUpdateSerializer): shapes only. What makes a
    value valid (a known time zone, an E.164 caller id, a region) is the service's to say, so
    the console and the API refuse the same values with the same words."""

    name = forms.CharField(max_length=200)
    industry = forms.CharField(max_length=100, required=False)
    timezone = forms.CharField(
        max_length=64,
        label="Time zone",
        help_text="An IANA name (Europe/Paris): calling windows and schedules are read in it.",
        widget=forms.TextInput(attrs={"list": "console-timezones", "autocomplete": "off"}),
    )
    default_caller_id = forms.CharField(
        max_length=32,
        required=False,
        label="Default caller ID",
        help_text="The number outbound calls show, with its country code (+14155550100).",
    )
    max_concurrent_calls = forms.IntegerField(
        min_value=1,
        max_value=10000,
        label="Concurrent calls",
        help_text="The most calls in progress at once, inbound and outbound.",
    )
    default_region = forms.CharField(
        max_length=2,
        label="Default region",
        help_text="ISO 3166 code (US, GB, DE) numbers written without a country code are read in.",
    )
    calling_window_start = forms.TimeField(
        label="Calling window from", widget=forms.TimeInput(attrs={"type": "time"})
    )
    calling_window_end = forms.TimeField(
        label="Calling window until",
        help_text="Outbound calls start only in this window, in the organization's time zone.",
        widget=forms.TimeInput(attrs={"type": "time"}),
    )

    @classmethod
    def for_organization(
        cls, organization: Organization, data: Any = None
    ) -> OrganizationSettingsForm:
        initial = {name: getattr(organization, name) for name in cls.base_fields}
        return cls(data, initial=initial)


class InviteForm(forms.Form):
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


def _add_service_error(form: forms.Form, error: ApplicationError) -> None:
    """The service's refusal on the fields it names (the API's ``details.fields``), else on
    the form."""
    placed = False
    for name, problems in ((error.details or {}).get("fields") or {}).items():
        if name in form.fields:
            form.add_error(name, problems)
            placed = True
    if not placed:
        form.add_error(None, error.message)


@admin.register(Organization)
class OrganizationConsoleAdmin(RoleAdminMixin, ModelAdmin):
    view_role = Role.VIEWER
    change_role = Role.OWNER

    # Only the pages below: the organization is the one whose domain this is.
    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("", view(self.settings_view), name="organizations_organization_changelist"),
            path("members/", view(self.members_view), name="organizations_console_members"),
            path(
                "members/<int:membership_id>/role/",
                view(require_POST(self.member_role_view)),
                name="organizations_console_member_role",
            ),
            path(
                "members/<int:membership_id>/remove/",
                view(require_POST(self.member_remove_view)),
                name="organizations_console_member_remove",
            ),
            path(
                "invitations/",
                view(require_POST(self.invite_view)),
                name="organizations_console_invite",
            ),
            path(
                "invitations/<int:invitation_id>/revoke/",
                view(require_POST(self.invitation_revoke_view)),
                name="organizations_console_invitation_revoke",
            ),
        ]

    # --- pages -------------------------------------------------------------------------------

    def _context(self, request: HttpRequest, *, title: str, tab: str, **extra: Any) -> dict:
        return {
            # No ``opts``: the theme's header then reads the page's title, not the model's
            # "Organizations > Organizations".
            **self.admin_site.each_context(request),
            "title": title,
            "tab": tab,
            "organization": current_tenant(),
            "can_change": self.has_change_permission(request),
            **extra,
        }

    def _require_change(self, request: HttpRequest) -> None:
        if not self.has_change_permission(request):
            raise PermissionDenied

    def settings_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        organization = current_tenant()
        if request.method == "POST":
            self._require_change(request)
            form = OrganizationSettingsForm.for_organization(organization, request.POST)
            if form.is_valid():
                # Only what changed, as the API's PATCH sends it.
                data = {name: form.cleaned_data[name] for name in form.changed_data}
                try:
                    services.organization_update(organization=organization, data=data)
                except ApplicationError as exc:
                    _add_service_error(form, exc)
                    # The service set the refused values on the tenant row: reload it so the
                    # rest of this request sees what is stored.
                    organization.refresh_from_db()
                else:
                    self.message_user(request, "Settings saved.", messages.SUCCESS)
                    return HttpResponseRedirect(request.path)
        else:
            form = OrganizationSettingsForm.for_organization(organization)
        if not self.has_change_permission(request):
            for field in form.fields.values():
                field.disabled = True
        context = self._context(
            request, title="Organization settings", tab="settings", form=form, timezones=_TIMEZONES
        )
        return TemplateResponse(request, "admin/organizations/console/settings.html", context)

    def members_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return self._members_page(request, invite_form=InviteForm())

    def _members_page(self, request: HttpRequest, *, invite_form: InviteForm) -> HttpResponse:
        organization = current_tenant()
        memberships = selectors.membership_list(organization=organization).order_by("user__email")
        context = self._context(
            request,
            title="Members",
            tab="members",
            memberships=memberships,
            invitations=selectors.invitation_list_pending(organization=organization),
            invite_form=invite_form,
            roles=Role.choices,
            me=request.user.pk,
        )
        return TemplateResponse(request, "admin/organizations/console/members.html", context)

    # --- actions (POST, owners) --------------------------------------------------------------

    def _back_to_members(self) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:organizations_console_members"))

    def member_role_view(self, request: HttpRequest, membership_id: int) -> HttpResponse:
        self._require_change(request)
        try:
            membership = selectors.membership_get(
                organization=current_tenant(), membership_id=membership_id
            )
            services.member_update(membership=membership, role=request.POST.get("role", ""))
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(
                request,
                f"{membership.user.email} is now {membership.get_role_display().lower()}.",
                messages.SUCCESS,
            )
        return self._back_to_members()

    def member_remove_view(self, request: HttpRequest, membership_id: int) -> HttpResponse:
        self._require_change(request)
        try:
            membership = selectors.membership_get(
                organization=current_tenant(), membership_id=membership_id
            )
            email = membership.user.email
            services.member_remove(membership=membership)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(request, f"{email} was removed.", messages.SUCCESS)
        return self._back_to_members()

    def invite_view(self, request: HttpRequest) -> HttpResponse:
        self._require_change(request)
        form = InviteForm(request.POST)
        if not form.is_valid():
            return self._members_page(request, invite_form=form)
        organization = current_tenant()
        email, role = form.cleaned_data["email"], form.cleaned_data["role"]
        try:
            # As the API's "add a member": someone with an account joins at once, anyone
            # else is emailed an invitation, so they prove they own the address.
            existing = selectors.user_get_by_email(email=email)
            if existing is not None:
                services.member_add(organization=organization, user=existing, role=role)
                message = f"{existing.email} joined as {role}."
            else:
                invitation, _token = services.invitation_create(
                    organization=organization,
                    email=email,
                    role=role,
                    invited_by=request_user(request),
                )
                message = f"Invitation sent to {invitation.email} ({role})."
        except ApplicationError as exc:
            _add_service_error(form, exc)
            return self._members_page(request, invite_form=form)
        self.message_user(request, message, messages.SUCCESS)
        return self._back_to_members()

    def invitation_revoke_view(self, request: HttpRequest, invitation_id: int) -> HttpResponse:
        self._require_change(request)
        try:
            invitation = selectors.invitation_get(
                organization=current_tenant(), invitation_id=invitation_id
            )
            services.invitation_revoke(invitation=invitation)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(
                request, f"The invitation of {invitation.email} was revoked.", messages.SUCCESS
            )
        return self._back_to_members()

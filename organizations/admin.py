"""Admin for tenancy and identity.

On the main host (platform_admin) superusers manage every organization and user. On an
organization's domain (the default site) owners manage that organization's members and admins
its API keys; nothing of other organizations is listed."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from unfold.admin import ModelAdmin, TabularInline
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

import organizations.admin_console  # noqa: F401  (the organization's settings, members, invitations)
from organizations import selectors, services
from organizations.actors import request_user
from organizations.admin_mixins import RoleAdminMixin, ServiceErrorAdminMixin
from organizations.admin_site import platform_admin
from organizations.models import (
    ApiKey,
    AuditEvent,
    Domain,
    Invitation,
    Membership,
    Organization,
    Role,
    User,
)
from voiceagents.exceptions import ApplicationError
from voiceagents.tenancy import current_tenant

# --- platform admin (public schema, superusers) ------------------------------------------------


class DomainInline(TabularInline):
    model = Domain
    extra = 0


class MembershipInline(TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization, site=platform_admin)
class OrganizationAdmin(ServiceErrorAdminMixin, ModelAdmin):
    list_display = ["name", "slug", "schema_name", "industry", "timezone", "created_at"]
    search_fields = ["name", "slug", "schema_name"]
    list_filter = ["industry"]
    readonly_fields = ["schema_name", "created_at", "updated_at"]
    inlines = [DomainInline, MembershipInline]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "slug"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        # New organizations go through the service: schema, domain and rows in one transaction.
        created = services.organization_create(
            name=obj.name,
            slug=obj.slug or None,
            industry=obj.industry,
            timezone_name=obj.timezone,
        )
        obj.pk = created.pk
        obj.schema_name = created.schema_name
        obj._state.adding = False

    def save_formset(self, request, form, formset, change):
        # The service already made the primary domain; skip an empty inline row for it.
        super().save_formset(request, form, formset, change)

    def has_delete_permission(self, request, obj=None) -> bool:
        return obj is None or not obj.is_public


@admin.register(User, site=platform_admin)
class UserAdmin(ServiceErrorAdminMixin, DjangoUserAdmin, ModelAdmin):
    # The theme's widgets on the user forms.
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    ordering = ["email"]
    list_display = ["email", "full_name", "is_superuser", "is_active", "date_joined"]
    search_fields = ["email", "full_name"]
    list_filter = ["is_superuser", "is_active"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name", "external_id")}),
        ("Platform rights", {"fields": ("is_active", "is_staff", "is_superuser")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    filter_horizontal = ()
    inlines = [MembershipInline]


@admin.register(ApiKey, site=platform_admin)
class PlatformApiKeyAdmin(ServiceErrorAdminMixin, ModelAdmin):
    list_display = [
        "name",
        "prefix",
        "organization",
        "role",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["role", "organization"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "key_hash", "created_at", "last_used_at", "created_by"]

    def has_add_permission(self, request) -> bool:
        return False  # keys are created where their secret can be shown once: API or org admin


@admin.register(Invitation, site=platform_admin)
class PlatformInvitationAdmin(ServiceErrorAdminMixin, ModelAdmin):
    list_display = ["email", "organization", "role", "created_at", "expires_at", "accepted_at"]
    list_filter = ["organization", "role"]
    readonly_fields = ["token_hash"]


# --- tenant admin (an organization's own domain) -----------------------------------------------


class CurrentOrganizationMixin(RoleAdminMixin, ModelAdmin):
    """Rows of the public schema filtered to the organization whose domain we are on."""

    def get_queryset(self, request):
        return super().get_queryset(request).filter(organization_id=current_tenant().pk)


@admin.register(Membership)
class MembershipAdmin(CurrentOrganizationMixin, ModelAdmin):
    change_role = Role.OWNER
    list_display = ["user", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "user__full_name"]
    fields = ["user_email", "role"]
    readonly_fields = ["user_email"]

    @admin.display(description="User")
    def user_email(self, obj):
        return obj.user.email if obj and obj.pk else "-"

    def has_add_permission(self, request, *args) -> bool:
        return False  # people join by invitation (API) so they prove they own the address

    def save_model(self, request, obj, form, change):
        # The form has already written the new role onto ``obj``: the service compares it with
        # the stored row (is an owner stepping down?). Its refusals are shown on the form
        # (ServiceErrorAdminMixin), the role unchanged.
        stored = selectors.membership_get(organization=current_tenant(), membership_id=obj.pk)
        services.member_update(membership=stored, role=form.cleaned_data["role"])

    def delete_model(self, request, obj):
        try:
            services.member_remove(membership=obj)
        except ApplicationError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)


@admin.register(ApiKey)
class ApiKeyAdmin(CurrentOrganizationMixin, ModelAdmin):
    list_display = [
        "name",
        "prefix",
        "role",
        "created_by",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["role"]
    search_fields = ["name", "prefix"]
    fields = ["name", "role", "expires_at", "prefix", "created_by", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_by", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "role", "expires_at"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        key, raw = services.api_key_create(
            organization=current_tenant(),
            name=obj.name,
            role=obj.role,
            created_by=request_user(request),
            expires_at=obj.expires_at,
        )
        obj.pk = key.pk
        obj._state.adding = False
        self.message_user(
            request,
            f"API key created. Copy it now, it will not be shown again: {raw}",
            level=messages.WARNING,
        )

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead, so the audit trail keeps the key

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        for key in queryset:
            services.api_key_revoke(api_key=key)
        self.message_user(request, f"{queryset.count()} key(s) revoked.")


class _AuditEventReadOnly(ModelAdmin):
    """Audit events are written by services only; nobody adds, edits or deletes them."""

    list_display = ["created_at", "action", "target_type", "target_id", "actor", "api_key"]
    list_filter = ["action", "target_type"]
    search_fields = ["action", "target_id", "actor__email"]
    readonly_fields = [
        "created_at",
        "action",
        "target_type",
        "target_id",
        "actor",
        "api_key",
        "data",
    ]
    fields = tuple(readonly_fields)

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(_AuditEventReadOnly, CurrentOrganizationMixin):
    view_role = Role.ADMIN


@admin.register(AuditEvent, site=platform_admin)
class PlatformAuditEventAdmin(ServiceErrorAdminMixin, _AuditEventReadOnly):
    list_display = ["created_at", "organization", "action", "target_type", "target_id", "actor"]
    list_filter = ["action", "organization"]

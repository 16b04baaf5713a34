"""Admin sites.

- ``platform_admin`` on the main host: superusers manage organizations and users.
- The default admin site on each organization's own domain: members of that organization see
  its data, with rights from their role (organizations.admin_mixins). Tenant tables do not
  exist in the public schema, so tenant models are only registered on the tenant site.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.db import connection
from unfold.sites import UnfoldAdminSite

from organizations.exceptions import OrganizationsErrorCode
from organizations.models import Membership, Role
from organizations.selectors import organization_admin_urls


def membership_role(user, tenant=None) -> str | None:
    """The user's role in the organization whose schema is active (None when not a member).
    Cached on the user object for the request."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    tenant = tenant if tenant is not None else getattr(connection, "tenant", None)
    if tenant is None or getattr(tenant, "schema_name", "public") == "public":
        return None
    cache = user.__dict__.setdefault("_role_cache", {})
    if tenant.pk not in cache:
        if user.is_superuser:
            cache[tenant.pk] = Role.OWNER
        else:
            cache[tenant.pk] = (
                Membership.objects.filter(user=user, organization_id=tenant.pk)
                .values_list("role", flat=True)
                .first()
            )
    return cache[tenant.pk]


class TenantAdminAuthenticationForm(AdminAuthenticationForm):
    """Admin login on an organization's domain is granted by membership, not is_staff."""

    def confirm_login_allowed(self, user) -> None:
        if not user.is_active or membership_role(user) is None:
            raise forms.ValidationError(
                "This account is not a member of this organization. "
                "Log in at your own organization's address.",
                code=OrganizationsErrorCode.INVALID_LOGIN,
            )


class PlatformAdminAuthenticationForm(AdminAuthenticationForm):
    """The main host's admin is for platform operators (superusers). Someone who signs in here
    with a valid password but is not one is told so, and where to sign in instead, rather
    than that the password is wrong."""

    def confirm_login_allowed(self, user) -> None:
        AuthenticationForm.confirm_login_allowed(self, user)  # inactive accounts
        if not user.is_superuser:
            raise forms.ValidationError(
                "This account is not a platform administrator; organization members sign in "
                f"at their organization's domain: {self._admin_addresses(user)}.",
                code=OrganizationsErrorCode.NOT_PLATFORM_ADMIN,
            )

    def _admin_addresses(self, user) -> str:
        # The user has just proved their password: naming their organizations is fine.
        urls = organization_admin_urls(user=user)
        return ", ".join(urls) if urls else f"<organization>.{settings.BASE_DOMAIN}/admin/"


def _organization(request):
    tenant = getattr(request, "tenant", None)
    return None if tenant is None or tenant.is_public else tenant


def console_site_header(request) -> str:
    """The header of the console (settings.UNFOLD): the organization's name on its own domain."""
    organization = _organization(request)
    return organization.name if organization is not None else "voiceagents"


def console_site_title(request) -> str:
    """The browser tab's title suffix (settings.UNFOLD)."""
    organization = _organization(request)
    return f"{organization.name} · voiceagents" if organization is not None else "voiceagents"


class TenantAdminSite(UnfoldAdminSite):
    site_header = "voiceagents"
    site_title = "voiceagents"
    index_title = "Organization administration"
    login_form = TenantAdminAuthenticationForm

    def has_permission(self, request) -> bool:
        return membership_role(request.user) is not None


class PlatformAdminSite(UnfoldAdminSite):
    settings_name = "UNFOLD_PLATFORM"  # its own look: no organization, no product areas
    site_header = "voiceagents platform"
    site_title = "voiceagents platform"
    index_title = "Platform administration"
    login_form = PlatformAdminAuthenticationForm

    def has_permission(self, request) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)


platform_admin = PlatformAdminSite(name="platform_admin")

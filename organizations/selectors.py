"""Reads for organizations. ``*_get`` loaders return the same error for "missing" and "not
yours", so an id cannot be used to probe another organization."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from organizations.exceptions import (
    ApiKeyNotFound,
    InvitationInvalid,
    MemberNotFound,
    OrganizationNotFound,
)
from organizations.models import (
    ApiKey,
    AuditEvent,
    Domain,
    Invitation,
    Membership,
    Organization,
    User,
)


def organization_get(*, organization_id: int | str, visible_to: Organization) -> Organization:
    """The organization, if it is the one the request acts on."""
    if str(organization_id) != str(visible_to.pk):
        raise OrganizationNotFound()
    return visible_to


def organization_list_for_user(*, user: User) -> QuerySet[Organization]:
    return Organization.objects.filter(memberships__user_id=user.pk).exclude(schema_name="public")


def membership_list(*, organization: Organization) -> QuerySet[Membership]:
    return Membership.objects.filter(organization=organization).select_related("user")


def membership_get(*, organization: Organization, membership_id: int | str) -> Membership:
    membership = membership_list(organization=organization).filter(pk=membership_id).first()
    if membership is None:
        raise MemberNotFound()
    return membership


def api_key_list(*, organization: Organization) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(organization=organization).select_related("created_by")


def api_key_get(*, organization: Organization, api_key_id: int | str) -> ApiKey:
    key = api_key_list(organization=organization).filter(pk=api_key_id).first()
    if key is None:
        raise ApiKeyNotFound()
    return key


def audit_event_list(*, organization: Organization) -> QuerySet[AuditEvent]:
    """The organization's audit trail, newest first."""
    return AuditEvent.objects.filter(organization=organization).select_related("actor", "api_key")


def invitation_list_pending(*, organization: Organization) -> QuerySet[Invitation]:
    """The organization's invitations that can still be accepted, newest first."""
    return (
        Invitation.objects.filter(
            organization=organization, accepted_at__isnull=True, expires_at__gt=timezone.now()
        )
        .select_related("invited_by")
        .order_by("-created_at")
    )


def invitation_get(*, organization: Organization, invitation_id: int | str) -> Invitation:
    """One of the organization's pending invitations (another organization's answers as an
    unknown one)."""
    invitation = invitation_list_pending(organization=organization).filter(pk=invitation_id).first()
    if invitation is None:
        raise InvitationInvalid()
    return invitation


def invitation_get_pending(*, token_hash: str) -> Invitation:
    """The invitation with this token hash (``services.invitation_hash``), with what its page
    shows, if it can still be accepted; InvitationInvalid otherwise (unknown, used and expired
    look alike)."""
    invitation = (
        Invitation.objects.select_related("organization", "invited_by")
        .filter(token_hash=token_hash)
        .first()
    )
    if invitation is None or not invitation.is_pending:
        raise InvitationInvalid()
    return invitation


def user_get_by_email(*, email: str) -> User | None:
    return User.objects.filter(email__iexact=email).first()


def organization_admin_urls(*, user: User, limit: int = 3) -> list[str]:
    """Where the user signs in to their organizations' admin: each organization's primary
    domain, with PUBLIC_BASE_URL's scheme and port (the domains are served alike)."""
    base = urlsplit(settings.PUBLIC_BASE_URL)
    port = f":{base.port}" if base.port else ""
    domains = Domain.objects.filter(tenant__memberships__user=user, is_primary=True)
    return [
        f"{base.scheme}://{domain}{port}/admin/"
        for domain in domains.order_by("domain").values_list("domain", flat=True)[:limit]
    ]

"""Writes for organizations, members, invitations and API keys (the product's
OrganizationService: organization_create, organization_update, member_add, ...)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping
from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from organizations.exceptions import (
    InvitationInvalid,
    LastOwner,
    SlugTaken,
)
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
from voiceagents.exceptions import ValidationFailed
from voiceagents.phone import to_e164

logger = structlog.get_logger(__name__)

ORGANIZATION_SETTINGS_FIELDS = (
    "name",
    "industry",
    "timezone",
    "default_caller_id",
    "max_concurrent_calls",
    "default_region",
    "calling_window_start",
    "calling_window_end",
)
_RESERVED_SLUGS = {"public", "www", "admin", "api", "static", "media", "pg", "information-schema"}


def schema_name_for(slug: str) -> str:
    # A prefix keeps tenant schemas apart from PostgreSQL's and ours (public, pg_*).
    return "org_" + slug.replace("-", "_")


def domain_for(slug: str) -> str:
    return f"{slug}.{settings.BASE_DOMAIN}"


def _validation_error(exc: ValidationError) -> ValidationFailed:
    fields = getattr(exc, "message_dict", None) or {"non_field_errors": exc.messages}
    return ValidationFailed(
        "Some fields are not valid: " + ", ".join(sorted(fields)) + ".",
        details={"fields": fields},
    )


def _unique_slug(name: str) -> str:
    base = slugify(name)[:40].strip("-") or "org"
    if base in _RESERVED_SLUGS:
        base = f"{base}-org"
    slug, n = base, 2
    while Organization.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def organization_create(
    *,
    name: str,
    slug: str | None = None,
    industry: str = "",
    timezone_name: str = "UTC",
    owner: User | None = None,
    **settings_fields: Any,
) -> Organization:
    """Create the organization, its schema (migrated), its domain and the owner's membership.

    Everything happens in one transaction: PostgreSQL DDL is transactional, so if any step
    fails (a migration, a taken domain, the membership) the schema is rolled back together
    with the rows and nothing half-made is left behind.
    """
    if slug is None:
        slug = _unique_slug(name)
    elif slug in _RESERVED_SLUGS:
        raise ValidationFailed(details={"fields": {"slug": [f"'{slug}' is reserved."]}})
    if Organization.objects.filter(slug=slug).exists():
        raise SlugTaken(details={"slug": slug})

    org = Organization(
        name=name,
        slug=slug,
        industry=industry,
        timezone=timezone_name,
        schema_name=schema_name_for(slug),
        **_settings_normalised(settings_fields),
    )
    try:
        org.full_clean()
    except ValidationError as exc:
        raise _validation_error(exc) from exc

    try:
        with transaction.atomic():
            org.save(verbosity=0)
            Domain.objects.create(domain=domain_for(slug), tenant=org, is_primary=True)
            if owner is not None:
                Membership.objects.create(user=owner, organization=org, role=Role.OWNER)
    except IntegrityError as exc:
        raise SlugTaken(
            "The organization's slug or domain is already in use; choose another slug.",
            details={"slug": slug},
        ) from exc
    logger.info("organization_created", organization=org.schema_name, slug=slug)
    return org


def _settings_normalised(data: dict[str, Any]) -> dict[str, Any]:
    """Settings as stored: the default caller id in E.164 when it is a valid number (an invalid
    one is left for the model's validator to name)."""
    caller_id = data.get("default_caller_id")
    if caller_id and (number := to_e164(caller_id)) is not None:
        return {**data, "default_caller_id": number}
    return data


def organization_update(*, organization: Organization, data: dict[str, Any]) -> Organization:
    unknown = set(data) - set(ORGANIZATION_SETTINGS_FIELDS)
    if unknown:
        raise ValidationFailed(
            details={"fields": {field: ["This field cannot be changed."] for field in unknown}}
        )
    for field, value in _settings_normalised(data).items():
        setattr(organization, field, value)
    try:
        organization.full_clean(exclude=["schema_name", "slug"])
    except ValidationError as exc:
        raise _validation_error(exc) from exc
    organization.save(update_fields=[*data.keys(), "updated_at"])
    return organization


# --- members -------------------------------------------------------------------------------------


def member_add(*, organization: Organization, user: User, role: str = Role.MEMBER) -> Membership:
    if role not in Role.values:
        raise ValidationFailed(details={"fields": {"role": [f"Choose one of {Role.values}."]}})
    membership, created = Membership.objects.get_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    if not created and membership.role != role:
        membership = member_update(membership=membership, role=role)
    _sync_staff_flag(user)
    return membership


def _owner_count(organization: Organization) -> int:
    return Membership.objects.filter(organization=organization, role=Role.OWNER).count()


@transaction.atomic
def member_update(*, membership: Membership, role: str) -> Membership:
    if role not in Role.values:
        raise ValidationFailed(details={"fields": {"role": [f"Choose one of {Role.values}."]}})
    # Lock the organization's memberships so two concurrent demotions cannot both pass the
    # last-owner check.
    list(Membership.objects.select_for_update().filter(organization=membership.organization))
    demoting_owner = membership.role == Role.OWNER and role != Role.OWNER
    if demoting_owner and _owner_count(membership.organization) <= 1:
        raise LastOwner()
    membership.role = role
    membership.save(update_fields=["role"])
    _sync_staff_flag(membership.user)
    return membership


@transaction.atomic
def member_remove(*, membership: Membership) -> None:
    list(Membership.objects.select_for_update().filter(organization=membership.organization))
    if membership.role == Role.OWNER and _owner_count(membership.organization) <= 1:
        raise LastOwner()
    user = membership.user
    membership.delete()
    _sync_staff_flag(user)


def _sync_staff_flag(user: User) -> None:
    """Admin login is granted by an admin or owner role in some organization."""
    is_staff = (
        user.is_superuser
        or Membership.objects.filter(user=user, role__in=[Role.ADMIN, Role.OWNER]).exists()
    )
    if user.is_staff != is_staff:
        user.is_staff = is_staff
        user.save(update_fields=["is_staff"])


def user_get_or_create(*, email: str, full_name: str = "", external_id: str = "") -> User:
    email = email.strip().lower()
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(email=email, full_name=full_name, external_id=external_id)
    elif external_id and not user.external_id:
        user.external_id = external_id
        user.save(update_fields=["external_id"])
    return user


# --- invitations ---------------------------------------------------------------------------------


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def invitation_create(
    *, organization: Organization, email: str, role: str, invited_by: User | None
) -> tuple[Invitation, str]:
    """Create an invitation and email its link; returns the invitation and the raw token."""
    if role not in Role.values:
        raise ValidationFailed(details={"fields": {"role": [f"Choose one of {Role.values}."]}})
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        organization=organization,
        email=email.strip().lower(),
        role=role,
        token_hash=_hash_secret(token),
        invited_by=invited_by,
        expires_at=timezone.now() + dt.timedelta(hours=settings.INVITATION_TTL_HOURS),
    )
    # The page (organizations.views) shows the invitation and accepts it; API clients post the
    # same token to /api/v1/invitations/accept/.
    link = f"{settings.PUBLIC_BASE_URL}/invitations/accept/?token={token}"
    inviter = f" by {invited_by.full_name or invited_by.email}" if invited_by else ""
    transaction.on_commit(
        lambda: send_mail(
            subject=f"You are invited to {organization.name} on voiceagents",
            message=(
                f"You have been invited{inviter} to join {organization.name} as {role}.\n\n"
                f"Accept the invitation (valid {settings.INVITATION_TTL_HOURS} hours):\n{link}\n\n"
                "The page lets you sign in, or choose a password if you have no account yet. "
                "Through the API, POST the token in this link to /api/v1/invitations/accept/ "
                'as {"token": "..."}, with your own credential.\n'
            ),
            from_email=None,
            recipient_list=[invitation.email],
        )
    )
    return invitation, token


def invitation_revoke(*, invitation: Invitation) -> None:
    """Withdraw a pending invitation: its link stops working (the row is deleted, so its token
    is unknown from now on). An accepted one is history and stays."""
    if invitation.accepted_at is None:
        invitation.delete()


def invitation_hash(token: str) -> str:
    """How an invitation's token is stored (and looked up)."""
    return _hash_secret(token)


@transaction.atomic
def invitation_accept(*, token: str, user: User) -> Membership:
    invitation = (
        Invitation.objects.select_for_update()
        .select_related("organization")
        .filter(token_hash=_hash_secret(token))
        .first()
    )
    if invitation is None or not invitation.is_pending:
        raise InvitationInvalid()
    if invitation.email != user.email.lower():
        raise InvitationInvalid("This invitation was sent to another email address.")
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    return member_add(organization=invitation.organization, user=user, role=invitation.role)


@transaction.atomic
def invitation_accept_new_user(*, token: str, password: str, full_name: str = "") -> Membership:
    """Someone without an account accepts: their account is created for the invited address,
    with this password (already checked against the password validators by the caller), and
    joins the organization."""
    invitation = (
        Invitation.objects.select_for_update().filter(token_hash=_hash_secret(token)).first()
    )
    if invitation is None or not invitation.is_pending:
        raise InvitationInvalid()
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise InvitationInvalid(
            "An account with this email address already exists: sign in to accept."
        )
    user = User.objects.create_user(
        email=invitation.email, password=password, full_name=full_name.strip()
    )
    return invitation_accept(token=token, user=user)


# --- API keys ------------------------------------------------------------------------------------


def api_key_create(
    *,
    organization: Organization,
    name: str,
    role: str = Role.MEMBER,
    created_by: User | None = None,
    expires_at: dt.datetime | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; the raw secret is returned once and only its hash is stored."""
    if role not in Role.values:
        raise ValidationFailed(details={"fields": {"role": [f"Choose one of {Role.values}."]}})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed(details={"fields": {"expires_at": ["Must be in the future."]}})
    raw = settings.API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        organization=organization,
        name=name,
        prefix=raw[: len(settings.API_KEY_PREFIX) + 6],
        key_hash=_hash_secret(raw),
        role=role,
        created_by=created_by,
        expires_at=expires_at,
    )
    return key, raw


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def api_key_hash(raw: str) -> str:
    return _hash_secret(raw)


# --- audit events --------------------------------------------------------------------------------


def audit_record(
    *,
    organization: Organization,
    action: str,
    target_type: str = "",
    target_id: object = "",
    actor: User | None = None,
    api_key: ApiKey | None = None,
    data: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Record one change in ``organization`` (call it inside the change's transaction, so
    both commit or neither). ``data`` says what changed and must never hold a secret."""
    return AuditEvent.objects.create(
        organization=organization,
        actor=actor,
        api_key=api_key,
        action=action,
        target_type=target_type,
        target_id="" if target_id in (None, "") else str(target_id),
        data=dict(data or {}),
    )

"""Tenancy and identity, all in the public schema: organizations (each with its own schema),
their domains, users, memberships with roles, invitations and API keys."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import ClassVar

import phonenumbers
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone as dj_timezone
from django_tenants.models import DomainMixin, TenantMixin
from django_tenants.utils import get_public_schema_name

from voiceagents.phone import validate_e164


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            f"{value!r} is not an IANA time zone name (for example Europe/Berlin)."
        )


def validate_region(value: str) -> None:
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(
            f"{value!r} is not a region code phone numbers are known for: use an ISO 3166 "
            "alpha-2 code in capitals (US, GB, DE...)."
        )


class Role(models.TextChoices):
    """Ordered from least to most powerful; each role can do everything the previous can."""

    VIEWER = "viewer", "Viewer"
    MEMBER = "member", "Member"
    ADMIN = "admin", "Admin"
    OWNER = "owner", "Owner"

    @classmethod
    def rank(cls, role: str) -> int:
        ranking: list[str] = [cls.VIEWER, cls.MEMBER, cls.ADMIN, cls.OWNER]
        return ranking.index(role)

    @classmethod
    def at_least(cls, role: str, minimum: str) -> bool:
        return cls.rank(role) >= cls.rank(minimum)


class Organization(TenantMixin):
    """A tenant: a company building phone agents. Its product data lives in the PostgreSQL
    schema named ``schema_name``; this row and its members live in the public schema."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=63, unique=True)
    industry = models.CharField(max_length=100, blank=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    default_caller_id = models.CharField(
        max_length=20,
        blank=True,
        validators=[validate_e164],
        help_text="E.164 number outbound calls use by default.",
    )
    max_concurrent_calls = models.PositiveIntegerField(default=10)
    default_region = models.CharField(
        max_length=2,
        default="US",
        validators=[validate_region],
        help_text="ISO 3166 alpha-2 region numbers written without a country code are read in.",
    )
    calling_window_start = models.TimeField(default=dt.time(9, 0))
    calling_window_end = models.TimeField(default=dt.time(21, 0))
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    # The org service creates the schema inside the same transaction as the rows, so a failure
    # anywhere leaves nothing behind (PostgreSQL DDL is transactional).
    auto_create_schema = True
    auto_drop_schema = True

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_public(self) -> bool:
        return self.schema_name == get_public_schema_name()


class Domain(DomainMixin):
    """A hostname that selects an organization (``acme.localhost``)."""


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    """A person. Email is the login; one person may belong to several organizations.
    ``is_superuser`` marks platform operators; organization rights come from memberships."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    # Supabase's user id (the JWT ``sub``), so a renamed email still maps to the same person.
    external_id = models.CharField(max_length=64, blank=True, db_index=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False, help_text="May log in to the admin (granted with an admin role)."
    )
    date_joined = models.DateTimeField(default=dj_timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email


class Membership(models.Model):
    """A user's role in one organization."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization", "user__email"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="uniq_membership")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization} ({self.role})"


class Invitation(models.Model):
    """An emailed invitation to join an organization; only the token's hash is stored."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"invitation of {self.email} to {self.organization}"

    @property
    def is_expired(self) -> bool:
        return dj_timezone.now() >= self.expires_at

    @property
    def is_pending(self) -> bool:
        """Neither accepted nor expired: it can still be accepted."""
        return self.accepted_at is None and not self.is_expired


class ApiKey(models.Model):
    """A secret for integrators. Lives in the public schema so that one indexed lookup of its
    hash finds the organization it belongs to, whatever host the request came to."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=24, help_text="The visible start of the key.")
    key_hash = models.CharField(max_length=64, unique=True)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        now = dj_timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class PhoneNumberClaim(models.Model):
    """Which organization owns a phone number, across all of them: the public index that lets
    one carrier webhook URL serve every organization, and makes a number belong to one only.
    Written by ``calls.services`` in the same transaction as the tenant's PhoneNumber."""

    number = models.CharField(max_length=20, unique=True, help_text="E.164.")
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="phone_number_claims"
    )
    provider = models.CharField(max_length=10)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"{self.number} → {self.organization}"


class AuditEvent(models.Model):
    """Who changed what in an organization's settings and secrets, written explicitly by the
    service that made the change (``organizations.services.audit_record``), never by signals.
    ``data`` describes the change and never holds a secret. Rows are never changed."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="audit_events"
    )
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=64, help_text="e.g. credential.created")
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="audit_org_time"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id}"


class ScheduleIndexEntry(models.Model):
    """When each organization's schedule next needs the dispatcher, across all of them: the
    public index that lets one indexed query per tick find every due schedule, never a loop
    over the tenant schemas. One row per schedule (``schedule_id`` is the tenant row's id in
    ``schema_name``); written by ``calls.services`` in the same transaction as the tenant's
    schedule, and claimed by the dispatcher with ``FOR UPDATE SKIP LOCKED``."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="schedule_index_entries"
    )
    schema_name = models.CharField(max_length=63)
    schedule_id = models.BigIntegerField()
    next_run_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["next_run_at"]
        verbose_name = "schedule index entry"
        verbose_name_plural = "schedule index"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "schedule_id"], name="uniq_schedule_index_entry"
            )
        ]
        indexes = [
            # The dispatcher's one query: due active entries, oldest first.
            models.Index(
                fields=["next_run_at"],
                name="schedule_index_due",
                condition=models.Q(active=True, next_run_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.schema_name}:{self.schedule_id} at {self.next_run_at}"

"""Writes of the organization's provider credentials (each change an audit event), their
verification, the throttled last-use hint, and re-encryption of every stored secret.

The plain secret enters here (create, update), is encrypted by the model field before it
reaches the database, and leaves only through ``integrations.selectors.credential_resolve``
into a client being built. No message, log line or audit event holds it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from django.apps import apps
from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, get_tenant_model, schema_context

from integrations.exceptions import CredentialKindTaken, CredentialUnreadable
from integrations.kinds import KINDS, kind_spec
from integrations.models import ProviderCredential, VerificationStatus
from integrations.selectors import CredentialSource, ResolvedCredential
from integrations.verification import VerificationResult, credential_check
from organizations.models import ApiKey, Organization, User
from organizations.services import audit_record
from voiceagents import secrets
from voiceagents.exceptions import ValidationFailed

__all__ = [
    "LAST_USED_RESOLUTION",
    "ReencryptReport",
    "credential_clean",
    "credential_create",
    "credential_delete",
    "credential_update",
    "credential_use_record",
    "credential_verify",
    "secrets_reencrypt",
]

logger = structlog.get_logger(__name__)

# last_used_at is a hint, not an audit log (as for API keys): written at most once a minute
# per credential, so a busy organization does not turn every webhook into a write.
LAST_USED_RESOLUTION = dt.timedelta(seconds=60)
SECRET_MAX_LENGTH = 1000
AUDIT_TARGET = "provider_credential"


def _organization() -> Organization:
    """The organization whose schema is active (tenant_context, the API, the tenant admin)."""
    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Organization):
        return tenant
    schema: str = getattr(connection, "schema_name", get_public_schema_name())
    return Organization.objects.get(schema_name=schema)


def _audit(
    action: str,
    credential: ProviderCredential,
    *,
    actor: User | None,
    api_key: ApiKey | None,
    **data: Any,
) -> None:
    audit_record(
        organization=_organization(),
        action=f"credential.{action}",
        target_type=AUDIT_TARGET,
        target_id=credential.pk,
        actor=actor,
        api_key=api_key,
        data={"kind": credential.kind, "label": credential.label, **data},
    )


# --- validation ------------------------------------------------------------------------------


def _kind_clean(kind: Any) -> str:
    if kind not in KINDS:
        raise ValidationFailed.for_fields({"kind": [f"Choose one of: {', '.join(KINDS)}."]})
    return kind_spec(str(kind)).kind


def _identifiers_clean(kind: str, identifiers: Any) -> dict[str, str]:
    spec = kind_spec(kind)
    if identifiers is None:
        identifiers = {}
    if not isinstance(identifiers, Mapping):
        raise ValidationFailed.for_fields({"identifiers": ["Give an object of names and values."]})
    known = {i.name: i for i in spec.identifiers}
    problems: dict[str, list[str]] = {}
    for name in sorted(set(identifiers) - set(known)):
        takes = ", ".join(known) or "no identifiers"
        problems[f"identifiers.{name}"] = [f"{spec.label} takes {takes}."]
    cleaned: dict[str, str] = {}
    for name, identifier in known.items():
        value = str(identifiers.get(name) or "").strip()
        if not value:
            if identifier.required:
                problems[f"identifiers.{name}"] = [
                    f"{spec.label} needs its {identifier.label} ({name})."
                ]
            continue
        problem = identifier.check(value)
        if problem:
            problems[f"identifiers.{name}"] = [problem]
            continue
        cleaned[name] = value
    if problems:
        raise ValidationFailed.for_fields(problems)
    return cleaned


def _secret_clean(kind: str, secret: Any) -> str:
    spec = kind_spec(kind)
    value = secret.strip() if isinstance(secret, str) else ""
    if not value:
        raise ValidationFailed.for_fields({"secret": [f"Give the {spec.secret_label}."]})
    if len(value) > SECRET_MAX_LENGTH or any(ch.isspace() for ch in value):
        raise ValidationFailed.for_fields(
            {"secret": [f"This is not a {spec.label} {spec.secret_label}."]}
        )
    return value


def _label_clean(label: Any) -> str:
    value = str(label or "").strip()
    if len(value) > 100:
        raise ValidationFailed.for_fields({"label": ["At most 100 characters."]})
    return value


def credential_clean(
    *,
    kind: Any,
    identifiers: Any = None,
    secret: Any = None,
    label: Any = "",
) -> dict[str, Any]:
    """The rules of a credential's input, the same for the API and the admin: ``kind``,
    ``label`` and ``identifiers`` checked and normalized, and ``secret`` too unless it is None
    (an update that keeps it). Raises ValidationFailed naming each field."""
    kind = _kind_clean(kind)
    cleaned: dict[str, Any] = {
        "kind": kind,
        "label": _label_clean(label),
        "identifiers": _identifiers_clean(kind, identifiers),
    }
    if secret is not None:
        cleaned["secret"] = _secret_clean(kind, secret)
    return cleaned


def _secret_set(credential: ProviderCredential, plaintext: str, now: dt.datetime) -> None:
    credential.secret = secrets.Secret.from_plaintext(plaintext)
    credential.secret_last_four = secrets.last_four(plaintext)
    credential.rotated_at = now


def _unverified(credential: ProviderCredential) -> None:
    credential.verification_status = VerificationStatus.UNVERIFIED
    credential.verification_message = ""
    credential.verified_at = None


# --- writes ----------------------------------------------------------------------------------


@transaction.atomic
def credential_create(
    *,
    kind: str,
    secret: str,
    identifiers: Mapping[str, Any] | None = None,
    label: str = "",
    actor: User | None = None,
    api_key: ApiKey | None = None,
) -> ProviderCredential:
    """The organization's own account with ``kind``'s provider (one per kind: a second is
    CredentialKindTaken). From now on its clients use it instead of the platform's."""
    cleaned = credential_clean(kind=kind, identifiers=identifiers, secret=secret or "", label=label)
    kind, cleaned_identifiers = cleaned["kind"], cleaned["identifiers"]
    now = timezone.now()
    credential = ProviderCredential(
        kind=kind,
        label=cleaned["label"],
        identifiers=cleaned_identifiers,
        created_by=actor,
        created_at=now,
    )
    _secret_set(credential, cleaned["secret"], now)
    try:
        with transaction.atomic():
            credential.save()
    except IntegrityError:
        raise CredentialKindTaken(details={"kind": kind}) from None
    _audit("created", credential, actor=actor, api_key=api_key, identifiers=cleaned_identifiers)
    logger.info("credential_created", kind=kind, credential_id=credential.pk)
    return credential


_UPDATABLE = frozenset({"label", "identifiers", "secret"})


@transaction.atomic
def credential_update(
    *,
    credential: ProviderCredential,
    data: Mapping[str, Any],
    actor: User | None = None,
    api_key: ApiKey | None = None,
) -> ProviderCredential:
    """Change the label, the identifiers (all of them: the object replaces the stored one)
    or the secret (a rotation). A new secret or new identifiers make it unverified again."""
    unknown = set(data) - _UPDATABLE
    if unknown:
        raise ValidationFailed.for_fields(
            {name: ["This field cannot be changed."] for name in sorted(unknown)}
        )
    changed: list[str] = []
    if "label" in data:
        label = _label_clean(data["label"])
        if label != credential.label:
            credential.label = label
            changed.append("label")
    if "identifiers" in data:
        identifiers = _identifiers_clean(credential.kind, data["identifiers"])
        if identifiers != credential.identifiers:
            credential.identifiers = identifiers
            changed.append("identifiers")
    if "secret" in data:
        _secret_set(credential, _secret_clean(credential.kind, data["secret"]), timezone.now())
        changed.extend(["secret", "secret_last_four", "rotated_at"])
    if not changed:
        return credential
    if {"identifiers", "secret"} & set(changed):
        _unverified(credential)
        changed.extend(["verification_status", "verification_message", "verified_at"])
    credential.save(update_fields=[*changed, "updated_at"])
    audit_data: dict[str, Any] = {
        "changed": [name for name in changed if name in _UPDATABLE],
    }
    if "identifiers" in changed:
        audit_data["identifiers"] = credential.identifiers
    _audit(
        "rotated" if "secret" in changed else "updated",
        credential,
        actor=actor,
        api_key=api_key,
        **audit_data,
    )
    return credential


@transaction.atomic
def credential_delete(
    *,
    credential: ProviderCredential,
    actor: User | None = None,
    api_key: ApiKey | None = None,
) -> None:
    """Remove the credential; the organization falls back to the platform's account (when
    allowed) or has none for that provider."""
    _audit("deleted", credential, actor=actor, api_key=api_key)
    credential.delete()


def credential_verify(
    *,
    credential: ProviderCredential,
    actor: User | None = None,
    api_key: ApiKey | None = None,
) -> ProviderCredential:
    """One cheap read call to the provider with this credential (integrations.verification);
    the result is stored on it (status, message, time) and audited. The provider is called
    outside any transaction."""
    try:
        plaintext = credential.secret.reveal()
    except secrets.SecretDecryptionFailed:
        raise CredentialUnreadable(
            details={"kind": credential.kind, "credential_id": credential.pk}
        ) from None
    result: VerificationResult = credential_check(
        ResolvedCredential(
            kind=credential.kind,
            identifiers=dict(credential.identifiers),
            secret=plaintext,
            source=CredentialSource.ORGANIZATION,
            credential_id=credential.pk,
        )
    )
    with transaction.atomic():
        credential.verification_status = (
            VerificationStatus.OK if result.ok else VerificationStatus.FAILED
        )
        credential.verification_message = result.message
        credential.verified_at = timezone.now()
        credential.save(
            update_fields=["verification_status", "verification_message", "verified_at"]
        )
        _audit(
            "verified",
            credential,
            actor=actor,
            api_key=api_key,
            ok=result.ok,
            message=result.message,
        )
    logger.info(
        "credential_verified", kind=credential.kind, credential_id=credential.pk, ok=result.ok
    )
    return credential


def credential_use_record(*, resolved: ResolvedCredential) -> None:
    """Note that an organization's credential was just used: ``last_used_at``, at most once a
    minute (one conditional UPDATE, none while the stored time is recent)."""
    if resolved.source != CredentialSource.ORGANIZATION or resolved.credential_id is None:
        return
    now = timezone.now()
    if resolved.last_used_at is not None and now - resolved.last_used_at <= LAST_USED_RESOLUTION:
        return
    ProviderCredential.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION),
        pk=resolved.credential_id,
    ).update(last_used_at=now)


# --- re-encryption ---------------------------------------------------------------------------


@dataclass
class ReencryptReport:
    """Per schema and model (``app_label.Model``): secrets rewritten with the newest key,
    secrets already current, and secrets no configured key decrypts (left as they are)."""

    rotated: dict[tuple[str, str], int] = field(default_factory=dict)
    current: dict[tuple[str, str], int] = field(default_factory=dict)
    unreadable: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def total_rotated(self) -> int:
        return sum(self.rotated.values())

    @property
    def total_unreadable(self) -> int:
        return sum(self.unreadable.values())


def _encrypted_fields() -> list[tuple[type[models.Model], list[secrets.EncryptedSecretField]]]:
    found = []
    for model in apps.get_models():
        fields = [
            f for f in model._meta.concrete_fields if isinstance(f, secrets.EncryptedSecretField)
        ]
        if fields:
            found.append((model, fields))
    return found


def _schemas_holding(model: type[models.Model]) -> Iterator[str]:
    """Activates, in turn, every schema that holds ``model``'s table and yields its name:
    every organization's for a tenant app, public for a shared one. The one place here that
    walks the tenants; the connection is back on its schema after each."""
    public = get_public_schema_name()
    app_config = model._meta.app_config
    if app_config is None or app_config.name not in settings.TENANT_APPS:
        with schema_context(public):
            yield public
        return
    schemas = list(
        get_tenant_model()
        .objects.exclude(schema_name=public)
        .order_by("schema_name")
        .values_list("schema_name", flat=True)
    )
    for schema in schemas:
        with schema_context(schema):
            yield schema


def secrets_reencrypt() -> ReencryptReport:
    """Rewrite every stored secret (every ``EncryptedSecretField`` of every model, in every
    schema that holds its table) with the newest key of SECRETS_ENCRYPTION_KEYS. Safe to run
    again and concurrently with writes: a row is updated only if its ciphertext is still the
    one that was read."""
    report = ReencryptReport()
    for model, fields in _encrypted_fields():
        label = model._meta.label
        names = [f.attname for f in fields]
        for schema in _schemas_holding(model):
            counts = {"rotated": 0, "current": 0, "unreadable": 0}
            for row in model._default_manager.only("pk", *names).iterator():
                for name in names:
                    value = getattr(row, name)
                    if isinstance(value, secrets.Secret) and value:
                        counts[_reencrypt_one(model, row.pk, name, value)] += 1
            key = (schema, label)
            report.rotated[key] = counts["rotated"]
            report.current[key] = counts["current"]
            report.unreadable[key] = counts["unreadable"]
    logger.info(
        "secrets_reencrypted",
        rotated=report.total_rotated,
        unreadable=report.total_unreadable,
    )
    return report


def _reencrypt_one(model: type[models.Model], pk: Any, attname: str, value: secrets.Secret) -> str:
    if secrets.is_current(value.ciphertext):
        return "current"
    try:
        rotated = secrets.reencrypt(value.ciphertext)
    except secrets.SecretDecryptionFailed:
        return "unreadable"
    model._default_manager.filter(pk=pk, **{attname: value}).update(
        **{attname: secrets.Secret(rotated)}
    )
    return "rotated"

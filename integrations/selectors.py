"""Reads of the organization's provider credentials, and the one resolution every client
factory goes through (carriers, realtime sessions, embeddings, verification).

Resolution, in the active schema:
1. the organization's own ``ProviderCredential`` of that kind, if it has one (even when its
   last verification failed: the organization chose it, and a failure says so);
2. otherwise the platform's account from the environment (``TWILIO_ACCOUNT_SID``...), only
   when ``ALLOW_PLATFORM_CREDENTIALS`` is on;
3. otherwise :class:`CredentialMissing` (503), whose message says what to set.
Outside any organization (the public schema: a webhook for a number nobody holds) only the
platform's own account exists, whatever ``ALLOW_PLATFORM_CREDENTIALS`` says: lending it to
organizations is what that setting governs.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django_tenants.utils import get_public_schema_name

from integrations.exceptions import (
    CredentialMissing,
    CredentialNotFound,
    CredentialUnreadable,
    IntegrationsErrorCode,
)
from integrations.kinds import KINDS, kind_spec
from integrations.models import ProviderCredential
from voiceagents.secrets import SecretDecryptionFailed

__all__ = [
    "CREDENTIALS_PATH",
    "ConfigurationWarning",
    "CredentialSource",
    "ResolvedCredential",
    "credential_get",
    "credential_identifier",
    "credential_kinds_usable",
    "credential_list",
    "credential_missing_message",
    "credential_resolve",
    "credential_warnings",
]

# Where an organization adds its credentials (named in error messages).
CREDENTIALS_PATH = "/api/v1/credentials/"


class CredentialSource(enum.StrEnum):
    ORGANIZATION = "organization"
    PLATFORM = "platform"


@dataclass(frozen=True, slots=True)
class ResolvedCredential:
    """A usable account with one provider, in memory only. ``secret`` is the plain auth token
    or API key: pass it to the client being built and nowhere else (it is left out of
    ``repr``, so a log line or a traceback of this object does not show it)."""

    kind: str
    identifiers: Mapping[str, str]
    secret: str = field(repr=False)
    source: CredentialSource
    credential_id: int | None = None  # the ProviderCredential, for an organization's own
    last_used_at: dt.datetime | None = None

    def identifier(self, name: str) -> str:
        return self.identifiers.get(name, "")


def credential_list() -> QuerySet[ProviderCredential]:
    """The organization's credentials (one per kind), by kind."""
    return ProviderCredential.objects.select_related("created_by").order_by("kind")


def credential_get(*, credential_id: int | str) -> ProviderCredential:
    """One credential of the active organization; a missing id and another organization's
    look alike (CredentialNotFound)."""
    try:
        pk = int(credential_id)
    except (TypeError, ValueError):
        raise CredentialNotFound() from None
    credential = credential_list().filter(pk=pk).first()
    if credential is None:
        raise CredentialNotFound()
    return credential


def _in_organization() -> bool:
    public: str = get_public_schema_name()
    schema: str = getattr(connection, "schema_name", public)
    return schema != public


def _platform(kind: str) -> ResolvedCredential | None:
    """The platform's account with ``kind``'s provider from settings, or None if incomplete."""
    spec = kind_spec(kind)
    secret = str(getattr(settings, spec.secret_setting, "") or "")
    identifiers = {i.name: str(getattr(settings, i.setting, "") or "") for i in spec.identifiers}
    if not secret or any(i.required and not identifiers[i.name] for i in spec.identifiers):
        return None
    return ResolvedCredential(
        kind=kind,
        identifiers=MappingProxyType({k: v for k, v in identifiers.items() if v}),
        secret=secret,
        source=CredentialSource.PLATFORM,
    )


def _platform_lent() -> bool:
    return bool(settings.ALLOW_PLATFORM_CREDENTIALS) or not _in_organization()


def credential_missing_message(kind: str) -> str:
    """What to set so that ``kind`` has a usable credential here."""
    spec = kind_spec(kind)
    platform = " and ".join(spec.platform_settings)
    if not _in_organization():
        return f"{spec.label} is not configured on the platform: set {platform}."
    if not settings.ALLOW_PLATFORM_CREDENTIALS:
        return (
            f"This organization has no {spec.label} credential: add one at {CREDENTIALS_PATH} "
            "(this platform does not lend its own accounts)."
        )
    return (
        f"This organization has no {spec.label} credential: add one at {CREDENTIALS_PATH} "
        f"or set {platform} for the platform."
    )


def _missing(kind: str) -> CredentialMissing:
    spec = kind_spec(kind)
    details: dict[str, object] = {"kind": kind, "credentials_url": CREDENTIALS_PATH}
    if _platform_lent():
        details["settings"] = list(spec.platform_settings)
    return CredentialMissing(credential_missing_message(kind), details=details)


def credential_resolve(*, kind: str) -> ResolvedCredential:
    """The credential to use for ``kind`` in the active schema (the order is the module's
    docstring). Raises CredentialMissing when there is none and CredentialUnreadable when the
    organization's own cannot be decrypted. Reads only: callers that then use it record the
    use with ``integrations.services.credential_use_record``."""
    kind_spec(kind)  # an unknown kind is a programming error, not a missing credential
    if _in_organization():
        own = ProviderCredential.objects.filter(kind=kind).first()
        if own is not None:
            try:
                secret = own.secret.reveal()
            except SecretDecryptionFailed:
                raise CredentialUnreadable(
                    details={"kind": kind, "credential_id": own.pk}
                ) from None
            return ResolvedCredential(
                kind=kind,
                identifiers=MappingProxyType({k: str(v) for k, v in own.identifiers.items()}),
                secret=secret,
                source=CredentialSource.ORGANIZATION,
                credential_id=own.pk,
                last_used_at=own.last_used_at,
            )
    platform = _platform(kind) if _platform_lent() else None
    if platform is None:
        raise _missing(kind)
    return platform


def credential_identifier(*, kind: str, name: str) -> str:
    """One identifier of the account ``kind`` uses here, for defaults that belong to an
    account (Hume's EVI config id belongs to the Hume account whose key opens the session):
    the organization's own credential's when it has one, else the platform setting's when
    lent. Empty when there is none. Needs no secret, so it never raises for a missing one."""
    spec = kind_spec(kind)
    identifier = next((i for i in spec.identifiers if i.name == name), None)
    if identifier is None:
        raise ValueError(f"{spec.label} credentials have no identifier {name!r}")
    if _in_organization():
        own = ProviderCredential.objects.filter(kind=kind).values_list("identifiers", flat=True)
        for identifiers in own:
            return str((identifiers or {}).get(name) or "")
    if not _platform_lent():
        return ""
    return str(getattr(settings, identifier.setting, "") or "")


@dataclass(frozen=True, slots=True)
class ConfigurationWarning:
    """Something that stops a resource from working here, shown on its API representation
    and admin page (an agent whose provider has no key, a number whose carrier has none)."""

    code: str
    message: str


def credential_warnings(
    *, kinds: Iterable[str], usable: frozenset[str] | None = None
) -> list[ConfigurationWarning]:
    """A warning for each of ``kinds`` without a usable credential here. Pass ``usable``
    (``credential_kinds_usable()``) when checking many resources, to query once."""
    usable = credential_kinds_usable() if usable is None else usable
    return [
        ConfigurationWarning(
            code=IntegrationsErrorCode.CREDENTIAL_MISSING, message=credential_missing_message(kind)
        )
        for kind in dict.fromkeys(kinds)
        if kind in KINDS and kind not in usable
    ]


def credential_kinds_usable() -> frozenset[str]:
    """The kinds with a usable credential in the active schema, in one query: what API
    representations flag (an agent whose provider is missing here cannot take a call)."""
    kinds: set[str] = set()
    if _in_organization():
        kinds.update(ProviderCredential.objects.values_list("kind", flat=True))
    if _platform_lent():
        kinds.update(kind for kind in KINDS if _platform(kind) is not None)
    return frozenset(kinds)

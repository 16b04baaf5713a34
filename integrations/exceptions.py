"""Errors of the integrations app, and every error code it answers with. Messages never hold
a secret: they name the kind, the identifiers at most, and what to set."""

from __future__ import annotations

from enum import StrEnum

from voiceagents.exceptions import ApplicationError, Conflict, NotFound

__all__ = [
    "CredentialKindTaken",
    "CredentialMissing",
    "CredentialNotFound",
    "CredentialUnreadable",
    "IntegrationsErrorCode",
]


class IntegrationsErrorCode(StrEnum):
    CREDENTIAL_NOT_FOUND = "credential_not_found"
    CREDENTIAL_KIND_TAKEN = "credential_kind_taken"
    CREDENTIAL_MISSING = "credential_missing"
    CREDENTIAL_UNREADABLE = "credential_unreadable"


class CredentialNotFound(NotFound):
    code = IntegrationsErrorCode.CREDENTIAL_NOT_FOUND
    default_message = "Credential not found."


class CredentialKindTaken(Conflict):
    """An organization holds one credential per kind: change it (PATCH) instead."""

    code = IntegrationsErrorCode.CREDENTIAL_KIND_TAKEN
    default_message = "This organization already has a credential of this kind; change it instead."


class CredentialMissing(ApplicationError):
    """Nothing usable for a provider: the organization has no credential of that kind and the
    platform's own account is not configured or not allowed. The message says what to set."""

    code = IntegrationsErrorCode.CREDENTIAL_MISSING
    status = 503
    default_message = "No credential is configured for this provider."


class CredentialUnreadable(ApplicationError):
    """The organization's stored secret cannot be decrypted with the configured keys (a key
    was dropped before ``manage.py secrets_reencrypt`` ran). Never falls back to the platform."""

    code = IntegrationsErrorCode.CREDENTIAL_UNREADABLE
    status = 503
    default_message = (
        "A stored credential cannot be decrypted with the configured SECRETS_ENCRYPTION_KEYS."
    )
